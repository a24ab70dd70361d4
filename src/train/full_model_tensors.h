// The tensors of a llama model trained in full (`lmforge train`): every weight as one f32
// TrainedTensor owned by the TrainingState, named as in llama GGUF files ("token_embd.weight",
// "blk.N.attn_q.weight", ...; shapes in PyTorch order [out, in], Q/K rows in GGUF's adjacent-pair
// rotary order), in a fixed order: the token embedding, then per layer attn_norm, attn_q,
// attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down, then output_norm and,
// unless the embeddings are tied, output. With tied embeddings the output head reads the token
// embedding, and that one tensor gets both gradients.
//
// Also: the seeded initialisation, starting from a loaded model's weights, and the model as a
// LlamaModelSource for the convert sinks (GGUF / Hugging Face output).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "convert/llama_source.h"
#include "train/training_state.h"

namespace lmforge {

class LlamaModel;

// Index of each tensor in the list above.
enum FullLayerTensor : size_t { kAttnNorm, kWq, kWk, kWv, kWo, kFfnNorm, kWGate, kWUp, kWDown, kTensorsPerLayer };
struct FullLayout {
  size_t n_layers = 0;
  bool tied = false;
  static constexpr size_t embd() { return 0; }
  size_t layer(size_t l, FullLayerTensor t) const { return 1 + l * kTensorsPerLayer + t; }
  size_t output_norm() const { return 1 + n_layers * kTensorsPerLayer; }
  size_t output() const { return tied ? embd() : output_norm() + 1; }
  size_t count() const { return output_norm() + (tied ? 1 : 2); }
};
FullLayout full_layout(const LlamaConfig& c);

// Throws lmforge::Error (naming `where`) when the full trainer cannot train this shape: not a
// plain llama (NEOX rotation, biases, rope scaling), a zero size, heads that do not divide, a
// head_dim other than hidden / heads, or sizes whose tensors would not fit in memory.
void check_full_trainable(const LlamaConfig& c, const std::string& where);

// The tensors of `c` in the order above, values zero, Adam moments zero.
std::vector<TrainedTensor> full_tensor_shapes(const LlamaConfig& c);

// Initialisation from the seed (kFullInitStream sub-stream of TrainRng): every matrix (the
// embedding included) drawn normal(0, 0.02) by Box-Muller, tensor by tensor in the order above,
// row-major; every norm weight 1.
inline constexpr uint64_t kFullInitStream = 0x46756C6C;  // "Full"
void init_full_tensors(std::vector<TrainedTensor>& tensors, uint64_t seed);

// Copies the weights of `model` (decoded to f32) into `tensors`; throws lmforge::Error naming a
// weight whose shape differs or a model with tied embeddings where `tensors` has none (or the
// other way round).
void copy_from_model(const LlamaModel& model, std::vector<TrainedTensor>& tensors);

// The trained model as a source for write_llama_gguf / write_llama_hf (naming kGguf, every
// tensor F32), with the given tokenizer keys (and SentencePiece model for the HF folder).
LlamaModelSource full_model_source(const LlamaConfig& c, const std::vector<TrainedTensor>& tensors,
                                   std::vector<GgufKv> tokenizer_kvs, std::optional<SentencePieceModel> spm,
                                   const std::string& name);

}  // namespace lmforge
