// A GPTQ checkpoint folder (AutoGPTQ / GPTQModel / transformers: a Hugging Face llama folder
// whose decoder linears are stored as qweight/qzeros/scales/g_idx, and a GPTQ config) as a
// llama model.
//
// Two views of the same folder:
//  - GptqLlamaFolder::linear() gives one quantized linear decoded and checked
//    (formats/gptq_linear), rows already in GGUF order (the RoPE permutation of q/k applied to
//    the outputs), for the engine's kernel form.
//  - llama_source_from_gptq_folder() is the folder as a LlamaModelSource for the GGUF writer:
//    every quantized linear appears as its "<module>.weight" tensor, read lazily:
//      4 bits, groups of a multiple of 32 inputs, no act-order gather: Q4_1 blocks
//        (d = scale, exact for fp16 scales; m = -scale * zero rounded to fp16, the only error:
//        at most half an fp16 ulp of m, |dm| <= 2^-11 |m|, the same for all 32 weights);
//      anything else (2/3/8 bits, act-order, other group sizes): the dequantized F32 weights,
//        which the writer stores as F16 or the --outtype asked for.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "arch/llama/llama_config.h"
#include "arch/llama/llama_tensors.h"
#include "convert/llama_source.h"
#include "core/tensor.h"
#include "formats/gptq_config.h"
#include "quant/gptq_matrix.h"

namespace lmforge {

struct GptqLlamaFolder {
  std::string dir;
  GptqConfig gptq;
  LlamaConfig config;
  std::shared_ptr<const TensorSource> raw;  // the checkpoint's own tensors

  // Whether weight `id` of layer `layer` is stored GPTQ-quantized in this folder.
  bool quantized(LlamaTensor id, uint32_t layer) const;
  // That linear, decoded and checked, with output rows in GGUF order.
  GptqMatrix linear(LlamaTensor id, uint32_t layer) const;
  // "4-bit, group size 128, act-order, sym, gptq (v1 zero points)": for inspect and logs.
  std::string summary() const;
};

// True when `dir` has a GPTQ config (quantize_config.json, quant_config.json or a
// quantization_config in config.json).
bool is_gptq_folder(const std::string& dir);

// Throws naming the file when the folder or its GPTQ config is not one lmforge reads.
std::shared_ptr<const GptqLlamaFolder> open_gptq_llama_folder(const std::string& dir);

// The folder as a whole model (see the top of this file). `folder_out`, when given, receives
// the folder view too.
LlamaModelSource llama_source_from_gptq_folder(const std::string& dir,
                                               std::shared_ptr<const GptqLlamaFolder>* folder_out = nullptr);

}  // namespace lmforge
