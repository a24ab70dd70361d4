// The tensor table of a BERT encoder: one row per tensor the encoder reads, with its Hugging
// Face BertModel name, its GGUF name (as llama.cpp's converter writes architecture "bert") and
// the shape the config demands. Every piece of code that names a BERT tensor asks this table.
//
// map_bert_tensors() finds the rows in a checkpoint's tensor list: names with or without the
// "bert." prefix of BertFor* checkpoints (one spelling per file, never mixed), LayerNorm
// gamma/beta as old TensorFlow conversions spell them (transformers renames them on load too).
// The pooler, the MLM/NSP heads ("cls.") and the position_ids buffer are ignored; anything else
// unknown is a warning. A missing tensor, or one whose shape disagrees with the config, is an
// error naming both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "arch/bert/bert_config.h"
#include "core/tensor.h"

namespace lmforge {

struct BertTensorSpec {
  std::string hf;    // without prefix: "encoder.layer.0.attention.self.query.weight"
  std::string gguf;  // "blk.0.attn_q.weight"
  std::vector<uint64_t> shape;  // row-major, outermost first
};

// Every tensor the encoder reads, embeddings first, then layer by layer (the GGUF order).
// Per layer, in this order: attn_q, attn_k, attn_v, attn_output (weight, bias each),
// attn_output_norm, ffn_up, ffn_down, layer_output_norm (weight, bias each).
std::vector<BertTensorSpec> bert_tensor_specs(const BertConfig& config);

// Rows of bert_tensor_specs per layer, and of the embedding part before the first layer.
inline constexpr size_t kBertEmbeddingTensors = 5;  // word, position, token type, norm weight, bias
inline constexpr size_t kBertTensorsPerLayer = 16;

struct BertTensorMap {
  std::string prefix;          // "" or "bert."
  std::vector<size_t> source;  // per spec row: its index in the checkpoint's tensor list
  std::vector<std::string> warnings;
};

// Throws lmforge::Error naming `file` on a missing tensor, a shape that disagrees with the
// config, or a checkpoint that spells the encoder both with and without the prefix.
BertTensorMap map_bert_tensors(const std::vector<TensorInfo>& tensors, const BertConfig& config,
                               const std::string& file);

}  // namespace lmforge
