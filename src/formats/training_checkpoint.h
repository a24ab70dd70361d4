// Training checkpoints (.ckpt / .pt): PyTorch Lightning's layout (state_dict,
// optimizer_states, lr_schedulers, epoch, global_step, hyper_parameters) and plain
// {"model": ..., "optimizer": ...} dicts, read through the restricted pickle machine.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/tensor.h"

namespace lmforge {

// What a checkpoint holds, for `inspect`: {"kind": "lightning" | "model+optimizer" |
// "state_dict", "weights": {...count, parameters, prefix stripped...}, "optimizer": {...},
// "counters": {"epoch": .., "global_step": ..}, "hyper_parameters": {...}}; null when the
// source does not look like a training checkpoint.
nlohmann::json describe_training_checkpoint(const TensorSource& checkpoint);

// The model weights alone, renamed without wrapper prefixes ("state_dict.", "model.",
// "module.", "_orig_mod."); optimizer moments and other tensors dropped. Returns `checkpoint`
// unchanged when it is not a training checkpoint.
std::unique_ptr<TensorSource> training_checkpoint_weights(std::unique_ptr<TensorSource> checkpoint);

}  // namespace lmforge
