#include "engine/bert_model.h"

#include <filesystem>

#include "arch/bert/bert_config_gguf.h"
#include "arch/bert/bert_tensors.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/hf_folder.h"
#include "kernels/matmul.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

BertMatrix matrix(const TensorSource& src, size_t index, const std::string& file, bool multiplied) {
  const TensorInfo& t = src.tensors()[index];
  if (multiplied ? !matmul_supports(t.dtype) : !can_decode(t.dtype))
    fail(file, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) +
                   ", which the encoder cannot " + (multiplied ? "multiply" : "read"));
  BertMatrix m;
  m.name = t.name;
  m.bytes = src.read(index);
  const auto row_bytes = dtype_nbytes(t.dtype, t.shape[1]);
  if (!row_bytes || m.bytes.size() != *row_bytes * t.shape[0])
    fail(file, "tensor " + quoted_for_message(t.name) + " has " + std::to_string(m.bytes.size()) +
                   " bytes, not what its shape and type need");
  m.m = MatrixView{t.dtype, m.bytes.data(), t.shape[0], t.shape[1], static_cast<size_t>(*row_bytes)};
  return m;
}

std::vector<float> vector_of(const TensorSource& src, size_t index, const std::string& file) {
  const TensorInfo& t = src.tensors()[index];
  if (!can_decode(t.dtype))
    fail(file, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) +
                   ", which the encoder cannot read");
  const TensorBytes b = src.read(index);
  const auto need = dtype_nbytes(t.dtype, t.shape[0]);
  if (!need || b.size() != *need)
    fail(file, "tensor " + quoted_for_message(t.name) + " has " + std::to_string(b.size()) +
                   " bytes, not what its shape and type need");
  std::vector<float> v(t.shape[0]);
  decode_row(t.dtype, b.data(), v.data(), v.size());
  return v;
}

}  // namespace

std::unique_ptr<BertModel> BertModel::open_folder(const std::string& dir) {
  std::unique_ptr<BertModel> model(new BertModel());
  model->path_ = dir;
  HfFolderChecks checks;
  checks.config = [&](const nlohmann::json& config, const std::string& config_path) {
    model->config_ = bert_config_from_json(config, config_path);
  };
  HfModel hf = open_hf_folder(dir, checks);
  const BertTensorMap map = map_bert_tensors(hf.weights->tensors(), model->config_, dir);
  model->warnings_ = map.warnings;
  model->load(*hf.weights, map.source);
  return model;
}

std::unique_ptr<BertModel> BertModel::open_gguf(const std::string& path) {
  std::shared_ptr<const GgufReader> g = GgufReader::open(path);
  std::unique_ptr<BertModel> model(new BertModel());
  model->path_ = path;
  model->config_ = bert_config_from_gguf(*g, path);
  std::vector<size_t> source;
  for (const BertTensorSpec& s : bert_tensor_specs(model->config_)) {
    const ptrdiff_t i = g->find(s.gguf);
    if (i < 0) fail(path, "missing tensor " + s.gguf);
    const TensorInfo& t = g->tensors()[static_cast<size_t>(i)];
    if (t.shape != s.shape)
      fail(path, "tensor " + s.gguf + " has shape " + shape_text(t.shape) + " but the metadata needs " + shape_text(s.shape));
    source.push_back(static_cast<size_t>(i));
  }
  model->load(*g, source);
  model->keep_ = g;
  return model;
}

void BertModel::load(const TensorSource& src, const std::vector<size_t>& source) {
  const std::string& dir = path_;
  size_t i = 0;
  auto next = [&] { return source[i++]; };
  word_embd = matrix(src, next(), dir, false);
  pos_embd = matrix(src, next(), dir, false);
  type_embd = matrix(src, next(), dir, false);
  embd_norm.weight = vector_of(src, next(), dir);
  embd_norm.bias = vector_of(src, next(), dir);
  auto linear = [&] {
    BertLinear l;
    l.w = matrix(src, next(), dir, true);
    l.bias = vector_of(src, next(), dir);
    return l;
  };
  auto norm = [&] {
    BertNorm n;
    n.weight = vector_of(src, next(), dir);
    n.bias = vector_of(src, next(), dir);
    return n;
  };
  layers.resize(config_.num_hidden_layers);
  for (BertLayer& L : layers) {
    // The order of bert_tensor_specs.
    L.q = linear();
    L.k = linear();
    L.v = linear();
    L.attn_out = linear();
    L.attn_norm = norm();
    L.up = linear();
    L.down = linear();
    L.out_norm = norm();
  }
}

}  // namespace lmforge
