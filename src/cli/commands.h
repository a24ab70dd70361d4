// Each subcommand lives in its own file and registers itself on the CLI11 app here.
// A registered command stores a callback that main() runs after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace lmforge::cli {

using Action = std::function<int()>;

Action& register_inspect(CLI::App& app);
Action& register_convert(CLI::App& app);
Action& register_tokenize(CLI::App& app);
Action& register_run(CLI::App& app);
Action& register_logits(CLI::App& app);
Action& register_perplexity(CLI::App& app);
Action& register_bench(CLI::App& app);
Action& register_formats(CLI::App& app);
Action& register_quantize(CLI::App& app);
Action& register_imatrix(CLI::App& app);
Action& register_gptq(CLI::App& app);
Action& register_gptq_layer(CLI::App& app);
Action& register_embed(CLI::App& app);
Action& register_index(CLI::App& app);
Action& register_ask(CLI::App& app);
Action& register_serve(CLI::App& app);
Action& register_finetune(CLI::App& app);
Action& register_train(CLI::App& app);
Action& register_lora_convert(CLI::App& app);

}  // namespace lmforge::cli
