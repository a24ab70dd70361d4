// libFuzzer harness: one GPTQ linear read from arbitrary bytes. The first four bytes pick the
// settings the reader checks the tensors against (bits, group size, act-order, sym, v1/v2,
// the linear's size); the rest is a safetensors file holding <l>.qweight/.qzeros/.scales and
// maybe .g_idx/.bias. Whatever the reader accepts must then build the engine's kernel form and
// dequantize without a fault: a GptqMatrix that passed the reader is trusted downstream.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "formats/gptq_config.h"
#include "formats/gptq_linear.h"
#include "formats/safetensors_reader.h"
#include "kernels/gptq_form.h"

namespace {

// The safetensors bytes seen through the TensorSource interface, without a file.
class MemorySafetensors final : public lmforge::TensorSource {
 public:
  MemorySafetensors(std::span<const uint8_t> bytes)
      : bytes_(bytes), layout_(lmforge::parse_safetensors_layout(bytes, "fuzz.safetensors")) {}
  std::string format_description() const override { return "safetensors (fuzz)"; }
  const std::vector<lmforge::TensorInfo>& tensors() const override { return layout_.tensors; }
  lmforge::TensorBytes read(size_t index) const override {
    const auto& t = layout_.tensors.at(index);
    return lmforge::TensorBytes(bytes_.subspan(t.offset, t.nbytes), std::shared_ptr<const void>());
  }

 private:
  std::span<const uint8_t> bytes_;
  lmforge::SafetensorsLayout layout_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  lmforge::GptqConfig cfg;
  cfg.file = "quantize_config.json";
  static constexpr int kBits[4] = {2, 3, 4, 8};
  static constexpr int64_t kGroups[4] = {-1, 32, 64, 128};
  cfg.bits = kBits[data[0] & 3];
  cfg.group_size = kGroups[(data[0] >> 2) & 3];
  cfg.desc_act = data[0] & 16;
  cfg.sym = data[0] & 32;
  cfg.v2 = data[0] & 64;
  cfg.checkpoint_format = cfg.v2 ? "gptq_v2" : "gptq";
  const uint64_t out = 1 + data[1] % 64;       // small sizes: the reader's work is what is fuzzed
  const uint64_t in = 32 * (1 + data[2] % 8);
  (void)data[3];  // reserved, keeps seeds aligned with future settings
  try {
    MemorySafetensors src({data + 4, size - 4});
    lmforge::GptqMatrix m = lmforge::read_gptq_linear(src, "l", out, in, cfg, "fuzz");
    lmforge::GptqForm form(m);
    std::vector<float> row(form.padded_cols());
    for (uint64_t r = 0; r < form.rows(); ++r) form.dequantize_padded_row(r, row.data());
  } catch (const lmforge::Error&) {
  }
  return 0;
}
