// lmforge: entry point. Parses the command line, runs one subcommand, and turns every
// failure into a single `lmforge: error: ...` line with a non-zero exit status.
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"lmforge: inspect, convert and run LLaMA-family models on your own machine"};
  app.set_version_flag("--version", std::string("lmforge ") + LMFORGE_VERSION);
  app.require_subcommand(1);

  std::vector<std::pair<std::string, lmforge::cli::Action*>> actions;
  actions.emplace_back("inspect", &lmforge::cli::register_inspect(app));
  actions.emplace_back("convert", &lmforge::cli::register_convert(app));
  actions.emplace_back("tokenize", &lmforge::cli::register_tokenize(app));
  actions.emplace_back("run", &lmforge::cli::register_run(app));
  actions.emplace_back("logits", &lmforge::cli::register_logits(app));
  actions.emplace_back("perplexity", &lmforge::cli::register_perplexity(app));
  actions.emplace_back("bench", &lmforge::cli::register_bench(app));
  actions.emplace_back("formats", &lmforge::cli::register_formats(app));
  actions.emplace_back("quantize", &lmforge::cli::register_quantize(app));
  actions.emplace_back("imatrix", &lmforge::cli::register_imatrix(app));
  actions.emplace_back("gptq", &lmforge::cli::register_gptq(app));
  actions.emplace_back("gptq-layer", &lmforge::cli::register_gptq_layer(app));
  actions.emplace_back("embed", &lmforge::cli::register_embed(app));
  actions.emplace_back("index", &lmforge::cli::register_index(app));
  actions.emplace_back("ask", &lmforge::cli::register_ask(app));
  actions.emplace_back("serve", &lmforge::cli::register_serve(app));
  actions.emplace_back("finetune", &lmforge::cli::register_finetune(app));
  actions.emplace_back("train", &lmforge::cli::register_train(app));
  actions.emplace_back("lora-convert", &lmforge::cli::register_lora_convert(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help/version (exit 0) and usage errors itself; every misuse exits 2.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    for (auto& [name, action] : actions) {
      if (app.got_subcommand(name)) return (*action)();
    }
    return 2;
  } catch (const lmforge::UsageError& e) {
    std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    return 2;
  } catch (const lmforge::Error& e) {
    std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "lmforge: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmforge: error: %s\n", e.what());
    return 1;
  }
}
