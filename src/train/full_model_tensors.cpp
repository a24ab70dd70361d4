#include "train/full_model_tensors.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "engine/llama_model.h"
#include "kernels/matmul_ref.h"
#include "train/train_rng.h"

namespace lmforge {

namespace {

const char* const kLayerNames[kTensorsPerLayer] = {"attn_norm", "attn_q", "attn_k",   "attn_v", "attn_output",
                                                    "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};

// A standard normal from two uniform doubles of 53 bits (Box-Muller, the cosine branch only, so
// every draw consumes exactly two words and the sequence does not depend on a cached value).
double standard_normal(TrainRng& rng) {
  const double u1 = (static_cast<double>(rng.next_u64() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Memory-mapped model bytes stay owned by the TensorSource: a copy of the values as bytes.
class TrainedTensorSource final : public TensorSource {
 public:
  explicit TrainedTensorSource(std::vector<TensorInfo> infos, std::vector<TensorBytes> bytes)
      : infos_(std::move(infos)), bytes_(std::move(bytes)) {}
  std::string format_description() const override { return "lmforge train (f32 in memory)"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorBytes read(size_t index) const override { return bytes_.at(index); }

 private:
  std::vector<TensorInfo> infos_;
  std::vector<TensorBytes> bytes_;
};

}  // namespace

FullLayout full_layout(const LlamaConfig& c) {
  FullLayout l;
  l.n_layers = c.num_hidden_layers;
  l.tied = c.tie_word_embeddings;
  return l;
}

void check_full_trainable(const LlamaConfig& c, const std::string& where) {
  if (rope_neox(c) || c.attention_bias)
    throw Error(where, "full training supports plain llama models (no NEOX rotation, no attention biases)");
  if (c.rope_scaling_linear || c.rope_scaling_llama3 || !c.rope_freq_factors.empty())
    throw Error(where, "full training does not support rope scaling");
  if (c.vocab_size == 0 || c.hidden_size == 0 || c.intermediate_size == 0 || c.num_hidden_layers == 0 ||
      c.num_attention_heads == 0 || c.num_key_value_heads == 0)
    throw Error(where, "every size of the model must be at least 1");
  if (c.hidden_size % c.num_attention_heads != 0)
    throw Error(where, "hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                           std::to_string(c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw Error(where, "num_attention_heads is not a multiple of num_key_value_heads");
  if (c.head_dim != c.hidden_size / c.num_attention_heads)
    throw Error(where, "head_dim must be hidden_size / num_attention_heads");
  if (c.head_dim % 2 != 0) throw Error(where, "the head size must be even (rotary pairs)");
  // The engine's f32 products read rows in whole blocks of this many columns.
  if (c.hidden_size % 32 != 0 || c.intermediate_size % 32 != 0)
    throw Error(where, "hidden_size and intermediate_size must be multiples of 32");
  // 2^34 floats (64 GiB) per tensor, times four (value, two moments, gradient), is far beyond
  // what this trainer is for; refusing early keeps the size arithmetic from overflowing.
  const uint64_t big = uint64_t{1} << 34;
  if (uint64_t{c.vocab_size} * c.hidden_size > big || uint64_t{c.intermediate_size} * c.hidden_size > big ||
      c.num_hidden_layers > 4096 || c.hidden_size > (1u << 20))
    throw Error(where, "the model is too large for the full trainer");
}

std::vector<TrainedTensor> full_tensor_shapes(const LlamaConfig& c) {
  const uint64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const uint64_t Q = uint64_t{c.num_attention_heads} * c.head_dim, KV = uint64_t{c.num_key_value_heads} * c.head_dim;
  std::vector<TrainedTensor> out;
  auto add = [&](std::string name, std::vector<uint64_t> shape) {
    TrainedTensor t;
    t.name = std::move(name);
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    t.shape = std::move(shape);
    t.value.assign(n, 0.0f);
    t.adam_m.assign(n, 0.0f);
    t.adam_v.assign(n, 0.0f);
    out.push_back(std::move(t));
  };
  add("token_embd.weight", {V, H});
  const std::vector<uint64_t> shapes[kTensorsPerLayer] = {{H}, {Q, H}, {KV, H}, {KV, H}, {H, Q},
                                                          {H}, {F, H}, {F, H},  {H, F}};
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    for (size_t k = 0; k < kTensorsPerLayer; ++k)
      add("blk." + std::to_string(l) + "." + kLayerNames[k] + ".weight", shapes[k]);
  }
  add("output_norm.weight", {H});
  if (!c.tie_word_embeddings) add("output.weight", {V, H});
  return out;
}

void init_full_tensors(std::vector<TrainedTensor>& tensors, uint64_t seed) {
  TrainRng rng(mix_seed(seed, kFullInitStream));
  for (TrainedTensor& t : tensors) {
    if (t.shape.size() == 1) {
      std::fill(t.value.begin(), t.value.end(), 1.0f);
      continue;
    }
    for (float& x : t.value) x = static_cast<float>(0.02 * standard_normal(rng));
  }
}

void copy_from_model(const LlamaModel& model, std::vector<TrainedTensor>& tensors) {
  const FullLayout lay{model.layers.size(), model.tied_output};
  if (tensors.size() != lay.count())
    throw Error(model.path(), "the model's tensors (tied embeddings, layers) differ from the configured shape");
  auto matrix = [&](const LlamaWeight& w, size_t index) {
    TrainedTensor& t = tensors.at(index);
    if (t.shape.size() != 2 || t.shape[0] != w.m.rows || t.shape[1] != w.m.cols || w.gptq || !w.m.data)
      throw Error(model.path(), w.name + " has shape [" + std::to_string(w.m.rows) + ", " + std::to_string(w.m.cols) +
                                    "], the configuration wants " + shape_text(t.shape));
    for (uint64_t r = 0; r < w.m.rows; ++r) matrix_row_ref(w.m, r, &t.value[r * w.m.cols]);
  };
  auto vec = [&](const std::vector<float>& v, size_t index, const std::string& name) {
    TrainedTensor& t = tensors.at(index);
    if (t.value.size() != v.size()) throw Error(model.path(), name + " has the wrong size");
    t.value = v;
  };
  matrix(model.tok_embd, lay.embd());
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& L = model.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    vec(L.attn_norm, lay.layer(l, kAttnNorm), p + "attn_norm.weight");
    matrix(L.wq, lay.layer(l, kWq));
    matrix(L.wk, lay.layer(l, kWk));
    matrix(L.wv, lay.layer(l, kWv));
    matrix(L.wo, lay.layer(l, kWo));
    vec(L.ffn_norm, lay.layer(l, kFfnNorm), p + "ffn_norm.weight");
    matrix(L.w_gate, lay.layer(l, kWGate));
    matrix(L.w_up, lay.layer(l, kWUp));
    matrix(L.w_down, lay.layer(l, kWDown));
  }
  vec(model.output_norm, lay.output_norm(), "output_norm.weight");
  if (!lay.tied) matrix(model.output, lay.output());
}

LlamaModelSource full_model_source(const LlamaConfig& c, const std::vector<TrainedTensor>& tensors,
                                   std::vector<GgufKv> tokenizer_kvs, std::optional<SentencePieceModel> spm,
                                   const std::string& name) {
  std::vector<TensorInfo> infos;
  std::vector<TensorBytes> bytes;
  for (const TrainedTensor& t : tensors) {
    TensorInfo info;
    info.name = t.name;
    info.dtype = DType::F32;
    info.shape = t.shape;
    info.nbytes = t.value.size() * sizeof(float);
    infos.push_back(std::move(info));
    bytes.push_back(tensor_bytes_of(t.value));
  }
  LlamaModelSource s;
  s.path = name;
  s.name = name;
  s.description = "model trained by lmforge train";
  s.config = c;
  s.naming = LlamaNaming::kGguf;
  s.weights = std::make_unique<TrainedTensorSource>(std::move(infos), std::move(bytes));
  s.tokenizer_kvs = std::move(tokenizer_kvs);
  s.spm = std::move(spm);
  return s;
}

}  // namespace lmforge
