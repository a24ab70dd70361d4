#include "cli/commands.h"
namespace lmforge::cli {
Action& register_convert(CLI::App& app) {
  static Action action;
  app.add_subcommand("convert", "Convert a model to another format");
  action = [] { return 0; };
  return action;
}
}  // namespace lmforge::cli
