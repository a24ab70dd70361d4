// `lmforge perplexity --kl-divergence-base FILE --kl-divergence`: compares a model with the base
// model whose log-probabilities FILE holds (llama.cpp's format, src/generate/kld_base_file.h),
// over the tokens stored in FILE, and prints what llama-perplexity prints (or one JSON object).
#pragma once

#include <cstdint>
#include <string>

namespace lmforge::cli {

struct KldRunOptions {
  std::string model, base_file;
  uint32_t n_threads = 0;  // 0: one per core
  uint32_t n_batch = 0;    // 0: the whole chunk
  bool json = false;
};

int run_kl_divergence(const KldRunOptions& o);

}  // namespace lmforge::cli
