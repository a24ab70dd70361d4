#include "convert/sources/meta_llama_source.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "arch/llama/llama_config_meta.h"
#include "arch/llama/llama_names.h"
#include "convert/gguf_vocab.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/json_strict.h"
#include "formats/meta_checkpoint.h"
#include "formats/sentencepiece_model.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

// LLaMA 1/2 use ParallelEmbedding (split along the embedding width, dim 1); Llama 3 uses
// VocabParallelEmbedding (split along the vocabulary, dim 0). With more than one shard the
// piece's width tells which: dim/n for the first, dim for the second.
ShardSplit embedding_split(const TensorInfo& piece, size_t n_shards, uint64_t dim, const std::string& file) {
  if (piece.shape.size() != 2) fail(file, piece.name + " is not a matrix: " + shape_text(piece.shape));
  if (n_shards == 1) return ShardSplit::kReplicated;
  if (piece.shape[1] == dim) return ShardSplit::kRows;
  if (piece.shape[1] * n_shards == dim) return ShardSplit::kCols;
  fail(file, piece.name + " pieces are " + shape_text(piece.shape) + ", which split neither the vocabulary nor params.json's dim " +
                 std::to_string(dim) + " across " + std::to_string(n_shards) + " shards");
}

// How Meta's model.py cut each tensor, from the llama table's Meta split column.
ShardSplit meta_split_of(const TensorInfo& piece, size_t n_shards, uint64_t dim) {
  if (is_ignored_meta_tensor(piece.name)) return ShardSplit::kReplicated;  // rope.freqs
  const auto t = parse_llama_tensor_name(piece.name, LlamaSpelling::kMeta);
  if (!t) fail(piece.file, "unexpected tensor " + quoted_for_message(piece.name) + " in a Meta llama checkpoint");
  switch (llama_tensor_row(t->id).meta_split) {
    case MetaSplit::kReplicated: return ShardSplit::kReplicated;
    case MetaSplit::kRows: return ShardSplit::kRows;
    case MetaSplit::kCols: return ShardSplit::kCols;
    case MetaSplit::kByShape: break;
  }
  return embedding_split(piece, n_shards, dim, piece.file);
}

}  // namespace

LlamaModelSource open_meta_llama(const std::string& dir) {
  const std::string params_path = (fs::path(dir) / "params.json").string();
  const nlohmann::json params = read_json_file(params_path, 1u << 20);
  LlamaConfig c = meta_config_from_params(params, params_path);
  auto src = open_model_parallel_shards(dir, meta_shard_paths(dir), [&](const TensorInfo& piece, size_t n) {
    return meta_split_of(piece, n, c.hidden_size);
  });

  // The hyperparameters must describe what the shards hold (a missing shard shows up here).
  const std::string embedding = *spell_llama_tensor({LlamaTensor::kTokenEmbd, 0, false}, LlamaSpelling::kMeta);
  const ptrdiff_t emb = src->find(embedding);
  if (emb < 0) fail(dir, "no " + embedding + " in " + src->shard_files()[0]);
  const uint64_t vocab_rows = src->tensors()[static_cast<size_t>(emb)].shape[0];
  if (c.vocab_size == 0) {
    if (vocab_rows == 0 || vocab_rows > UINT32_MAX) fail(dir, embedding + " has an impossible vocabulary size");
    c.vocab_size = static_cast<uint32_t>(vocab_rows);
  }
  for (const auto& t : src->tensors()) {
    if (is_ignored_meta_tensor(t.name)) continue;
    auto gguf = meta_to_gguf_name(t.name);
    if (!gguf) fail(dir, "unexpected tensor " + quoted_for_message(t.name));
    auto expect = llama_tensor_shape(*gguf, c);
    if (!expect) fail(params_path, "tensor " + quoted_for_message(t.name) + " is outside the " + std::to_string(c.num_hidden_layers) + " layers params.json declares");
    if (*expect != t.shape)
      fail(params_path, "implies " + shape_text(*expect) + " for " + quoted_for_message(t.name) + " but the " + std::to_string(src->shard_files().size()) +
                            " shard(s) hold " + shape_text(t.shape) + " (a shard missing, or params.json from another model?)");
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
  md["shards"] = src->shard_files();
  md["n_ff"] = c.intermediate_size;
  md["vocab_size"] = c.vocab_size;
  src->set_metadata(std::move(md));
  m.config = c;
  m.weights = std::move(src);
  return m;
}

}  // namespace lmforge
