// A LLaMA exported to ONNX, mapped back to Hugging Face names.
//
// torch.onnx.export keeps the parameter names of weights used directly (embeddings, norms),
// but a Linear layer becomes a MatMul against a constant holding the weight transposed to
// [in, out], named like "onnx::MatMul_1234". The MatMul node keeps the module path
// ("/model/layers.0/self_attn/q_proj/MatMul"), which gives the Hugging Face name back; the
// values are transposed to [out, in] on read. Head counts cannot be inferred from shapes, so
// the config comes from config.json beside the file (optimum exports ship one) or from the
// `lmforge.llama_config` metadata entry lmforge's own writer stores.
#include "convert/sources/onnx_llama_source.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "arch/llama/llama_config_json.h"
#include "arch/llama/llama_names.h"
#include "convert/gguf_vocab.h"
#include "convert/onnx_llama_metadata.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/hf_folder.h"
#include "formats/json_strict.h"
#include "formats/onnx/onnx_reader.h"
#include "formats/onnx/onnx_source.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

// out[r][c] = in[c][r] for a stored [cols, rows] matrix, in tiles so that both the reads and
// the writes stay within a few cache lines.
template <typename T>
void transpose_into(const uint8_t* in_bytes, uint8_t* out_bytes, uint64_t rows, uint64_t cols) {
  constexpr uint64_t kTile = 32;
  for (uint64_t r0 = 0; r0 < rows; r0 += kTile)
    for (uint64_t c0 = 0; c0 < cols; c0 += kTile)
      for (uint64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (uint64_t c = c0; c < std::min(cols, c0 + kTile); ++c) {
          T v;
          std::memcpy(&v, in_bytes + (c * rows + r) * sizeof(T), sizeof(T));
          std::memcpy(out_bytes + (r * cols + c) * sizeof(T), &v, sizeof(T));
        }
}

// The source tensors under their llama names, some transposed.
class RenamedSource final : public TensorSource {
 public:
  struct Entry {
    size_t index;     // in the ONNX source
    bool transposed;  // stored [in, out]: swap the two dims on read
  };
  RenamedSource(std::unique_ptr<OnnxSource> src, std::vector<TensorInfo> infos, std::vector<Entry> entries)
      : src_(std::move(src)), infos_(std::move(infos)), entries_(std::move(entries)) {}

  std::string format_description() const override { return src_->format_description(); }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  nlohmann::json metadata() const override { return src_->metadata(); }
  std::vector<std::string> warnings() const override { return src_->warnings(); }

  TensorBytes read(size_t i) const override {
    const Entry& e = entries_.at(i);
    TensorBytes b = src_->read(e.index);
    if (!e.transposed) return b;
    // Output row r (an output feature) gathers column r of the stored [in, out] matrix.
    const TensorInfo& t = infos_[i];
    const uint64_t rows = t.shape[0], cols = t.shape[1];  // output shape [out, in]
    const uint64_t w = dtype_info(t.dtype).block_bytes;
    std::vector<uint8_t> out(t.nbytes);
    const uint8_t* in = b.data();
    switch (w) {
      case 1: transpose_into<uint8_t>(in, out.data(), rows, cols); break;
      case 2: transpose_into<uint16_t>(in, out.data(), rows, cols); break;
      case 4: transpose_into<uint32_t>(in, out.data(), rows, cols); break;
      case 8: transpose_into<uint64_t>(in, out.data(), rows, cols); break;
      default: fail(src_->path(), "cannot transpose " + quoted_for_message(t.name) + ": element size " + std::to_string(w));
    }
    b.release_file_pages();
    return TensorBytes(std::move(out));
  }

 private:
  std::unique_ptr<OnnxSource> src_;
  std::vector<TensorInfo> infos_;
  std::vector<Entry> entries_;
};

// "/model/layers.0/self_attn/q_proj/MatMul" -> "model.layers.0.self_attn.q_proj.weight", by
// the ONNX column of the llama table.
std::optional<std::string> hf_name_of_matmul(const std::string& node) {
  const auto t = parse_llama_tensor_name(node, LlamaSpelling::kOnnxMatMul);
  if (!t) return std::nullopt;
  return spell_llama_tensor(*t, LlamaSpelling::kHuggingFace);
}

// The config from config.json beside the file, else from lmforge's metadata entry; `json`
// receives the JSON it was read from.
LlamaConfig read_config(const OnnxSource& src, const std::string& path, nlohmann::json& json) {
  const fs::path beside = fs::path(path).parent_path() / "config.json";
  std::error_code ec;
  if (fs::is_regular_file(beside, ec)) {
    json = read_json_file(beside.string(), 16u << 20);
    return llama_config_from_json(json, beside.string());
  }
  if (const std::string* text = src.metadata_value(std::string(kOnnxLlamaConfigKey))) {
    json = parse_json_strict(*text, path, 0);
    return llama_config_from_json(json, path + " (metadata " + std::string(kOnnxLlamaConfigKey) + ")");
  }
  fail(path, "no config.json beside the file and no " + std::string(kOnnxLlamaConfigKey) +
                 " metadata entry: the head counts of a llama cannot be inferred from its weights");
}

// Everything but the tokenizer: config (its JSON into `config_json`), weights under llama
// names, naming, warnings.
LlamaModelSource onnx_llama_weights(const std::string& path, nlohmann::json& config_json) {
  auto src = OnnxSource::open(path);
  LlamaModelSource m;
  m.path = path;
  m.name = fs::path(path).stem().string();
  m.config = read_config(*src, path, config_json);

  // Which tensors a MatMul consumes as its weight, and the name its node gives them.
  std::map<std::string, std::vector<std::string>> matmul_names;
  for (const auto& mm : src->model().matmuls)
    if (auto n = hf_name_of_matmul(mm.name)) matmul_names[mm.weight_input].push_back(*n);
    else if (hf_to_gguf_name(mm.weight_input)) matmul_names[mm.weight_input].push_back(mm.weight_input);

  std::vector<TensorInfo> infos;
  std::vector<RenamedSource::Entry> entries;
  std::map<std::string, size_t> seen;
  size_t transposed = 0, skipped = 0, hf_named = 0, gguf_named = 0;
  auto add = [&](size_t index, const std::string& name, bool transpose) {
    TensorInfo t = src->tensors()[index];
    if (transpose) {
      if (t.shape.size() != 2) fail(path, "MatMul weight " + quoted_for_message(t.name) + " for " + name + " is not a matrix", t.offset);
      std::swap(t.shape[0], t.shape[1]);
      ++transposed;
    }
    if (seen.count(name)) fail(path, "two ONNX tensors map to " + name + " (" + quoted_for_message(infos[seen[name]].name) + " and " + quoted_for_message(t.name) + ")", t.offset);
    seen[name] = infos.size();
    t.name = name;
    infos.push_back(std::move(t));
    entries.push_back({index, transpose});
  };
  for (size_t i = 0; i < src->tensors().size(); ++i) {
    const std::string& name = src->tensors()[i].name;
    auto mm = matmul_names.find(name);
    if (mm != matmul_names.end()) {
      for (const auto& n : mm->second) add(i, n, true);
    } else if (hf_to_gguf_name(name)) {
      add(i, name, false);  // used directly (Gather, Mul) or by a Transpose/Gemm: [out, in] already
      ++hf_named;
    } else if (llama_tensor_shape(name, m.config)) {
      add(i, name, false);  // written by lmforge from a GGUF: GGUF names and row order
      ++gguf_named;
    } else {
      ++skipped;  // shape constants, rotary caches, ...
    }
  }
  if (infos.empty()) fail(path, "no llama weights found (neither Hugging Face names nor MatMul nodes named after llama modules)");
  m.description = "ONNX export (" + std::to_string(transposed) + " MatMul weights transposed back to [out, in])";
  if (skipped) m.warnings.push_back(std::to_string(skipped) + " ONNX tensors that are not llama weights were skipped");
  for (const auto& w : src->warnings()) m.warnings.push_back(w);
  if (gguf_named && (hf_named || transposed)) fail(path, "the tensors mix GGUF names and Hugging Face names");
  m.naming = gguf_named ? LlamaNaming::kGguf : LlamaNaming::kHuggingFace;
  m.weights = std::make_unique<RenamedSource>(std::move(src), std::move(infos), std::move(entries));
  return m;
}

}  // namespace

