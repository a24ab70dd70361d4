#include "convert/quantize_plan.h"

#include <algorithm>

#include "core/error.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

std::optional<LlamaTensorName> llama_name(const LlamaModelSource& m, const TensorInfo& t) {
  const LlamaSpelling spelling = spelling_of(m.naming);
  if (is_ignored_llama_tensor(t.name, spelling)) return std::nullopt;
  return parse_llama_tensor_name(t.name, spelling);
}

// The names of the types lmforge can write today, for the refusal message.
std::string encodable_mix_names() {
  std::string list;
  for (const auto& row : all_quant_mixes())
    if (can_encode(row.default_type)) list += (list.empty() ? "" : ", ") + std::string(row.name);
  return list;
}

}  // namespace

QuantizePlan plan_llama_quantize(const LlamaModelSource& model, QuantMix mix, const QuantMixFlags& flags) {
  const auto& sources = model.weights->tensors();
  bool has_output = false;
  for (const auto& t : sources) {
    const auto n = llama_name(model, t);
    if (n && n->id == LlamaTensor::kOutput && !n->bias) has_output = true;
  }
  QuantizePlan plan{mix, flags, quant_mix_model(model.config, has_output), {}, 0, 0, 0, false};
  for (const auto& t : sources) {
    const auto n = llama_name(model, t);
    if (!n) continue;
    const QuantMixChoice c = llama_quant_tensor_type(mix, flags, plan.model, *n, t.shape, t.dtype);
    QuantizeTensorPlan p{*spell_llama_tensor(*n, LlamaSpelling::kGguf), t.shape, t.dtype, c.type, c.reason, t.nbytes, 0};
    p.bytes_out = dtype_nbytes(c.type, t.numel()).value_or(0);
    plan.bytes_in += p.bytes_in;
    plan.bytes_out += p.bytes_out;
    plan.elements += t.numel();
    if (dtype_is_quantized(t.dtype) && c.type != t.dtype) plan.requantizes = true;
    plan.tensors.push_back(std::move(p));
  }
  return plan;
}

void check_quantize_plan(const QuantizePlan& plan, bool allow_requantize) {
  for (const auto& t : plan.tensors) {
    if (t.to == t.from) continue;  // copied as it is
    if (!can_encode(t.to))
      throw UsageError(t.name + " would be " + std::string(dtype_name(t.to)) + " in " + std::string(quant_mix_info(plan.mix).name) + ", and " +
                       std::string(dtype_name(t.to)) + " is not implemented yet (lmforge can write " + encodable_mix_names() + ")");
    if (dtype_is_quantized(t.from) && !can_decode(t.from))
      throw UsageError(t.name + " is " + std::string(dtype_name(t.from)) + ", which lmforge cannot dequantize yet");
  }
  if (plan.requantizes && !allow_requantize) {
    const auto q = std::find_if(plan.tensors.begin(), plan.tensors.end(),
                                [](const QuantizeTensorPlan& t) { return dtype_is_quantized(t.from) && t.to != t.from; });
    throw UsageError("the input is already quantized (" + q->name + " is " + std::string(dtype_name(q->from)) +
                     "); requantizing loses quality, pass --allow-requantize to do it anyway");
  }
}

std::function<DType(const LlamaTensorName&, const TensorInfo&)> quantize_type_of(const QuantizePlan& plan) {
  return [mix = plan.mix, flags = plan.flags, model = plan.model](const LlamaTensorName& n, const TensorInfo& t) {
    return llama_quant_tensor_type(mix, flags, model, n, t.shape, t.dtype).type;
  };
}

}  // namespace lmforge
