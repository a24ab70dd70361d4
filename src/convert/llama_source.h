// A llama-family model read from any format, in the one shape the GGUF writer takes.
//
// Every whole-model source in convert/sources/ (Hugging Face folder, Meta consolidated
// checkpoint, legacy GGML file, ONNX export, GGUF; open_llama_model_source picks one) builds a
// LlamaModelSource from the containers of formats/; the sinks in convert/sinks/
// (write_llama_gguf, write_llama_hf, write_ggjt_v3) then do the name
// mapping, the Q/K row order, type conversion and the tokenizer keys in one place, so every
// path gets the same checks and the same output layout.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "arch/llama/llama_tensors.h"
#include "convert/convert_options.h"
#include "core/tensor.h"
#include "formats/gguf/gguf_value.h"
#include "formats/sentencepiece_model.h"

namespace lmforge {

// How the source names its tensors, which also fixes the Q/K row order:
//   kHuggingFace  "model.layers.0.self_attn.q_proj.weight"; Q/K rows in rotate_half order
//                 (permuted on the way to GGUF)
//   kMeta         "layers.0.attention.wq.weight" (Meta's consolidated.*.pth and legacy GGML
//                 files); Q/K rows already in the adjacent-pair order GGUF uses
//   kGguf         "blk.0.attn_q.weight"; GGUF order
enum class LlamaNaming { kHuggingFace, kMeta, kGguf };

// The llama tensor table's spelling for a naming.
inline LlamaSpelling spelling_of(LlamaNaming n) {
  switch (n) {
    case LlamaNaming::kHuggingFace: return LlamaSpelling::kHuggingFace;
    case LlamaNaming::kMeta: return LlamaSpelling::kMeta;
    case LlamaNaming::kGguf: return LlamaSpelling::kGguf;
  }
  return LlamaSpelling::kGguf;
}

// general.name of a model folder: the last part of config.json's _name_or_path when it has
// one, else the folder's name.
std::string folder_model_name(const std::string& dir, const nlohmann::json& config_json);

struct LlamaModelSource {
  std::string path;         // the file or folder, for messages
  std::string name;         // general.name
  std::string description;  // "Meta consolidated checkpoint (2 shards)", for messages
  LlamaConfig config;
  LlamaNaming naming = LlamaNaming::kHuggingFace;
  std::unique_ptr<TensorSource> weights;
  // GGUF `tokenizer.*` keys (tokenizer.ggml.model, tokens, scores, token_type, special ids).
  std::vector<GgufKv> tokenizer_kvs;
  // The SentencePiece model when the source has one (HF folder, Meta folder): HF output
  // copies it as tokenizer.model.
  std::optional<SentencePieceModel> spm;
  std::vector<std::string> warnings;
};

}  // namespace lmforge
