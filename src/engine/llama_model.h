// A llama-family model loaded from a GGUF file for inference: hyperparameters from the
// `llama.*` keys and views of every weight in place in the memory map (no copy).
//
// Every tensor is looked up by its GGUF name and its shape checked against the
// hyperparameters before anything runs, so a file whose shapes contradict its metadata fails at
// load with the tensor's name instead of reading out of bounds later.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/matmul_ref.h"
#include "arch/llama/llama_config.h"

namespace lmforge {

class GgufReader;
class GptqForm;
class InterleavedMatrix;

// One weight matrix: the view the kernels read, plus the bytes that keep it alive.
struct LlamaWeight {
  std::string name;
  MatrixView m;
  // The bytes behind `m`: a view of the mapped file, or for F32/F16/BF16 products a copy on
  // huge pages (core/huge_page_copy.h) whose mapped pages were released.
  TensorBytes bytes;
  // Q8_0/Q4_0 products: the same matrix regrouped at load for the fast engine's kernels
  // (kernels/interleaved.h); null for other types and for the embedding, which is read by row.
  // Once it exists the mapped pages behind `m` are released: `m` stays valid (the reference
  // engine reads it) and pages come back from the file if it does.
  std::shared_ptr<const InterleavedMatrix> interleaved;
  // A GPTQ linear (kernels/gptq_form.h), loaded from a GPTQ folder instead of the GGUF: `m`
  // then has its type, rows and columns but no data, and every product goes through this.
  std::shared_ptr<const GptqForm> gptq;
};

// GPTQ linears by GGUF name, for the weights a GGUF built from a GPTQ folder leaves out.
using GptqForms = std::map<std::string, std::shared_ptr<const GptqForm>>;

struct LlamaLayer {
  std::vector<float> attn_norm, ffn_norm;  // decoded once: tiny, and read at every token
  LlamaWeight wq, wk, wv, wo;
  LlamaWeight w_gate, w_up, w_down;
  // Q, K and V biases (Qwen2; optional for llama as in llama.cpp), in GGUF row order; empty
  // when the model has none.
  bool has_qkv_bias = false;
  std::vector<float> bq, bk, bv;
};

class LlamaModel {
 public:
  // Opens a GGUF file; throws lmforge::Error naming the file (and tensor) when it is not a
  // llama model lmforge can run.
  static std::unique_ptr<LlamaModel> open(const std::string& path);
  // `gptq`: weight matrices missing from the GGUF, by name (a GPTQ folder's linears).
  static std::unique_ptr<LlamaModel> from_gguf(std::shared_ptr<const GgufReader> gguf, const std::string& path,
                                               const GptqForms* gptq = nullptr);

  const std::string& path() const { return path_; }
  const LlamaConfig& config() const { return config_; }
  uint32_t n_vocab() const { return config_.vocab_size; }

  LlamaWeight tok_embd;
  std::vector<LlamaLayer> layers;
  std::vector<float> output_norm;
  LlamaWeight output;        // token_embd itself when the file has no output.weight (tied)
  bool tied_output = false;

 private:
  LlamaModel() = default;

  std::string path_;
  LlamaConfig config_;
  std::shared_ptr<const GgufReader> gguf_;
};

}  // namespace lmforge
