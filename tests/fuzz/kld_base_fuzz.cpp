// libFuzzer harness: arbitrary bytes into the KL-divergence base-file reader (llama-perplexity's
// `_logits_` layout), then every row decoded as `perplexity --kl-divergence` decodes them.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "generate/kld_base_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // 0: accept any vocabulary, so that the size checks, not a vocabulary mismatch, meet the input.
    const auto f = lmforge::KldBaseFile::parse({data, size}, "fuzz.kld", 0);
    std::vector<float> log_probs;
    const uint64_t rows = static_cast<uint64_t>(f.rows_per_chunk()) * f.n_chunks();
    for (uint64_t r = 0; r < rows; ++r) f.decode_row(r, log_probs);
    volatile float sink = log_probs.empty() ? 0.0f : log_probs.back();
    (void)sink;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
