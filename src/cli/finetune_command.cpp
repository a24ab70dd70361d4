// `lmforge finetune -m BASE --data FILE -o ADAPTER.gguf [--lora-rank 8] [--lora-alpha 16]
//   [--lora-targets q,k,v,o,gate,up,down] [--ctx 256] [--batch 4] [--grad-accum 1]
//   [--steps N | --epochs E] [--lr 2e-4] [--warmup 0] [--lr-schedule constant|cosine]
//   [--weight-decay 0] [--seed S] [--no-shuffle] [--init-adapter A.gguf] [--peft DIR]
//   [--checkpoint-dir D] [--checkpoint-every K] [--resume] [-t N] [--json]`
//
// LoRA fine-tuning on a frozen base (train/lora_step_trainer.h) through the shared training
// loop (train/training_loop.h): one line per step and a progress bar on stderr, or with --json
// one summary object on stdout. Ctrl-C stops after the current step and writes a checkpoint
// (with --checkpoint-dir) before exiting with status 130; the adapter file is written only when
// the run completes.
//
// Under mpirun (`mpirun -np R lmforge finetune ... --batch b`) the run is data-parallel
// (cli/process_group.h): the global batch is R * b windows, each rank computes b of them, and
// the gradients are summed over the ranks every step, so the result is a one-process run's with
// --batch R * b (to float rounding). Rank 0 alone reads and writes the checkpoint folder (the
// others get its checkpoint through MPI), prints, and writes the adapter; the checkpoint
// records the global batch. SIGUSR1 (which mpirun passes on to the ranks) stops like Ctrl-C.
#include <atomic>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>


#include "cli/commands.h"
#include "cli/model_fingerprint.h"
#include "cli/process_group.h"
#include "cli/training_report.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/lora_adapter.h"
#include "engine/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/lora_step_trainer.h"
#include "train/lora_tensors.h"
#include "train/training_data.h"
#include "train/training_loop.h"