LlamaModelSource open_onnx_llama(const std::string& path) {
  nlohmann::json config_json;
  LlamaModelSource m = onnx_llama_weights(path, config_json);
  const fs::path tok = fs::path(path).parent_path() / "tokenizer.model";
  std::error_code ec;
  if (!fs::is_regular_file(tok, ec))
    fail(path, "no tokenizer.model beside the file: a llama model needs its SentencePiece vocabulary (copy it next to the .onnx)");
  auto tf = MappedFile::open(tok.string());
  m.spm = parse_sentencepiece_model(tf->bytes(), tok.string());
  m.tokenizer_kvs = gguf_vocab_from_spm(*m.spm, m.config.vocab_size, tok.string());
  return m;
}

LlamaModelSource open_onnx_llama_folder(const std::string& dir) {
  const auto model = onnx_folder_model(dir);
  if (!model) fail(dir, "no ONNX model in this folder (expected model.onnx, decoder_model_merged.onnx or decoder_model.onnx)");
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "config.json", ec))
    fail(dir, "no config.json in this ONNX export folder: the head counts of a llama cannot be inferred from its weights");
  // The tokenizer as a Hugging Face folder has it: tokenizer.model with tokenizer_config.json,
  // special_tokens_map.json and added_tokens.json when present.
  HfModel files;
  files.dir = dir;
  read_hf_tokenizer_files(dir, files);
  if (!files.tokenizer) {
    const bool fast_only = fs::is_regular_file(fs::path(dir) / "tokenizer.json", ec);
    fail(dir, fast_only ? "has tokenizer.json but no tokenizer.model: lmforge reads llama's SentencePiece vocabulary from tokenizer.model"
                        : "no tokenizer.model in this ONNX export folder: a llama model needs its SentencePiece vocabulary");
  }
  nlohmann::json config_json;
  LlamaModelSource m = onnx_llama_weights(*model, config_json);
  m.path = dir;
  m.description = "ONNX export folder, " + m.description;
  m.name = folder_model_name(dir, config_json);  // as a Hugging Face folder's (optimum keeps _name_or_path)
  m.tokenizer_kvs = gguf_vocab_from_hf(files, m.config, m.config.vocab_size);
  m.spm = files.tokenizer;
  return m;
}

}  // namespace lmforge
