// CONFIG.json of `lmforge train`: the model's shape in Hugging Face config.json fields, the
// tokenizer to take the vocabulary from, and the training settings (each overridable on the
// command line). Every field is checked: an unknown or missing one, a wrong type, or values that
// contradict each other give one lmforge::Error naming the file.
//
//   {"vocab_size": 4000, "hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 4,
//    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
//    "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": true,
//    "tokenizer": "tokenizer.model",
//    "training": {"ctx": 128, "batch": 8, "grad_accum": 1, "steps": 500, "lr": 1e-3,
//                 "warmup": 50, "lr_schedule": "cosine", "min_lr": 0.1, "weight_decay": 0.1,
//                 "grad_clip": 1.0, "beta2": 0.95, "seed": 0}}
//
// "tokenizer" (a tokenizer.model, tokenizer.json, GGUF file or model folder) is relative to the
// config's folder. "head_dim" may be given and must equal hidden_size / num_attention_heads.
// "training" and each of its fields are optional (defaults: finetune's; min_lr 0, the cosine's
// floor as a fraction of lr; grad_clip 0, no clipping; beta2 0.999; "epochs" instead of "steps").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "arch/llama/llama_config.h"

namespace lmforge {

struct TrainSettings {
  uint32_t ctx = 256, batch = 4, grad_accum = 1;
  std::optional<uint64_t> steps, epochs;
  float lr = 2e-4f;
  uint64_t warmup = 0;
  std::string lr_schedule = "constant";
  double min_lr = 0.0;
  double weight_decay = 0.0;
  double grad_clip = 0.0;
  double beta2 = 0.999;  // AdamW's second-moment decay (tools/train_demo_model.py uses 0.95)
  uint64_t seed = 0;
};

struct TrainConfig {
  LlamaConfig model;
  std::string tokenizer;  // resolved against the config's folder
  TrainSettings training;
};

TrainConfig read_train_config(const std::string& path);

// Throws lmforge::Error (naming `where`) when a setting is out of range or contradicts another.
void check_train_settings(const TrainSettings& s, const std::string& where);

}  // namespace lmforge
