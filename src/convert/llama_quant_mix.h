// The type each tensor of a llama model gets from `lmforge quantize TYPE`: llama.cpp's quantizer
// rules (llama_tensor_get_type in src/llama-quant.cpp of the llama.cpp that node-llama-cpp 3.21.1
// bundles), restricted to what a llama model has, so that our files carry the same type per
// tensor as llama-quantize's. A policy beside gguf_type_policy (convert's --outtype rules).
//
// The rules, for a mix whose default type is quantized (F32/F16/BF16 just give every weight
// matrix that type):
//   - Only matrices whose name ends in "weight" and that are not norms are quantized; vectors,
//     norms and biases stay F32, and with --leave-output-tensor output.weight keeps its type.
//   - The output head (and the embedding, when it is tied to the head) gets Q6_K, or Q8_0 when
//     the mix is Q8_0 or its rows are not whole blocks of the mix's default type.
//   - attn_v, ffn_down and attn_output get more bits in some mixes, some only in some layers
//     (use_more_bits: the first and last eighth of the layers and every third in between).
//   - Last, a type whose blocks do not fit the row length falls back: Q2_K/Q3_K -> Q4_0,
//     Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; and to F16 when even 32 does not divide it.
//   - --pure skips the mixture rules (the head included) but keeps the fallbacks.
//
// llama.cpp counts attn_v and ffn_down tensors as it meets them, in its loader's order (layer
// number, then name); every llama layer has exactly one of each, so the counters are the layer
// number and n_layer, which is what this function takes. Rules for fused attn_qkv, experts and
// Falcon never apply to a llama model and are left out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "arch/llama/llama_tensors.h"
#include "core/dtype.h"

namespace lmforge {

// The TYPE names of llama-quantize that lmforge quantize accepts.
enum class QuantMix : uint8_t {
  F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
  Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K,
};

struct QuantMixInfo {
  QuantMix mix;
  std::string_view name;  // as llama-quantize spells it
  DType default_type;     // the type of a tensor no rule touches
  uint32_t llama_ftype;   // general.file_type (LLAMA_FTYPE_*)
};

std::span<const QuantMixInfo> all_quant_mixes();
const QuantMixInfo& quant_mix_info(QuantMix mix);
// Case-insensitive; nullopt for a name that is not a mix.
std::optional<QuantMix> quant_mix_from_name(std::string_view name);
// "F32, F16, ..., Q6_K", for error messages.
std::string quant_mix_names();

// What llama.cpp's rules look at in the model as a whole.
struct QuantMixModel {
  uint32_t n_layer = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  bool tied_embeddings = false;  // the file has no output.weight: token_embd is the head
};
QuantMixModel quant_mix_model(const LlamaConfig& config, bool has_output_tensor);

struct QuantMixFlags {
  bool pure = false;                 // --pure
  bool leave_output_tensor = false;  // --leave-output-tensor
  // An importance matrix is given (--imatrix): Q4_0 and Q5_0 then give ffn_down of the first
  // eighth of the layers Q4_1 / Q5_1, as llama.cpp does to keep those layers sane.
  bool has_imatrix = false;
};

enum class QuantMixReason {
  kNotQuantized,   // a vector, norm or bias: F32
  kKeptAsIs,       // output.weight under --leave-output-tensor: its input type
  kMixDefault,     // the mix's default type
  kOutputHead,     // the head's rule (Q6_K / Q8_0)
  kMoreBits,       // a layer or tensor rule of the mix
  kFallback,       // rows not whole blocks of the chosen type: a 32-block type
  kFallbackF16,    // rows not a multiple of 32
};

struct QuantMixChoice {
  DType type;
  QuantMixReason reason;
};

// The type of the llama tensor `name` with row-major `shape` and input type `input`.
QuantMixChoice llama_quant_tensor_type(QuantMix mix, const QuantMixFlags& flags, const QuantMixModel& model,
                                       const LlamaTensorName& name, std::span<const uint64_t> shape, DType input);

}  // namespace lmforge
