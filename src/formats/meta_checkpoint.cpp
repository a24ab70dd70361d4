#include "formats/meta_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/json_strict.h"
#include "formats/pytorch_reader.h"
#include "formats/sentencepiece_model.h"
#include "arch/llama/llama_names.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

std::string dims_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

// "consolidated.NN.pth" -> NN; nullopt for any other name.
std::optional<uint32_t> shard_number(const std::string& name) {
  const std::string head = "consolidated.", tail = ".pth";
  if (name.size() <= head.size() + tail.size() || name.rfind(head, 0) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
    return std::nullopt;
  const std::string digits = name.substr(head.size(), name.size() - head.size() - tail.size());
  if (digits.size() > 4) return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  return static_cast<uint32_t>(std::stoul(digits));
}

// How fairscale's model-parallel layers in Meta's model.py cut a tensor across ranks:
// ColumnParallelLinear splits output rows (dim 0), RowParallelLinear input columns (dim 1),
// norms are replicated. The embedding depends on the release (see embedding_split).
enum class Split { kReplicated, kRows, kCols };

std::string layer_part(const std::string& name) {
  if (name.rfind("layers.", 0) != 0) return name;
  const size_t dot = name.find('.', 7);
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

std::optional<Split> split_of_kind(const std::string& name) {
  const std::string part = layer_part(name);
  for (const char* rows : {"attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "feed_forward.w1.weight",
                           "feed_forward.w3.weight", "output.weight"})
    if (part == rows) return Split::kRows;
  for (const char* cols : {"attention.wo.weight", "feed_forward.w2.weight"})
    if (part == cols) return Split::kCols;
  for (const char* rep : {"attention_norm.weight", "ffn_norm.weight", "norm.weight", "rope.freqs"})
    if (part == rep) return Split::kReplicated;
  return std::nullopt;  // tok_embeddings: decided from its shape
}

// LLaMA 1/2 use ParallelEmbedding (split along the embedding width, dim 1); Llama 3 uses
// VocabParallelEmbedding (split along the vocabulary, dim 0). With more than one shard the
// piece's width tells which: dim/n for the first, dim for the second.
Split embedding_split(const TensorInfo& piece, size_t n_shards, uint64_t dim, const std::string& file) {
  if (piece.shape.size() != 2) fail(file, "tok_embeddings.weight is not a matrix: " + dims_text(piece.shape));
  if (n_shards == 1) return Split::kReplicated;
  if (piece.shape[1] == dim) return Split::kRows;
  if (piece.shape[1] * n_shards == dim) return Split::kCols;
  fail(file, "tok_embeddings.weight pieces are " + dims_text(piece.shape) + ", which split neither the vocabulary nor params.json's dim " +
                 std::to_string(dim) + " across " + std::to_string(n_shards) + " shards");
}

struct MergedTensor {
  Split split = Split::kReplicated;
  std::vector<size_t> piece;  // index of this tensor in each shard
};

// The shards seen as one model: read(i) builds tensor i from every shard's piece, so at
// most one whole tensor is in memory at a time.
class MergedMetaSource : public TensorSource {
 public:
  std::string format_description() const override {
    return "Meta consolidated checkpoint (" + std::to_string(shards_.size()) + " model-parallel shard" +
           (shards_.size() == 1 ? "" : "s") + " merged)";
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  nlohmann::json metadata() const override { return metadata_; }

  TensorBytes read(size_t index) const override {
    if (index >= merged_.size()) fail(dir_, "tensor index out of range");
    const MergedTensor& m = merged_[index];
    if (m.split == Split::kReplicated) return shards_[0]->read(m.piece[0]);
    const TensorInfo& out = infos_[index];
    std::vector<uint8_t> buf(out.nbytes);
    const uint64_t piece_bytes = out.nbytes / shards_.size();
    if (m.split == Split::kRows) {
      for (size_t k = 0; k < shards_.size(); ++k) {
        TensorBytes b = shards_[k]->read(m.piece[k]);
        if (b.size() != piece_bytes) fail(shards_[k]->tensors()[m.piece[k]].file, "tensor " + quoted_for_message(out.name) + " has an unexpected size");
        std::memcpy(buf.data() + k * piece_bytes, b.data(), piece_bytes);
        b.release_file_pages();
      }
    } else {
      // Column split: each output row is the shards' row pieces side by side.
      const uint64_t rows = out.shape[0];
      if (rows == 0 || piece_bytes == 0) return TensorBytes(std::move(buf));
      const uint64_t piece_row = piece_bytes / rows;
      for (size_t k = 0; k < shards_.size(); ++k) {
        TensorBytes b = shards_[k]->read(m.piece[k]);
        if (b.size() != piece_bytes) fail(shards_[k]->tensors()[m.piece[k]].file, "tensor " + quoted_for_message(out.name) + " has an unexpected size");
        for (uint64_t r = 0; r < rows; ++r)
          std::memcpy(buf.data() + r * piece_row * shards_.size() + k * piece_row, b.data() + r * piece_row, piece_row);
        b.release_file_pages();
      }
    }
    return TensorBytes(std::move(buf));
  }

  std::string dir_;
  std::vector<std::unique_ptr<TensorSource>> shards_;
  std::vector<std::string> shard_files_;
  std::vector<TensorInfo> infos_;
  std::vector<MergedTensor> merged_;
  nlohmann::json metadata_ = nlohmann::json::object();
};

// The consolidated.NN.pth files of `dir`, in rank order; refuses gaps in the numbering.
std::vector<std::string> shard_paths(const std::string& dir) {
  std::map<uint32_t, std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (auto n = shard_number(name)) {
      if (!found.emplace(*n, name).second)
        fail(dir, "two files claim shard " + std::to_string(*n) + ": " + found[*n] + " and " + name);
    }
  }
  if (ec) fail(dir, "cannot list the folder: " + ec.message());
  std::vector<std::string> out;
  uint32_t expect = 0;
  for (const auto& [n, name] : found) {
    if (n != expect)
      fail(dir, "model-parallel shards are not numbered 0.." + std::to_string(found.size() - 1) + ": found " + name +
                    " but no shard " + std::to_string(expect));
    out.push_back((fs::path(dir) / name).string());
    ++expect;
  }
  if (out.empty()) fail(dir, "no consolidated.NN.pth file");
  return out;
}

// A positive integer field of params.json.
uint32_t param_u32(const nlohmann::json& p, const char* key, const std::string& file, std::optional<uint32_t> fallback = std::nullopt) {
  if (!p.contains(key) || p[key].is_null()) {
    if (fallback) return *fallback;
    fail(file, std::string("missing \"") + key + "\"");
  }
  const auto& v = p[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > int64_t{1} << 30)
    fail(file, std::string("\"") + key + "\" must be a positive integer");
  return static_cast<uint32_t>(v.get<int64_t>());
}

std::optional<double> param_f64(const nlohmann::json& p, const char* key, const std::string& file) {
  if (!p.contains(key) || p[key].is_null()) return std::nullopt;
  if (!p[key].is_number()) fail(file, std::string("\"") + key + "\" must be a number");
  const double v = p[key].get<double>();
  if (!std::isfinite(v) || v <= 0) fail(file, std::string("\"") + key + "\" must be positive");
  return v;
}

}  // namespace

uint32_t meta_ffn_width(uint32_t dim, uint32_t multiple_of, std::optional<double> ffn_dim_multiplier) {
  // model.py: hidden = int(2 * 4*dim / 3); hidden = int(multiplier * hidden) when given;
  // rounded up to a multiple of multiple_of.
  uint64_t h = (uint64_t{8} * dim) / 3;
  if (ffn_dim_multiplier) h = static_cast<uint64_t>(*ffn_dim_multiplier * static_cast<double>(h));
  const uint64_t m = std::max<uint32_t>(multiple_of, 1);
  h = m * ((h + m - 1) / m);
  return static_cast<uint32_t>(std::min<uint64_t>(h, UINT32_MAX));
}

LlamaConfig meta_config_from_params(const nlohmann::json& root, const std::string& file) {
  if (!root.is_object()) fail(file, "params.json is not a JSON object");
  // Some releases nest ModelArgs under "model".
  const nlohmann::json& p = root.contains("model") && root["model"].is_object() && !root.contains("dim") ? root["model"] : root;
  LlamaConfig c;
  c.hidden_size = param_u32(p, "dim", file);
  c.num_hidden_layers = param_u32(p, "n_layers", file);
  c.num_attention_heads = param_u32(p, "n_heads", file);
  c.num_key_value_heads = c.num_attention_heads;
  if (p.contains("n_kv_heads") && !p["n_kv_heads"].is_null()) {
    c.num_key_value_heads = param_u32(p, "n_kv_heads", file);
    c.has_num_key_value_heads = true;
  }
  if (c.hidden_size % c.num_attention_heads != 0) fail(file, "\"dim\" is not a multiple of \"n_heads\"");
  if (c.num_attention_heads % c.num_key_value_heads != 0) fail(file, "\"n_heads\" is not a multiple of \"n_kv_heads\"");
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (c.head_dim % 2 != 0) fail(file, "head dimension dim/n_heads is odd; rotary embeddings need pairs");
  const uint32_t multiple_of = param_u32(p, "multiple_of", file, 256u);
  c.intermediate_size = meta_ffn_width(c.hidden_size, multiple_of, param_f64(p, "ffn_dim_multiplier", file));
  c.rms_norm_eps = static_cast<float>(param_f64(p, "norm_eps", file).value_or(1e-5));
  if (auto theta = param_f64(p, "rope_theta", file)) {
    c.rope_theta = static_cast<float>(*theta);
    c.has_rope_theta = true;
  }
  // vocab_size is -1 in LLaMA 1/2 ("from the tokenizer"): the embedding's rows decide.
  if (p.contains("vocab_size") && p["vocab_size"].is_number_integer() && p["vocab_size"].get<int64_t>() > 0)
    c.vocab_size = param_u32(p, "vocab_size", file);
  // params.json has no context length; llama.cpp's converter infers it the same way.
  if (p.contains("max_seq_len"))
    c.max_position_embeddings = param_u32(p, "max_seq_len", file);
  else if (c.has_rope_theta && c.rope_theta == 1000000.0f)
    c.max_position_embeddings = 16384;  // Code Llama
  else if (c.rms_norm_eps == 1e-5f)
    c.max_position_embeddings = 4096;  // Llama 2
  else
    c.max_position_embeddings = 2048;  // LLaMA 1
  c.tie_word_embeddings = false;
  c.torch_dtype = "float16";
  return c;
}

bool is_meta_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / "params.json", ec) &&
         fs::is_regular_file(fs::path(dir) / "consolidated.00.pth", ec);
}

