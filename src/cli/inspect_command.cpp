#include "cli/commands.h"
namespace lmforge::cli {
Action& register_inspect(CLI::App& app) {
  static Action action;
  app.add_subcommand("inspect", "Describe a model file or folder");
  action = [] { return 0; };
  return action;
}
}  // namespace lmforge::cli
