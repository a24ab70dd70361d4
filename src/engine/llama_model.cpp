#include "engine/llama_model.h"

#include "arch/llama/llama_config_gguf.h"
#include "arch/llama/llama_tensors.h"
#include "core/error.h"
#include "core/huge_page_copy.h"
#include "quant/ggml_blocks.h"
#include "quant/type_traits.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "kernels/gptq_form.h"
#include "kernels/interleaved.h"
#include "kernels/kquant_blocks.h"
#include "kernels/matmul_kquants.h"
#include "kernels/weight_types.h"

namespace lmforge {

namespace {

// Weights whose products read float rows in place (F32, F16, BF16).
bool is_float_weight(DType t) {
  const KernelWeightType* k = kernel_weight_type(t);
  return k && k->activations == ActivationForm::kFloats && !k->interleaved;
}

class Loader {
 public:
  Loader(const GgufReader& g, const std::string& path, const GptqForms* gptq) : g_(g), path_(path), gptq_(gptq) {}

  // The tensor `name` with row-major shape `shape`; throws naming it when it is missing, has
  // another shape or a type the kernels cannot read.
  LlamaWeight matrix(const std::string& name, std::vector<uint64_t> shape) const {
    if (gptq_ && gptq_->count(name)) return gptq_matrix(name, gptq_->at(name), shape);
    const size_t i = index(name);
    const TensorInfo& t = g_.tensors()[i];
    if (t.shape != shape)
      fail(path_, "tensor " + quoted_for_message(name) + " has shape " + shape_text(t.shape) + ", expected " + shape_text(shape) + " from the hyperparameters", t.offset);
    if (!matmul_ref_supports(t.dtype))
      fail(path_, "tensor " + quoted_for_message(name) + " has type " + std::string(dtype_name(t.dtype)) + ", which lmforge cannot run (supported: " + kernel_weight_type_names() + ")", t.offset);
    const auto row_bytes = dtype_nbytes(t.dtype, shape.back());
    if (!row_bytes)
      fail(path_, "tensor " + quoted_for_message(name) + " rows of " + std::to_string(shape.back()) + " are not whole " + std::string(dtype_name(t.dtype)) + " blocks", t.offset);
    LlamaWeight w;
    w.name = name;
    w.bytes = g_.read(i);
    // The reader checked nbytes against the shape; this guards the view arithmetic below.
    if (w.bytes.size() / *row_bytes != shape[0] || w.bytes.size() % *row_bytes != 0)
      fail(path_, "tensor " + quoted_for_message(name) + " holds " + std::to_string(w.bytes.size()) + " bytes, which does not match its shape", t.offset);
    w.m = MatrixView{t.dtype, w.bytes.data(), shape[0], shape[1], static_cast<size_t>(*row_bytes)};
    // A NaN or infinite block scale would silently turn every logit into NaN: refuse it here,
    // naming the block (one pass over the scales; the weights are read at the first token anyway).
    if (has_leading_f16_scale(t.dtype)) {
      const auto& di = dtype_info(t.dtype);
      const int64_t bad = find_nonfinite_block_scale(w.bytes.data(), w.bytes.size() / di.block_bytes, di.block_bytes);
      if (bad >= 0)
        fail(path_, "tensor " + quoted_for_message(name) + " block " + std::to_string(bad) + " has a NaN or infinite scale",
             t.offset + static_cast<uint64_t>(bad) * di.block_bytes);
    }
    // The K-quants keep their f16 scales (d, and dmin where present) at other offsets.
    if (is_kquant_weight(t.dtype)) {
      const size_t bb = kquant_block_bytes(t.dtype);
      const int64_t bad = find_nonfinite_kquant_scale(t.dtype, w.bytes.data(), w.bytes.size() / bb);
      if (bad >= 0)
        fail(path_, "tensor " + quoted_for_message(name) + " block " + std::to_string(bad) + " has a NaN or infinite scale",
             t.offset + static_cast<uint64_t>(bad) * bb);
    }
    // Regroup the products' quantized weights for the fast kernels (one pass, as long as the
    // scan above) and drop the mapped copy, so the model is in memory once. The embedding
    // stays as it is: the forward pass reads single rows of it.
    if (InterleavedMatrix::supports(t.dtype) && name != gguf_weight_name(LlamaTensor::kTokenEmbd)) {
      w.interleaved = std::make_shared<const InterleavedMatrix>(w.m);
      w.bytes.release_file_pages();
    } else if (is_float_weight(t.dtype) && name != gguf_weight_name(LlamaTensor::kTokenEmbd)) {
      onto_huge_pages(w);
    }
    return w;
  }