LlamaModelSource open_meta_llama(const std::string& dir) {
  const std::string params_path = (fs::path(dir) / "params.json").string();
  const nlohmann::json params = read_json_file(params_path, 1u << 20);
  LlamaConfig c = meta_config_from_params(params, params_path);

  auto src = std::make_unique<MergedMetaSource>();
  src->dir_ = dir;
  for (const auto& path : shard_paths(dir)) {
    src->shards_.push_back(open_pytorch_checkpoint(path));
    src->shard_files_.push_back(fs::path(path).filename().string());
  }
  const size_t n = src->shards_.size();
  const auto& first = src->shards_[0]->tensors();

  // Every shard must hold the same names with the same piece shapes and types.
  for (size_t k = 1; k < n; ++k) {
    const auto& ts = src->shards_[k]->tensors();
    if (ts.size() != first.size())
      fail(src->shard_files_[k], "holds " + std::to_string(ts.size()) + " tensors but " + src->shard_files_[0] + " holds " +
                                     std::to_string(first.size()));
  }
  for (size_t i = 0; i < first.size(); ++i) {
    const TensorInfo& t0 = first[i];
    MergedTensor m;
    m.piece.push_back(i);
    for (size_t k = 1; k < n; ++k) {
      const TensorSource& s = *src->shards_[k];
      const ptrdiff_t j = s.find(t0.name);
      if (j < 0) fail(s.tensors().empty() ? dir : s.tensors()[0].file, "has no tensor " + quoted_for_message(t0.name) + ", which " + src->shard_files_[0] + " has");
      const TensorInfo& tk = s.tensors()[static_cast<size_t>(j)];
      if (tk.shape != t0.shape || tk.dtype != t0.dtype)
        fail(tk.file, "tensor " + quoted_for_message(t0.name) + " is " + std::string(dtype_name(tk.dtype)) + " " + dims_text(tk.shape) +
                          " here but " + std::string(dtype_name(t0.dtype)) + " " + dims_text(t0.shape) + " in " + src->shard_files_[0]);
      m.piece.push_back(static_cast<size_t>(j));
    }
    auto kind = split_of_kind(t0.name);
    if (!kind) {
      if (t0.name != "tok_embeddings.weight") fail(t0.file, "unexpected tensor " + quoted_for_message(t0.name) + " in a Meta llama checkpoint");
      kind = embedding_split(t0, n, c.hidden_size, t0.file);
    }
    m.split = n == 1 ? Split::kReplicated : *kind;
    TensorInfo info = t0;
    if (m.split != Split::kReplicated) {
      if (t0.shape.size() != 2) fail(t0.file, "tensor " + quoted_for_message(t0.name) + " should be a matrix but is " + dims_text(t0.shape));
      if (dtype_is_quantized(t0.dtype)) fail(t0.file, "tensor " + quoted_for_message(t0.name) + " is quantized and cannot be merged");
      const size_t dim = m.split == Split::kRows ? 0 : 1;
      auto whole = checked_mul(t0.shape[dim], n);
      auto bytes = checked_mul(t0.nbytes, n);
      if (!whole || !bytes) fail(t0.file, "tensor " + quoted_for_message(t0.name) + " is too large");
      info.shape[dim] = *whole;
      info.nbytes = *bytes;
      info.file = dir;
      info.offset = 0;
    }
    src->infos_.push_back(std::move(info));
    src->merged_.push_back(std::move(m));
  }

  // The hyperparameters must describe what the shards hold (a missing shard shows up here).
  const ptrdiff_t emb = src->find("tok_embeddings.weight");
  if (emb < 0) fail(dir, "no tok_embeddings.weight in " + src->shard_files_[0]);
  const uint64_t vocab_rows = src->infos_[static_cast<size_t>(emb)].shape[0];
  if (c.vocab_size == 0) {
    if (vocab_rows == 0 || vocab_rows > UINT32_MAX) fail(dir, "tok_embeddings.weight has an impossible vocabulary size");
    c.vocab_size = static_cast<uint32_t>(vocab_rows);
  }
  for (const auto& t : src->infos_) {
    if (is_ignored_meta_tensor(t.name)) continue;
    auto gguf = meta_to_gguf_name(t.name);
    if (!gguf) fail(dir, "unexpected tensor " + quoted_for_message(t.name));
    auto expect = llama_tensor_shape(*gguf, c);
    if (!expect) fail(params_path, "tensor " + quoted_for_message(t.name) + " is outside the " + std::to_string(c.num_hidden_layers) + " layers params.json declares");
    if (*expect != t.shape)
      fail(params_path, "implies " + dims_text(*expect) + " for " + quoted_for_message(t.name) + " but the " + std::to_string(n) +
                            " shard(s) hold " + dims_text(t.shape) + " (a shard missing, or params.json from another model?)");
  }

  LlamaModelSource m;
  m.path = dir;
  m.naming = LlamaNaming::kMeta;
  m.description = src->format_description();
  m.name = fs::path(dir).filename().string();
  if (m.name.empty()) m.name = fs::path(dir).parent_path().filename().string();
  const nlohmann::json& p = params.contains("model") && params["model"].is_object() && !params.contains("dim") ? params["model"] : params;
  if (p.contains("use_scaled_rope") && p["use_scaled_rope"].is_boolean() && p["use_scaled_rope"].get<bool>())
    m.warnings.push_back("params.json asks for Llama 3.1 scaled RoPE, which is not carried over; contexts beyond 8192 tokens will differ");

  // tokenizer.model sits beside the shards, or one folder up as in the LLaMA 1 release.
  for (const fs::path& tok : {fs::path(dir) / "tokenizer.model", fs::path(dir).parent_path() / "tokenizer.model"}) {
    std::error_code ec;
    if (!fs::is_regular_file(tok, ec)) continue;
    auto map = MappedFile::open(tok.string());
    try {
      m.spm = parse_sentencepiece_model(map->bytes(), tok.string());
    } catch (const Error& e) {
      fail(tok.string(), "is not a SentencePiece model (Llama 3's tiktoken vocabulary is not supported): " + std::string(e.what()));
    }
    break;
  }
  if (m.spm) {
    if (m.spm->bos_id >= 0) c.bos_token_id = static_cast<uint32_t>(m.spm->bos_id);
    if (m.spm->eos_id >= 0) c.eos_token_id = static_cast<uint32_t>(m.spm->eos_id);
    if (m.spm->unk_id >= 0) c.unk_token_id = static_cast<uint32_t>(m.spm->unk_id);
    m.tokenizer_kvs = gguf_vocab_from_spm(*m.spm, c.vocab_size, dir);
  } else {
    m.warnings.push_back("no tokenizer.model beside the shards or in the parent folder");
  }

  nlohmann::json md = nlohmann::json::object();
  md["format"] = "meta-consolidated";
  md["params"] = params;
  md["shards"] = src->shard_files_;
  md["n_ff"] = c.intermediate_size;
  md["vocab_size"] = c.vocab_size;
  src->metadata_ = std::move(md);
  m.config = c;
  m.weights = std::move(src);
  return m;
}

}  // namespace lmforge
