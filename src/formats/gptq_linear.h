// Reading one GPTQ-quantized linear from a checkpoint's tensors (<prefix>.qweight, .qzeros,
// .scales, optional .g_idx and .bias) into a GptqMatrix, distrusting all of it: dtypes, shapes
// against the config's bits and group size and the linear's size, g_idx values and group
// sizes, finite scales, an all-zero bias (the only bias lmforge accepts: old GPTQ-for-LLaMa
// files carry one for llama, which has none). Every problem is one error line naming the file
// and the tensor.
#pragma once

#include <optional>
#include <string>

#include "core/tensor.h"
#include "formats/gptq_config.h"
#include "quant/gptq_matrix.h"

namespace lmforge {

// True when `src` has a tensor named prefix + ".qweight".
bool has_gptq_linear(const TensorSource& src, const std::string& prefix);

// The linear `prefix` with `out` outputs and `in` inputs (nn.Linear [out, in]), as `cfg` says
// it is stored. `where` names the folder when a tensor has no file of its own.
GptqMatrix read_gptq_linear(const TensorSource& src, const std::string& prefix, uint64_t out, uint64_t in,
                            const GptqConfig& cfg, const std::string& where);

}  // namespace lmforge

namespace lmforge {

// "model.layers.0.self_attn.q_proj" for "model.layers.0.self_attn.q_proj.qweight" (or .qzeros,
// .scales, .g_idx): the module a GPTQ tensor belongs to; nullopt for other names.
std::optional<std::string> gptq_tensor_module(const std::string& tensor_name);

}  // namespace lmforge
