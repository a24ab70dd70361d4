// `lmforge train --config CONFIG.json --data FILE -o OUT [--init-model M] [--type f32|f16|bf16|q8_0]
//   [--ctx N] [--batch N] [--grad-accum N] [--steps N | --epochs E] [--lr X] [--warmup N]
//   [--lr-schedule constant|cosine] [--min-lr F] [--weight-decay X] [--grad-clip X] [--seed S]
//   [--no-shuffle] [--checkpoint-dir D] [--checkpoint-every K] [--resume] [-t N] [--json]`
//
// Full training of a small llama model (every weight, f32; train/full_step_trainer.h) through
// the loop finetune shares (train/training_loop.h): same step lines, --json summary,
// checkpoints, resume and Ctrl-C (exit 130, OUT not written). The shape, the tokenizer and the
// training settings come from CONFIG.json (train/train_config.h); flags override the settings.
// OUT is a GGUF when it ends in .gguf, else a Hugging Face folder (the convert sinks).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>


#include "cli/commands.h"
#include "cli/model_fingerprint.h"
#include "cli/training_report.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "convert/gguf_bpe_vocab.h"
#include "convert/gguf_vocab.h"
#include "convert/sinks/gguf_sink.h"
#include "convert/sinks/hf_sink.h"
#include "convert/sources/open_llama_model_source.h"
#include "engine/llama_model.h"
#include "engine/model_loader.h"
#include "formats/sentencepiece_model.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/full_model_tensors.h"
#include "train/full_step_trainer.h"
#include "train/train_config.h"
#include "train/training_data.h"
#include "train/training_loop.h"

