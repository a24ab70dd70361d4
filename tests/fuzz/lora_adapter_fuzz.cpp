// libFuzzer harness: arbitrary bytes into the LoRA adapter readers, checked against a fixed base
// (the shape of the mha-safetensors fixture, which the seeds are made for). The first byte picks
// the reader: 'G' the GGUF adapter reader on the rest; anything else the PEFT reader, with the
// next two bytes (little-endian) the length of adapter_config.json and the remainder
// adapter_model.safetensors.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/error.h"
#include "engine/lora_io.h"
#include "formats/gguf/gguf_reader.h"

namespace {

lmforge::LlamaConfig fuzz_base() {
  lmforge::LlamaConfig c;
  c.vocab_size = 450;
  c.hidden_size = 96;
  c.intermediate_size = 160;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 3;
  c.num_key_value_heads = 3;
  c.head_dim = 32;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const lmforge::LlamaConfig base = fuzz_base();
  try {
    lmforge::LoraAdapter a;
    if (data[0] == 'G') {
      const auto g = lmforge::GgufReader::parse({data + 1, size - 1}, "fuzz.gguf", nullptr);
      a = lmforge::read_lora_adapter_gguf(*g, base, "fuzz.gguf");
    } else {
      if (size < 3) return 0;
      const size_t n = std::min<size_t>(data[1] | (size_t{data[2]} << 8), size - 3);
      const std::string_view config(reinterpret_cast<const char*>(data + 3), n);
      a = lmforge::read_lora_adapter_peft(config, {data + 3 + n, size - 3 - n}, base, "fuzz-peft");
    }
    volatile float sink = a.base_scale();
    (void)sink;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
