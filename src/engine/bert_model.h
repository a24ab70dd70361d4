// A BERT encoder loaded for inference from a Hugging Face folder (config.json with model_type
// "bert", model.safetensors or pytorch_model.bin with BertModel names, "bert." prefix or not)
// or from a GGUF file with architecture "bert" (as convert writes it): views of every weight in
// place in the mapped files, checked against the config through the tensor table of arch/bert
// before anything runs.
//
// Matrices keep their stored type (F32, F16, BF16, or any type the kernels multiply); biases
// and LayerNorm parameters are decoded to floats once (tiny, read for every token).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "arch/bert/bert_config.h"  // also is_bert_folder
#include "core/tensor.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// A weight matrix (or embedding table) and the bytes that keep it alive.
struct BertMatrix {
  std::string name;  // as the checkpoint spells it
  MatrixView m;
  TensorBytes bytes;
};

struct BertLinear {
  BertMatrix w;             // [out, in]
  std::vector<float> bias;  // [out]
};

struct BertNorm {
  std::vector<float> weight, bias;
};

struct BertLayer {
  BertLinear q, k, v, attn_out;
  BertNorm attn_norm;
  BertLinear up, down;
  BertNorm out_norm;
};

class BertModel {
 public:
  // Throws lmforge::Error naming the file (and tensor) when the folder is not a BERT model
  // lmforge can run: config refused, tensor missing or of the wrong shape or type.
  static std::unique_ptr<BertModel> open_folder(const std::string& dir);
  // The same from a GGUF file (`bert.*` keys, GGUF tensor names).
  static std::unique_ptr<BertModel> open_gguf(const std::string& path);

  const std::string& path() const { return path_; }
  const BertConfig& config() const { return config_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  BertMatrix word_embd, pos_embd, type_embd;
  BertNorm embd_norm;
  std::vector<BertLayer> layers;

 private:
  BertModel() = default;
  // Views of the tensors source[i] (one per row of bert_tensor_specs) of `src`.
  void load(const TensorSource& src, const std::vector<size_t>& source);

  std::shared_ptr<const TensorSource> keep_;  // the GGUF reader, for files opened by open_gguf

  std::string path_;
  BertConfig config_;
  std::vector<std::string> warnings_;
};

}  // namespace lmforge