  // A 1-D norm weight of `n` values, decoded to floats.
  std::vector<float> vector(const std::string& name, uint64_t n) const {
    const size_t i = index(name);
    const TensorInfo& t = g_.tensors()[i];
    if (t.shape != std::vector<uint64_t>{n})
      fail(path_, "tensor " + quoted_for_message(name) + " has shape " + shape_text(t.shape) + ", expected [" + std::to_string(n) + "] from the hyperparameters", t.offset);
    if (!can_decode(t.dtype) || dtype_nbytes(t.dtype, n) != t.nbytes)
      fail(path_, "tensor " + quoted_for_message(name) + " has type " + std::string(dtype_name(t.dtype)) + ", which lmforge cannot run", t.offset);
    const TensorBytes b = g_.read(i);
    if (b.size() != t.nbytes) fail(path_, "tensor " + quoted_for_message(name) + " data is truncated", t.offset);
    std::vector<float> out(n);
    decode_row(t.dtype, b.data(), out.data(), n);
    return out;
  }

  bool has(const std::string& name) const { return g_.find(name) >= 0; }

 private:
  // F32/F16/BF16 products read their rows in place, 2-4 bytes a weight, so generation is
  // bound by how fast the mapped pages stream: move them onto huge pages
  // (core/huge_page_copy.h) and drop the mapped copy, so the model is in memory once.
  static void onto_huge_pages(LlamaWeight& w) {
    if (!huge_page_copies_wanted()) return;
    HugePageCopy c = huge_page_copy(w.bytes.bytes());
    if (!c.owner) return;
    w.bytes.release_file_pages();
    w.bytes = TensorBytes(c.bytes, std::move(c.owner));
    w.m.data = w.bytes.data();
  }

  LlamaWeight gptq_matrix(const std::string& name, std::shared_ptr<const GptqForm> f, const std::vector<uint64_t>& shape) const {
    if (std::vector<uint64_t>{f->rows(), f->cols()} != shape)
      fail(path_, "GPTQ linear for " + quoted_for_message(name) + " has shape " + shape_text({f->rows(), f->cols()}) + ", expected " + shape_text(shape) + " from the hyperparameters");
    LlamaWeight w;
    w.name = name;
    w.m = MatrixView{f->activation_type(), nullptr, f->rows(), f->cols(), 0};
    w.gptq = std::move(f);
    return w;
  }

  size_t index(const std::string& name) const {
    const ptrdiff_t i = g_.find(name);
    if (i < 0) fail(path_, "tensor " + quoted_for_message(name) + " is missing");
    return static_cast<size_t>(i);
  }