namespace lmforge::cli {

namespace {

struct FinetuneOptions {
  std::string model, data, out, init_adapter, peft_dir, checkpoint_dir, schedule = "constant", targets;
  uint32_t rank = 8, ctx = 256, batch = 4, grad_accum = 1, threads = 0;
  float alpha = 16.0f, lr = 2e-4f;
  double weight_decay = 0.0;
  uint64_t steps = 0, epochs = 1, warmup = 0, seed = 0, checkpoint_every = 0;
  bool no_shuffle = false, resume = false, json = false, low_memory = false;
};

constexpr const char* kDefaultTargets = "q,k,v,o,gate,up,down";

std::atomic<bool> g_stop{false};
extern "C" void on_interrupt(int) { g_stop.store(true); }

std::string targets_text(const LoraAdapter& a) {
  std::string s;
  for (size_t t = 0; t < kLoraTargetCount; ++t) {
    bool any = false;
    for (const auto& layer : a.layers) any = any || layer[t].has_value();
    if (any) s += (s.empty() ? "" : ",") + std::string(lora_target_flag_name(static_cast<LoraTarget>(t)));
  }
  return s;
}

void check_flags(const FinetuneOptions& o, bool steps_given, bool epochs_given) {
  if (steps_given && epochs_given) throw UsageError("finetune: give --steps or --epochs, not both");
  if (steps_given && o.steps == 0) throw UsageError("finetune: --steps must be at least 1");
  if (epochs_given && o.epochs == 0) throw UsageError("finetune: --epochs must be at least 1");
  if (o.ctx < 1 || o.ctx > (1u << 20)) throw UsageError("finetune: --ctx must be between 1 and 1048576");
  if (o.batch < 1 || o.batch > 65536) throw UsageError("finetune: --batch must be between 1 and 65536");
  if (o.grad_accum < 1 || o.grad_accum > 65536) throw UsageError("finetune: --grad-accum must be between 1 and 65536");
  if (!(o.lr > 0.0f) || !std::isfinite(o.lr)) throw UsageError("finetune: --lr must be a positive number");
  if (!(o.weight_decay >= 0.0) || !std::isfinite(o.weight_decay))
    throw UsageError("finetune: --weight-decay must be zero or positive");
  if (!std::isfinite(o.alpha) || o.alpha < 0.0f) throw UsageError("finetune: --lora-alpha must be zero or positive");
  if (o.schedule != "constant" && o.schedule != "cosine")
    throw UsageError("finetune: --lr-schedule must be constant or cosine, got " + o.schedule);
  if (o.threads > 1024) throw UsageError("finetune: -t must be between 1 and 1024");
  if (o.resume && o.checkpoint_dir.empty()) throw UsageError("finetune: --resume needs --checkpoint-dir");
  if (o.checkpoint_every > 0 && o.checkpoint_dir.empty())
    throw UsageError("finetune: --checkpoint-every needs --checkpoint-dir");
}

int run_finetune(const FinetuneOptions& o, bool steps_given, Collective& ranks) {
  const bool root = ranks.is_root();
  const bool talk = root && !o.json;
  // Every rank's windows of one micro-batch together.
  const uint64_t global_batch = uint64_t{o.batch} * static_cast<uint64_t>(ranks.size());
  if (global_batch > 65536)
    throw UsageError("finetune: --batch " + std::to_string(o.batch) + " on " + std::to_string(ranks.size()) +
                     " ranks is more than 65536 windows per micro-batch");

  const LoadedModel loaded = load_model_for_inference(o.model);
  const LlamaModel& model = *loaded.model;
  const Tokenizer& tok = *loaded.tokenizer;
  const int32_t bos = tok.bos_id();
  const TrainingData data =
      load_training_data(o.data, o.ctx, bos, [&](std::string_view text) { return tok.encode(text, false, false); });

  LoraAdapter adapter;
  if (!o.init_adapter.empty()) {
    adapter = read_lora_adapter(o.init_adapter, model);
  } else {
    const std::vector<LoraTarget> targets = parse_lora_targets(o.targets.empty() ? kDefaultTargets : o.targets);
    adapter = init_lora_adapter(model, targets, o.rank, o.alpha, o.seed);
  }
  if (o.ctx > model.config().max_position_embeddings && talk)
    std::fprintf(stderr, "lmforge: warning: --ctx %u is beyond the model's training context (%u)\n", o.ctx,
                 model.config().max_position_embeddings);

  TrainingLoopOptions loop;
  loop.batch = static_cast<uint32_t>(global_batch);
  loop.grad_accum = o.grad_accum;
  loop.steps = o.steps;
  loop.epochs = o.epochs;
  loop.shuffle = !o.no_shuffle;
  loop.seed = o.seed;
  loop.checkpoint_dir = o.checkpoint_dir;
  loop.checkpoint_every = o.checkpoint_every;
  loop.json = o.json;
  loop.stop = &g_stop;
  loop.ranks = &ranks;
  const uint64_t per_epoch = data.windows.size() / (global_batch * o.grad_accum);

  TrainingState current;
  current.base_sha256 = model_fingerprint(o.model);
  current.data_sha256 = data.sha256;
  current.options = {{"rank", adapter.rank},         {"alpha", adapter.alpha},
                     {"targets", targets_text(adapter)}, {"ctx", o.ctx},
                     {"batch", global_batch},        {"grad_accum", o.grad_accum},
                     {"steps", o.steps},             {"epochs", steps_given ? 0 : o.epochs},
                     {"lr", o.lr},                   {"warmup", o.warmup},
                     {"lr_schedule", o.schedule},    {"weight_decay", o.weight_decay},
                     {"seed", o.seed},               {"shuffle", !o.no_shuffle},
                     {"init_adapter", o.init_adapter.empty() ? "" : model_fingerprint(o.init_adapter)}};
  current.rng = TrainRng(o.seed).state();
  current.tensors = lora_tensors(adapter);

  if (ranks.size() > 1) check_same_inputs(current, ranks);

  TrainingState state;
  std::optional<TrainingState> saved;
  if (!o.checkpoint_dir.empty()) saved = load_latest_checkpoint_on_all(o.checkpoint_dir, ranks);
  if (o.resume) {
    if (!saved) throw Error(o.checkpoint_dir, "--resume: there is no checkpoint here to resume");
    check_resume_compatible(*saved, current, o.checkpoint_dir);
    state = std::move(*saved);
  } else {
    if (saved)
      throw Error(o.checkpoint_dir, "already holds a checkpoint (step " + std::to_string(saved->step) +
                                        "); pass --resume to continue it, or choose another --checkpoint-dir");
    state = std::move(current);
  }

  LrSchedule schedule;
  schedule.lr = o.lr;
  schedule.warmup = o.warmup;
  schedule.kind = o.schedule == "cosine" ? LrScheduleKind::kCosine : LrScheduleKind::kConstant;
  schedule.total_steps = o.steps > 0 ? o.steps : o.epochs * per_epoch;

  // By default the ranks on one machine share its cores.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads =
      o.threads > 0 ? o.threads : std::max(1u, cores / static_cast<unsigned>(ranks.size() > 1 ? mpi_launcher_local_size() : 1));
  ThreadPool pool(threads);
  AdamWOptions adamw;
  adamw.weight_decay = o.weight_decay;
  LoraStepTrainer trainer(model, adapter, o.ctx, o.batch, adamw, pool, &ranks);
  if (o.low_memory) trainer.set_activation_budget(0);
  // The default budget is a share of the machine's memory: the ranks on one machine split it.
  else if (ranks.size() > 1)
    trainer.set_activation_budget(trainer.activation_budget() / static_cast<uint64_t>(mpi_launcher_local_size()));
  if (talk && ranks.size() > 1)
    std::fprintf(stderr, "lmforge: %d ranks x %u threads, %u windows per rank and micro-batch (%llu in all)\n",
                 ranks.size(), threads, o.batch, static_cast<unsigned long long>(global_batch));
  if (talk) {
    std::fprintf(stderr, "lmforge: %zu tokens, %zu windows of %u, rank %u, alpha %g, targets %s, %u threads\n",
                 data.windows.n_tokens(), data.windows.size(), o.ctx, adapter.rank, static_cast<double>(adapter.alpha),
                 targets_text(adapter).c_str(), threads);
  }

  auto previous = std::signal(SIGINT, on_interrupt);
  auto previous_usr1 = std::signal(SIGUSR1, on_interrupt);
  const TrainingResult r = run_training(data.windows, loop, schedule, trainer, state);
  std::signal(SIGINT, previous);
  std::signal(SIGUSR1, previous_usr1);
  if (ranks.size() > 1) check_same_tensors(state, ranks);

  if (const int status = training_stopped_status(r, o.data, o.out, talk)) return status;
  if (!root) return 0;
  const LoraAdapter& trained = trainer.adapter_from(state);
  write_lora_adapter_gguf(trained, model.config(), o.out);
  if (!o.peft_dir.empty()) write_lora_adapter_peft(trained, model.config(), o.peft_dir);

  print_training_summary(state, r, o.out, o.json);
  return 0;
}

}  // namespace

Action& register_finetune(CLI::App& app) {
  static Action action;
  static FinetuneOptions o;
  auto* sub = app.add_subcommand("finetune", "Train a LoRA adapter on a text file (the base stays frozen)");
  sub->add_option("-m,--model", o.model, "Base model (GGUF or any folder `run` reads)")->required();
  sub->add_option("--data", o.data, "UTF-8 training text")->required();
  sub->add_option("-o,--output", o.out, "Adapter to write (GGUF, llama.cpp's LoRA layout)")->required();
  auto* rank = sub->add_option("--lora-rank", o.rank, "LoRA rank r (default 8)");
  auto* alpha = sub->add_option("--lora-alpha", o.alpha, "LoRA alpha; scale = alpha / r (default 16)");
  auto* targets = sub->add_option("--lora-targets", o.targets, "Adapted weights (default q,k,v,o,gate,up,down)");
  sub->add_option("--ctx", o.ctx, "Tokens per window (default 256)");
  sub->add_option("--batch", o.batch, "Windows per micro-batch (default 4)");
  sub->add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step (default 1)");
  auto* steps = sub->add_option("--steps", o.steps, "Optimizer steps in all (those before a resume included)");
  auto* epochs = sub->add_option("--epochs", o.epochs, "Passes over the data (default 1)");
  sub->add_option("--lr", o.lr, "Learning rate (default 2e-4)");
  sub->add_option("--warmup", o.warmup, "Linear warmup steps (default 0)");
  sub->add_option("--lr-schedule", o.schedule, "constant or cosine (default constant)");
  sub->add_option("--weight-decay", o.weight_decay, "AdamW's decoupled weight decay (default 0)");
  sub->add_option("--seed", o.seed, "Seed of the adapter's initialisation and the shuffling (default 0)");
  sub->add_flag("--no-shuffle", o.no_shuffle, "Windows in file order instead of shuffled each epoch");
  sub->add_option("--init-adapter", o.init_adapter, "Start from this adapter (its rank, alpha and targets rule)");
  sub->add_option("--peft", o.peft_dir, "Also write a PEFT folder (adapter_config.json + adapter_model.safetensors)");
  sub->add_option("--checkpoint-dir", o.checkpoint_dir, "Folder of the training checkpoint");
  sub->add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every K steps (default: at the end only)");
  sub->add_flag("--resume", o.resume, "Continue the checkpoint in --checkpoint-dir");
  sub->add_flag("--low-memory", o.low_memory,
                "Recompute each layer's activations in the backward pass instead of keeping them (a third more "
                "work; kept by default when they fit a quarter of the memory); same results");
  auto* threads = sub->add_option("-t,--threads", o.threads,
                                  "Threads (default: one per core; under mpirun, per rank: cores / ranks on the machine)");
  sub->add_flag("--json", o.json, "Print one JSON summary {steps, loss, tokens_per_s} instead of step lines");
  action = [=] {
    // Flags first, on every rank alike, before any process waits for another.
    check_flags(o, steps->count() > 0, epochs->count() > 0);
    if (threads->count() > 0 && o.threads == 0) throw UsageError("finetune: -t must be between 1 and 1024");
    if (!o.init_adapter.empty() && (rank->count() > 0 || alpha->count() > 0 || targets->count() > 0))
      throw UsageError("finetune: --init-adapter sets the rank, alpha and targets; do not also give --lora-rank, "
                       "--lora-alpha or --lora-targets");
    const std::unique_ptr<Collective> ranks = join_process_group("finetune");
    return run_on_every_rank(*ranks, [&] { return run_finetune(o, steps->count() > 0, *ranks); });
  };
  return action;
}

}  // namespace lmforge::cli