namespace lmforge::cli {

namespace {

struct TrainOptions {
  std::string config, data, out, init_model, type = "f32", checkpoint_dir, schedule;
  uint32_t ctx = 0, batch = 0, grad_accum = 0, threads = 0;
  uint64_t steps = 0, epochs = 0, warmup = 0, seed = 0, checkpoint_every = 0;
  float lr = 0;
  double min_lr = 0, weight_decay = 0, grad_clip = 0;
  bool no_shuffle = false, resume = false, json = false;
};

std::atomic<bool> g_stop{false};
extern "C" void on_train_interrupt(int) { g_stop.store(true); }

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The GGUF tokenizer keys (and SentencePiece model, for a Hugging Face output) of the
// configured tokenizer, padded or checked against vocab_size.
std::vector<GgufKv> tokenizer_keys(const std::string& path, uint32_t vocab, std::optional<SentencePieceModel>& spm) {
  namespace fs = std::filesystem;
  std::string spm_file;
  if (fs::is_directory(path)) {
    if (folder_has_bpe_tokenizer(path)) return gguf_vocab_from_bpe_folder(path, vocab);
    spm_file = (fs::path(path) / "tokenizer.model").string();
  } else if (ends_with(path, ".json")) {
    return gguf_vocab_from_bpe_folder(fs::path(path).parent_path().string(), vocab);
  } else if (ends_with(path, ".gguf")) {
    return open_llama_model_source(path).tokenizer_kvs;
  } else {
    spm_file = path;
  }
  const auto m = MappedFile::open(spm_file);
  spm = parse_sentencepiece_model(m->bytes(), spm_file);
  return gguf_vocab_from_spm(*spm, vocab, spm_file);
}

std::optional<DType> output_type(const std::string& name) {
  for (const char* ok : {"f32", "f16", "bf16", "q8_0"})
    if (name == ok) return dtype_from_name(name);
  return std::nullopt;
}

int run_train(const TrainOptions& o, const CLI::App& sub) {
  auto given = [&](const char* flag) { return sub.get_option(flag)->count() > 0; };
  TrainConfig cfg = read_train_config(o.config);
  TrainSettings& s = cfg.training;
  if (given("--ctx")) s.ctx = o.ctx;
  if (given("--batch")) s.batch = o.batch;
  if (given("--grad-accum")) s.grad_accum = o.grad_accum;
  if (given("--steps") || given("--epochs")) s.steps.reset(), s.epochs.reset();
  if (given("--steps")) s.steps = o.steps;
  if (given("--epochs")) s.epochs = o.epochs;
  if (given("--lr")) s.lr = o.lr;
  if (given("--warmup")) s.warmup = o.warmup;
  if (given("--lr-schedule")) s.lr_schedule = o.schedule;
  if (given("--min-lr")) s.min_lr = o.min_lr;
  if (given("--weight-decay")) s.weight_decay = o.weight_decay;
  if (given("--grad-clip")) s.grad_clip = o.grad_clip;
  if (given("--seed")) s.seed = o.seed;
  check_train_settings(s, "train");
  if (given("-t") && (o.threads == 0 || o.threads > 1024)) throw UsageError("train: -t must be between 1 and 1024");
  if (o.resume && o.checkpoint_dir.empty()) throw UsageError("train: --resume needs --checkpoint-dir");
  if (o.checkpoint_every > 0 && o.checkpoint_dir.empty())
    throw UsageError("train: --checkpoint-every needs --checkpoint-dir");
  const std::optional<DType> out_type = output_type(o.type);
  if (!out_type) throw UsageError("train: --type must be f32, f16, bf16 or q8_0, got " + o.type);
  if (*out_type == DType::Q8_0 && !ends_with(o.out, ".gguf"))
    throw UsageError("train: --type q8_0 needs a .gguf output (a Hugging Face folder holds f32, f16 or bf16)");
  check_full_trainable(cfg.model, o.config);

  const std::unique_ptr<Tokenizer> tok = load_tokenizer(cfg.tokenizer);
  if (tok->size() != cfg.model.vocab_size)
    throw Error(o.config, "vocab_size is " + std::to_string(cfg.model.vocab_size) + " but the tokenizer " +
                              cfg.tokenizer + " has " + std::to_string(tok->size()) + " tokens");
  if (tok->bos_id() >= 0) cfg.model.bos_token_id = static_cast<uint32_t>(tok->bos_id());
  if (tok->eos_id() >= 0) cfg.model.eos_token_id = static_cast<uint32_t>(tok->eos_id());
  std::optional<SentencePieceModel> spm;
  std::vector<GgufKv> tok_kvs = tokenizer_keys(cfg.tokenizer, cfg.model.vocab_size, spm);

  const TrainingData data = load_training_data(o.data, s.ctx, tok->bos_id(),
                                               [&](std::string_view text) { return tok->encode(text, false, false); });
  const uint64_t per_epoch = data.windows.size() / (uint64_t{s.batch} * s.grad_accum);

  TrainingState current;
  current.base_sha256 = o.init_model.empty() ? "" : model_fingerprint(o.init_model);
  current.data_sha256 = data.sha256;
  const LlamaConfig& c = cfg.model;
  current.options = {{"vocab_size", c.vocab_size},
                     {"hidden_size", c.hidden_size},
                     {"intermediate_size", c.intermediate_size},
                     {"num_hidden_layers", c.num_hidden_layers},
                     {"num_attention_heads", c.num_attention_heads},
                     {"num_key_value_heads", c.num_key_value_heads},
                     {"rope_theta", c.rope_theta},
                     {"rms_norm_eps", c.rms_norm_eps},
                     {"tie_word_embeddings", c.tie_word_embeddings},
                     {"ctx", s.ctx},
                     {"batch", s.batch},
                     {"grad_accum", s.grad_accum},
                     {"steps", s.steps.value_or(0)},
                     {"epochs", s.steps ? 0 : s.epochs.value_or(1)},
                     {"lr", s.lr},
                     {"warmup", s.warmup},
                     {"lr_schedule", s.lr_schedule},
                     {"min_lr", s.min_lr},
                     {"weight_decay", s.weight_decay},
                     {"grad_clip", s.grad_clip},
                     {"beta2", s.beta2},
                     {"seed", s.seed},
                     {"shuffle", !o.no_shuffle}};
  current.rng = TrainRng(s.seed).state();

  TrainingState state;
  std::optional<TrainingState> saved;
  if (!o.checkpoint_dir.empty()) saved = load_latest_checkpoint(o.checkpoint_dir);
  if (o.resume) {
    if (!saved) throw Error(o.checkpoint_dir, "--resume: there is no checkpoint here to resume");
    check_resume_compatible(*saved, current, o.checkpoint_dir);
    state = std::move(*saved);
  } else {
    if (saved)
      throw Error(o.checkpoint_dir, "already holds a checkpoint (step " + std::to_string(saved->step) +
                                        "); pass --resume to continue it, or choose another --checkpoint-dir");
    current.tensors = full_tensor_shapes(c);
    if (o.init_model.empty()) {
      init_full_tensors(current.tensors, s.seed);
    } else {
      const LoadedModel init = load_model_for_inference(o.init_model);
      const LlamaConfig& ic = init.model->config();
      if (ic.hidden_size != c.hidden_size || ic.intermediate_size != c.intermediate_size ||
          ic.num_hidden_layers != c.num_hidden_layers || ic.num_attention_heads != c.num_attention_heads ||
          ic.num_key_value_heads != c.num_key_value_heads || ic.vocab_size != c.vocab_size ||
          init.model->tied_output != c.tie_word_embeddings || ic.rope_theta != c.rope_theta ||
          ic.rms_norm_eps != c.rms_norm_eps)
        throw Error(o.init_model, "--init-model has another shape than " + o.config +
                                      " (sizes, tied embeddings, rope_theta or rms_norm_eps differ)");
      copy_from_model(*init.model, current.tensors);
    }
    state = std::move(current);
  }

  LrSchedule schedule;
  schedule.lr = s.lr;
  schedule.warmup = s.warmup;
  schedule.kind = s.lr_schedule == "cosine" ? LrScheduleKind::kCosine : LrScheduleKind::kConstant;
  schedule.min_lr_fraction = s.min_lr;
  schedule.total_steps = s.steps ? *s.steps : s.epochs.value_or(1) * per_epoch;

  TrainingLoopOptions loop;
  loop.batch = s.batch;
  loop.grad_accum = s.grad_accum;
  loop.steps = s.steps.value_or(0);
  loop.epochs = s.epochs.value_or(1);
  loop.shuffle = !o.no_shuffle;
  loop.seed = s.seed;
  loop.checkpoint_dir = o.checkpoint_dir;
  loop.checkpoint_every = o.checkpoint_every;
  loop.json = o.json;
  loop.stop = &g_stop;

  const unsigned threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  AdamWOptions adamw;
  adamw.weight_decay = s.weight_decay;
  adamw.beta2 = s.beta2;
  FullStepTrainer trainer(c, s.ctx, s.batch, adamw, s.grad_clip, pool);
  if (!o.json) {
    uint64_t params = 0;
    for (const TrainedTensor& t : state.tensors) params += t.value.size();
    std::fprintf(stderr, "lmforge: %zu tokens, %zu windows of %u, %llu parameters, %u threads\n",
                 data.windows.n_tokens(), data.windows.size(), s.ctx, static_cast<unsigned long long>(params), threads);
  }

  auto previous = std::signal(SIGINT, on_train_interrupt);
  const TrainingResult r = run_training(data.windows, loop, schedule, trainer, state);
  std::signal(SIGINT, previous);
  if (const int status = training_stopped_status(r, o.data, o.out, !o.json)) return status;

  LlamaModelSource src = full_model_source(c, state.tensors, std::move(tok_kvs), std::move(spm),
                                           std::filesystem::path(o.config).stem().string());
  ConvertOptions copt;
  copt.outtype = *out_type;
  copt.overwrite = true;
  copt.quiet = true;
  copt.threads = threads;
  if (ends_with(o.out, ".gguf")) {
    write_llama_gguf(src, o.out, copt);
  } else {
    write_llama_hf(src, o.out, copt);
  }

  print_training_summary(state, r, o.out, o.json);
  return 0;
}

}  // namespace

Action& register_train(CLI::App& app) {
  static Action action;
  static TrainOptions o;
  auto* sub = app.add_subcommand("train", "Train a small llama model from scratch (every weight, f32)");
  sub->add_option("--config", o.config, "CONFIG.json: model shape, tokenizer, training settings")->required();
  sub->add_option("--data", o.data, "UTF-8 training text")->required();
  sub->add_option("-o,--output", o.out, "Model to write: a .gguf file, else a Hugging Face folder")->required();
  sub->add_option("--init-model", o.init_model,
                  "Start from this model's weights (GGUF or HF folder of the same shape); default: every matrix "
                  "normal(0, 0.02) from --seed, norms 1");
  sub->add_option("--type", o.type, "Output weight type: f32 (default), f16, bf16 or q8_0");
  sub->add_option("--ctx", o.ctx, "Tokens per window (overrides the config)");
  sub->add_option("--batch", o.batch, "Windows per micro-batch");
  sub->add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step");
  sub->add_option("--steps", o.steps, "Optimizer steps in all (those before a resume included)");
  sub->add_option("--epochs", o.epochs, "Passes over the data");
  sub->add_option("--lr", o.lr, "Peak learning rate");
  sub->add_option("--warmup", o.warmup, "Linear warmup steps");
  sub->add_option("--lr-schedule", o.schedule, "constant or cosine");
  sub->add_option("--min-lr", o.min_lr, "Cosine floor as a fraction of --lr (default 0)");
  sub->add_option("--weight-decay", o.weight_decay, "AdamW weight decay, on matrices only (not norms)");
  sub->add_option("--grad-clip", o.grad_clip, "Clip gradients to this global L2 norm (0: off)");
  sub->add_option("--seed", o.seed, "Seed of the initialisation and the shuffling");
  sub->add_flag("--no-shuffle", o.no_shuffle, "Windows in file order instead of shuffled each epoch");
  sub->add_option("--checkpoint-dir", o.checkpoint_dir, "Folder of the training checkpoint");
  sub->add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every K steps (default: at the end only)");
  sub->add_flag("--resume", o.resume, "Continue the checkpoint in --checkpoint-dir");
  sub->add_option("-t,--threads", o.threads, "Threads (default: one per core)");
  sub->add_flag("--json", o.json, "Print one JSON summary {steps, loss, tokens_per_s} instead of step lines");
  action = [sub] { return run_train(o, *sub); };
  return action;
}

}  // namespace lmforge::cli
