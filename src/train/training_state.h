// Everything a training run needs to continue exactly where it stopped: the trained tensors
// with both Adam moments, the step counter, the learning-rate schedule's inputs, the random
// state, the data order and cursor, and fingerprints of the base model and data file.
//
// The trainer (finetune, train) fills it; checkpoint.h writes and reads it. A resumed run
// that starts from a loaded TrainingState produces bit-identical tensors to one that never
// stopped, for any thread count: so nothing in here may depend on the thread count, and
// everything the run's future depends on must be in here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/train_rng.h"

namespace lmforge {

// One trained f32 tensor with its AdamW moments (all three of the same size).
struct TrainedTensor {
  std::string name;              // e.g. "blk.3.attn_q.weight.lora_a"
  std::vector<uint64_t> shape;   // PyTorch order, outermost first
  std::vector<float> value, adam_m, adam_v;
};

struct TrainingState {
  // What the run trains on; a resume with another base or data file is refused.
  std::string base_sha256;  // of the base model file(s) as read
  std::string data_sha256;  // of the data file's bytes
  // The hyperparameters that shape the run (rank, alpha, targets, ctx, batch, grad_accum,
  // lr, warmup, schedule, weight decay, seed, shuffle, total steps...), as the trainer
  // records them; on resume the trainer compares them with the command line's.
  nlohmann::json options = nlohmann::json::object();

  uint64_t step = 0;         // optimizer steps completed (the next step is number `step`)
  uint64_t epoch = 0;        // data epoch the cursor is in
  uint64_t cursor = 0;       // next batch within the epoch's order
  std::vector<uint32_t> order;  // this epoch's window order (windows, not batches)
  TrainRng::State rng{};     // the trainer's RNG after the last completed step
  std::vector<float> losses; // loss of every completed step, in order (for --json and plots)

  std::vector<TrainedTensor> tensors;
};

}  // namespace lmforge
