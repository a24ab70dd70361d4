// `lmforge formats [--json]`: every model file format lmforge knows, what it is, what it
// holds, whether loading it can run code, and what lmforge reads and writes.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "formats/detect/format_catalog.h"

namespace lmforge::cli {

namespace {

int run_formats(bool json) {
  const auto& table = format_catalog();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : table) {
      out.push_back({{"id", f.id}, {"name", f.name}, {"files", f.files}, {"defined_by", f.defined_by},
                     {"structure", f.structure}, {"holds", f.holds}, {"contents", contents_text(f.contents)}, {"executes_code", code_execution_text(f.code)},
                     {"safety", f.code_note}, {"lmforge_reads", f.reads}, {"lmforge_writes", f.writes}});
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("%-20s %-34s %-21s %s\n", "format", "holds", "loading runs code?", "lmforge reads / writes");
  for (const auto& f : table) {
    std::printf("%-20s %-34s %-21s reads:  %s\n", std::string(f.id).c_str(), contents_text(f.contents).c_str(),
                std::string(code_execution_text(f.code)).c_str(), f.reads.empty() ? "no" : std::string(f.reads).c_str());
    std::printf("%-20s %-34s %-21s writes: %s\n", "", "", "", f.writes.empty() ? "no" : std::string(f.writes).c_str());
  }
  std::printf("\nIn detail:\n");
  for (const auto& f : table) {
    std::printf("\n%s (%s)\n", std::string(f.name).c_str(), std::string(f.id).c_str());
    std::printf("  files:       %s\n  defined by:  %s\n  structure:   %s\n  holds:       %s\n", std::string(f.files).c_str(),
                std::string(f.defined_by).c_str(), std::string(f.structure).c_str(), std::string(f.holds).c_str());
    std::printf("  runs code:   %s; %s\n", std::string(code_execution_text(f.code)).c_str(), std::string(f.code_note).c_str());
  }
  std::printf("\nSee docs/formats.md for each format's layout.\n");
  return 0;
}

}  // namespace

Action& register_formats(CLI::App& app) {
  static Action action;
  static bool json = false;
  auto* sub = app.add_subcommand("formats", "List every model file format: what it holds, whether loading it can run code, what lmforge reads and writes");
  sub->add_flag("--json", json, "Print a JSON array");
  action = [] { return run_formats(json); };
  return action;
}

}  // namespace lmforge::cli
