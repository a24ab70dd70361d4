// GPTQ (or RTN) over a whole llama model, one decoder layer at a time, as AutoGPTQ's
// `quantize` walks it:
//  - the embeddings of every calibration window are the first layer's inputs;
//  - per layer, in the true-sequential order [q,k,v] -> [o] -> [gate,up] -> [down], the float
//    inputs of the group are computed with everything before it already quantized, its
//    Hessian H = 2 X X^T / n_windows accumulated (syrk, float32), and each linear of the group
//    quantized (gptq_solver.h) and replaced by its dequantized weights;
//  - the layer is then run again with all its weights quantized and its outputs feed the next.
// Memory: three activation buffers of n_windows * seqlen * hidden floats (layer input, output,
// attention output), one layer's weights as float32, one Hessian at a time (at most
// intermediate^2 floats) and the solver's copies of one matrix (see docs/gptq.md).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gptq/decoder_layer_f32.h"
#include "gptq/gptq_solver.h"

namespace lmforge {

class LlamaModel;

struct ModelQuantizerOptions {
  GptqSettings settings;
  bool rtn = false;  // round to nearest instead of GPTQ (the Hessians are still built, for the error)
  unsigned threads = 1;
};

struct QuantizedLinearReport {
  LinearSlot slot;
  double relative_error = 0;  // ||W X - Q X|| / ||W X|| on this linear's calibration inputs
  uint64_t dead_columns = 0;
};

struct QuantizedLayer {
  uint32_t index = 0;
  double seconds = 0;
  std::array<QuantizedMatrix, kSlotCount> linears;  // codes and grids (dequantized dropped)
  std::array<QuantizedLinearReport, kSlotCount> reports;
  std::vector<float> attn_norm, ffn_norm;
};

// The GGUF-style short name of a slot ("attn_q", ..., "ffn_down") and its Hugging Face module
// path inside a layer ("self_attn.q_proj", ..., "mlp.down_proj").
const char* slot_short_name(LinearSlot s);
const char* slot_hf_module(LinearSlot s);

class ModelQuantizer {
 public:
  // Decodes the windows' embeddings at once (the first layer's inputs). `model` must outlive
  // this object.
  ModelQuantizer(const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows,
                 const ModelQuantizerOptions& options);

  uint32_t n_layers() const;
  uint32_t next_index() const { return next_; }
  // Quantizes layer next_index() and advances the hidden states through it.
  QuantizedLayer next_layer();

 private:
  DecoderLayerF32 decode_layer(uint32_t l) const;
  QuantizedMatrix quantize_slot(DecoderLayerF32& L, LinearSlot s, const std::vector<float>& h,
                                QuantizedLinearReport& rep);

  const LlamaModel& model_;
  ModelQuantizerOptions opt_;
  ThreadPool pool_;
  uint32_t n_windows_, seqlen_;
  uint32_t next_ = 0;
  std::vector<float> x_, y_, a_;  // [window][token][...]
};

}  // namespace lmforge