  const GgufReader& g_;
  const std::string& path_;
  const GptqForms* gptq_;
};

}  // namespace

std::unique_ptr<LlamaModel> LlamaModel::open(const std::string& path) {
  return from_gguf(GgufReader::open(path), path);
}

std::unique_ptr<LlamaModel> LlamaModel::from_gguf(std::shared_ptr<const GgufReader> gguf, const std::string& path,
                                                  const GptqForms* gptq) {
  std::unique_ptr<LlamaModel> m(new LlamaModel);
  m->path_ = path;
  m->gguf_ = gguf;
  LlamaConfig& c = m->config_;
  c = llama_config_from_gguf(*gguf, path);
  if (c.num_hidden_layers == 0 || c.hidden_size == 0 || c.intermediate_size == 0 || c.head_dim == 0)
    fail(path, "the llama hyperparameters describe an empty model");
  if (c.head_dim % 2 != 0) fail(path, "llama.attention.key_length " + std::to_string(c.head_dim) + " is odd; RoPE rotates pairs");

  const Loader l(*gguf, path, gptq);
  const uint64_t embd = c.hidden_size, ff = c.intermediate_size;
  const uint64_t q_dim = uint64_t{c.num_attention_heads} * c.head_dim;
  const uint64_t kv_dim = uint64_t{c.num_key_value_heads} * c.head_dim;

  // The vocabulary size is the embedding's when the metadata does not say (no tokenizer).
  if (c.vocab_size == 0) {
    const ptrdiff_t e = gguf->find(gguf_weight_name(LlamaTensor::kTokenEmbd));
    if (e >= 0 && gguf->tensors()[e].shape.size() == 2) c.vocab_size = static_cast<uint32_t>(gguf->tensors()[e].shape[0]);
    if (c.vocab_size == 0) fail(path, "cannot tell the vocabulary size (no tokenizer.ggml.tokens, no llama.vocab_size)");
  }
  m->tok_embd = l.matrix(gguf_weight_name(LlamaTensor::kTokenEmbd), {c.vocab_size, embd});

  m->layers.resize(c.num_hidden_layers);
  for (uint32_t i = 0; i < c.num_hidden_layers; ++i) {
    using T = LlamaTensor;
    LlamaLayer& L = m->layers[i];
    L.attn_norm = l.vector(gguf_weight_name(T::kAttnNorm, i), embd);
    L.wq = l.matrix(gguf_weight_name(T::kAttnQ, i), {q_dim, embd});
    L.wk = l.matrix(gguf_weight_name(T::kAttnK, i), {kv_dim, embd});
    L.wv = l.matrix(gguf_weight_name(T::kAttnV, i), {kv_dim, embd});
    L.wo = l.matrix(gguf_weight_name(T::kAttnOutput, i), {embd, q_dim});
    L.ffn_norm = l.vector(gguf_weight_name(T::kFfnNorm, i), embd);
    L.w_gate = l.matrix(gguf_weight_name(T::kFfnGate, i), {ff, embd});
    L.w_up = l.matrix(gguf_weight_name(T::kFfnUp, i), {ff, embd});
    L.w_down = l.matrix(gguf_weight_name(T::kFfnDown, i), {embd, ff});
    // Q/K/V biases: all three or none (required for qwen2). Other biases would be ignored by
    // the forward pass, so a file that has them is refused.
    auto bias_name = [&](T id) { return *spell_llama_tensor({id, i, true}, LlamaSpelling::kGguf); };
    const bool any_qkv = l.has(bias_name(T::kAttnQ)) || l.has(bias_name(T::kAttnK)) || l.has(bias_name(T::kAttnV));
    if (any_qkv || c.attention_bias) {
      L.has_qkv_bias = true;
      L.bq = l.vector(bias_name(T::kAttnQ), q_dim);
      L.bk = l.vector(bias_name(T::kAttnK), kv_dim);
      L.bv = l.vector(bias_name(T::kAttnV), kv_dim);
    }
    for (const T id : {T::kAttnOutput, T::kFfnGate, T::kFfnUp, T::kFfnDown})
      if (l.has(bias_name(id))) fail(path, "tensor " + quoted_for_message(bias_name(id)) + " is a bias lmforge's llama forward pass does not have");
  }
  m->output_norm = l.vector(gguf_weight_name(LlamaTensor::kOutputNorm), embd);
  m->tied_output = !l.has(gguf_weight_name(LlamaTensor::kOutput));
  m->output = m->tied_output ? m->tok_embd : l.matrix(gguf_weight_name(LlamaTensor::kOutput), {c.vocab_size, embd});
  // A tied output head reads the embedding as a product too: regroup a copy for that.
  if (m->tied_output && InterleavedMatrix::supports(m->output.m.type))
    m->output.interleaved = std::make_shared<const InterleavedMatrix>(m->output.m);
  return m;
}

}  // namespace lmforge
