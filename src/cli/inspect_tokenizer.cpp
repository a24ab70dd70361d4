#include "cli/inspect_tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/json_strict.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wordpiece_gguf.h"
#include "tokenizer/wordpiece_vocab.h"

namespace lmforge::cli {

namespace {

namespace fs = std::filesystem;

enum class Kind { kNone, kLlama, kWordPiece };

// A folder's tokenizer.json names its model type; a WordPiece one (BERT) is not for
// load_tokenizer, which reads SentencePiece and byte-level BPE.
bool tokenizer_json_is_wordpiece(const fs::path& file) {
  const nlohmann::json j = read_json_file(file.string());
  const auto model = j.is_object() ? j.find("model") : j.end();
  if (model == j.end() || !model->is_object()) return false;
  const auto type = model->find("type");
  return type != model->end() && type->is_string() && type->get<std::string>() == "WordPiece";
}

Kind kind_of(const std::string& path, FileFormat fmt, const TensorSource& src) {
  if (const auto* g = dynamic_cast<const GgufReader*>(&src)) {
    const GgufValue* m = g->find_kv("tokenizer.ggml.model");
    if (!m || m->type != GgufType::STRING) return Kind::kNone;
    if (m->s == "llama" || m->s == "gpt2") return Kind::kLlama;
    return m->s == "bert" ? Kind::kWordPiece : Kind::kNone;
  }
  if (fmt != FileFormat::kHfFolder) return Kind::kNone;
  std::error_code ec;
  const fs::path dir(path);
  if (fs::is_regular_file(dir / "tokenizer.model", ec)) return Kind::kLlama;
  if (fs::is_regular_file(dir / "tokenizer.json", ec)) return tokenizer_json_is_wordpiece(dir / "tokenizer.json") ? Kind::kWordPiece : Kind::kLlama;
  return fs::is_regular_file(dir / "vocab.txt", ec) ? Kind::kWordPiece : Kind::kNone;
}

std::string id_text(int32_t id) { return id < 0 ? "none" : std::to_string(id); }

TokenizerSummary llama_family(const std::string& path) {
  TokenizerSummary s;
  const auto tok = load_tokenizer(path);
  const auto* bpe = dynamic_cast<const BpeTokenizer*>(tok.get());
  auto& t = s.facts;
  t = {{"kind", tok->kind()}, {"family", bpe ? "byte-level BPE" : "SentencePiece"}, {"description", tok->description()},
       {"tokens", tok->size()}, {"bos_id", tok->bos_id()}, {"eos_id", tok->eos_id()}, {"eog_ids", tok->eog_ids()},
       {"add_bos", tok->add_bos()}};
  if (bpe) t["pre_tokenizer"] = bpe_pre_tokenizer_name(bpe->vocab().pre_tokenizer);
  std::string eog;
  for (int32_t id : tok->eog_ids()) eog += (eog.empty() ? "" : ", ") + std::to_string(id);
  s.lines.push_back(tok->description() + ", " + std::to_string(tok->size()) + " tokens");
  s.lines.push_back("bos " + id_text(tok->bos_id()) + ", eos " + id_text(tok->eos_id()) + ", end of generation [" + eog +
                    "], add_bos " + (tok->add_bos() ? "yes" : "no"));
  return s;
}

TokenizerSummary wordpiece(const std::string& path, const TensorSource& src) {
  TokenizerSummary s;
  const auto* g = dynamic_cast<const GgufReader*>(&src);
  const WordPieceVocab v = g ? wordpiece_vocab_from_gguf(*g, path) : load_wordpiece_vocab(path);
  s.facts = {{"kind", "bert"}, {"family", "WordPiece"}, {"description", "WordPiece"}, {"tokens", v.size()},
             {"unk_id", v.unk_id}, {"cls_id", v.cls_id}, {"sep_id", v.sep_id}, {"pad_id", v.pad_id}, {"mask_id", v.mask_id},
             {"lowercase", v.settings.lowercase}};
  s.lines.push_back("WordPiece" + std::string(v.settings.lowercase ? " (lower-case)" : "") + ", " + std::to_string(v.size()) + " tokens");
  s.lines.push_back("[CLS] " + id_text(v.cls_id) + ", [SEP] " + id_text(v.sep_id) + ", [UNK] " + id_text(v.unk_id) + ", [PAD] " +
                    id_text(v.pad_id) + ", [MASK] " + id_text(v.mask_id));
  return s;
}

}  // namespace

TokenizerSummary summarize_tokenizer(const std::string& path, FileFormat fmt, const TensorSource& src) {
  try {
    switch (kind_of(path, fmt, src)) {
      case Kind::kNone: return {};
      case Kind::kLlama: return llama_family(path);
      case Kind::kWordPiece: return wordpiece(path, src);
    }
  } catch (const Error& e) {
    return {{{"error", e.what()}}, {std::string("unreadable: ") + e.what()}};
  }
  return {};
}

}  // namespace lmforge::cli
