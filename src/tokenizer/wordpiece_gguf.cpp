#include "tokenizer/wordpiece_gguf.h"

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/wordpiece_folder.h"

namespace lmforge {

namespace {

constexpr int32_t kControl = 3, kUserDefined = 4;
const std::string kPhantom = "\xE2\x96\x81";  // U+2581

std::optional<int32_t> id_key(const GgufReader& g, const char* key, size_t n, const std::string& file) {
  const GgufValue* v = g.find_kv(key);
  if (!v) return std::nullopt;
  const auto u = v->as_uint();
  if (!u || *u >= n) fail(file, std::string("metadata key ") + key + " is not a token id of the vocabulary");
  return static_cast<int32_t>(*u);
}

std::optional<bool> bool_key(const GgufReader& g, const char* key, const std::string& file) {
  const GgufValue* v = g.find_kv(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::BOOL) fail(file, std::string("metadata key ") + key + " must be a boolean");
  return v->u != 0;
}

}  // namespace

WordPieceVocab wordpiece_vocab_from_gguf(const GgufReader& g, const std::string& file) {
  const GgufValue* model = g.find_kv("tokenizer.ggml.model");
  if (!model || model->type != GgufType::STRING || model->s != "bert")
    fail(file, "tokenizer.ggml.model is not \"bert\": no WordPiece vocabulary");
  const GgufValue* toks = g.find_kv("tokenizer.ggml.tokens");
  if (!toks || toks->type != GgufType::ARRAY || toks->array_type != GgufType::STRING || toks->array.empty())
    fail(file, "tokenizer.ggml.tokens must be a non-empty list of strings");
  const size_t n = toks->array.size();
  if (n > kMaxWordPieceTokens) fail(file, "tokenizer.ggml.tokens has more than " + std::to_string(kMaxWordPieceTokens) + " tokens");
  std::vector<int32_t> types(n, 1);
  if (const GgufValue* t = g.find_kv("tokenizer.ggml.token_type")) {
    if (t->type != GgufType::ARRAY || t->array.size() != n)
      fail(file, "tokenizer.ggml.token_type must have one entry per token");
    for (size_t i = 0; i < n; ++i) {
      if (t->array[i].type != GgufType::INT32) fail(file, "tokenizer.ggml.token_type entries must be int32");
      types[i] = static_cast<int32_t>(t->array[i].i);
    }
  }
  WordPieceFolderFiles f;
  f.folder = file;
  f.vocab_path = file;
  f.config_path = file;
  f.json_path = file;
  std::vector<std::string> vocab(n);
  WordPieceConfigFile cfg;
  for (size_t i = 0; i < n; ++i) {
    const std::string& s = toks->array[i].s;
    if (types[i] == kControl) {
      vocab[i] = s;
    } else if (s.compare(0, kPhantom.size(), kPhantom) == 0) {
      vocab[i] = s.substr(kPhantom.size());
    } else {
      vocab[i] = "##" + s;
    }
    if (types[i] == kControl || types[i] == kUserDefined)
      cfg.added_tokens_decoder.push_back(
          WordPieceAddedToken{.text = vocab[i], .id = static_cast<int32_t>(i), .special = types[i] == kControl});
  }
  auto token_of = [&](std::optional<int32_t> id) -> std::optional<std::string> {
    if (!id) return std::nullopt;
    return vocab[static_cast<size_t>(*id)];
  };
  const auto unk = id_key(g, "tokenizer.ggml.unknown_token_id", n, file);
  auto cls = id_key(g, "tokenizer.ggml.cls_token_id", n, file);
  if (!cls) cls = id_key(g, "tokenizer.ggml.bos_token_id", n, file);
  auto sep = id_key(g, "tokenizer.ggml.seperator_token_id", n, file);
  if (!sep) sep = id_key(g, "tokenizer.ggml.eos_token_id", n, file);
  cfg.unk_token = token_of(unk);
  cfg.cls_token = token_of(cls);
  cfg.sep_token = token_of(sep);
  cfg.pad_token = token_of(id_key(g, "tokenizer.ggml.padding_token_id", n, file));
  cfg.mask_token = token_of(id_key(g, "tokenizer.ggml.mask_token_id", n, file));
  const bool lower = bool_key(g, "tokenizer.ggml.normalizer.lowercase", file).value_or(true);
  cfg.do_lower_case = lower;
  cfg.strip_accents = std::optional<bool>(bool_key(g, "tokenizer.ggml.normalizer.strip_accents", file).value_or(lower));
  cfg.tokenizer_class = "BertTokenizer";
  f.vocab_txt = std::move(vocab);
  f.config = std::move(cfg);
  return assemble_wordpiece_vocab(f);
}

}  // namespace lmforge
