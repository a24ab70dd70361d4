#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/text_checks.h"
#include "formats/detect/sniff.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/json_strict.h"
#include "tokenizer/bpe_json.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"

namespace lmforge {

namespace {

bool is_special(TokenType t) { return t == TokenType::kControl || t == TokenType::kUserDefined; }

// A tokenizer.json is recognised by content: its first non-blank byte opens an object.
bool starts_like_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c))
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c == '{';
  return false;
}

}  // namespace

void Tokenizer::set_specials(int32_t bos, int32_t eos, bool add_bos, bool add_eos, std::vector<int32_t> eog) {
  bos_id_ = bos;
  eos_id_ = eos;
  add_bos_ = add_bos;
  add_eos_ = add_eos;
  eog_ids_.clear();
  if (eos >= 0) eog_ids_.push_back(eos);
  for (int32_t id : eog)
    if (id >= 0 && std::find(eog_ids_.begin(), eog_ids_.end(), id) == eog_ids_.end()) eog_ids_.push_back(id);
  specials_.clear();
  for (size_t id = 0; id < size(); ++id) {
    const auto i = static_cast<int32_t>(id);
    if (is_special(token_type(i)) && !piece(i).empty()) specials_.push_back(i);
  }
  // Longest first, so that the first match at a position is the longest; ties by id.
  std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) { return piece(a).size() > piece(b).size(); });
}

bool Tokenizer::is_eog(int32_t id) const { return std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end(); }

int32_t Tokenizer::special_token_id(std::string_view text) const {
  for (int32_t id : specials_)
    if (piece(id) == text) return id;
  return -1;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool add_eos, bool parse_special) const {
  std::vector<int32_t> ids;
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  std::vector<int32_t> body = parse_special ? encode_with_specials(text) : encode_text(text);
  ids.insert(ids.end(), body.begin(), body.end());
  if (add_eos && eos_id_ >= 0) ids.push_back(eos_id_);
  return ids;
}

std::vector<int32_t> Tokenizer::encode_with_specials(std::string_view text) const {
  std::vector<int32_t> out;
  const auto encode_plain = [&](std::string_view fragment) {
    if (fragment.empty()) return;
    const auto ids = encode_text(fragment);
    out.insert(out.end(), ids.begin(), ids.end());
  };
  size_t fragment_start = 0;  // start of the plain text not yet encoded
  size_t i = 0;
  while (i < text.size()) {
    int32_t best = -1;  // the longest special token starting at i (a vocabulary has few)
    for (int32_t id : specials_) {
      const std::string& p = piece(id);
      if (text.compare(i, p.size(), p) == 0) {
        best = id;
        break;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    encode_plain(text.substr(fragment_start, i - fragment_start));
    out.push_back(best);
    i += piece(best).size();
    fragment_start = i;
  }
  encode_plain(text.substr(fragment_start));
  return out;
}

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufReader& gguf, const std::string& file) {
  const GgufValue* model = gguf.find_kv("tokenizer.ggml.model");
  if (!model || model->type != GgufType::STRING) fail(file, "no tokenizer.ggml.model key: the file carries no vocabulary");
  if (model->s == "llama") return std::make_unique<SpmTokenizer>(vocab_from_gguf(gguf, file));
  if (model->s == "gpt2") return std::make_unique<BpeTokenizer>(bpe_vocab_from_gguf(gguf, file), file);
  fail(file, "tokenizer model " + quoted_for_message(model->s) + " is not supported; lmforge knows 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)");
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (sniff_format(path) == FileFormat::kGguf) {
    auto gguf = GgufReader::open(path);
    return tokenizer_from_gguf(*gguf, path);
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  // A folder without tokenizer.model but with tokenizer.json is byte-level BPE (Llama 3, Qwen2).
  if (fs::is_directory(path, ec) && !fs::exists(fs::path(path) / "tokenizer.model", ec) &&
      fs::is_regular_file(fs::path(path) / "tokenizer.json", ec))
    return std::make_unique<BpeTokenizer>(load_bpe_folder(path), (fs::path(path) / "tokenizer.json").string());
  if (fs::is_regular_file(path, ec) && starts_like_json(path))
    return std::make_unique<BpeTokenizer>(bpe_vocab_from_tokenizer_json(read_json_file(path), path), path);
  return std::make_unique<SpmTokenizer>(load_vocab(path));
}

}  // namespace lmforge
