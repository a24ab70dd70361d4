#include "tokenizer/vocab.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/gguf_token_keys.h"
#include "formats/detect/sniff.h"

namespace lmforge {

namespace {

TokenType token_type_from_int(int64_t t) {
  // Types outside the proto's range are read as normal pieces, as the GGUF converter writes them.
  if (t >= 1 && t <= 6) return static_cast<TokenType>(t);
  return TokenType::kNormal;
}

// The first piece of type UNKNOWN, which is how libsentencepiece finds its unknown id.
int32_t find_unknown(const Vocab& v) {
  for (size_t i = 0; i < v.types.size(); ++i)
    if (v.types[i] == TokenType::kUnknown) return static_cast<int32_t>(i);
  return -1;
}

int32_t id_or_none(int64_t id, size_t n) {
  return (id >= 0 && static_cast<uint64_t>(id) < n) ? static_cast<int32_t>(id) : -1;
}

void check_size(size_t n, const std::string& file) {
  if (n == 0) fail(file, "the vocabulary is empty");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    fail(file, "the vocabulary has more pieces than 32-bit token ids can number");
}

}  // namespace

Vocab vocab_from_sentencepiece(const SentencePieceModel& model, const std::string& file) {
  if (model.model_type != 2)
    fail(file, "only BPE SentencePiece models can be tokenized (model type " + std::to_string(model.model_type) + ")");
  // Rules other than identity map characters through a compiled table that we do not apply;
  // tokenizing without it would give ids that differ from libsentencepiece's.
  if (!model.normalizer_name.empty() && model.normalizer_name != "identity")
    fail(file, "normalization rule " + quoted_for_message(model.normalizer_name) +
                   " is not supported; only 'identity' (LLaMA's) is");
  check_size(model.pieces.size(), file);

  Vocab v;
  const size_t n = model.pieces.size();
  v.pieces.reserve(n);
  v.scores.reserve(n);
  v.types.reserve(n);
  for (const auto& p : model.pieces) {
    v.pieces.push_back(p.piece);
    v.scores.push_back(p.score);
    v.types.push_back(token_type_from_int(p.type));
  }
  v.unk_id = find_unknown(v);
  if (v.unk_id < 0) fail(file, "the SentencePiece model has no unknown piece");
  v.bos_id = id_or_none(model.bos_id, n);
  v.eos_id = id_or_none(model.eos_id, n);
  v.pad_id = id_or_none(model.pad_id, n);
  v.add_bos = v.bos_id >= 0;
  v.eog_ids = end_of_generation_ids(v, {});
  v.add_dummy_prefix = model.add_dummy_prefix;
  v.remove_extra_whitespaces = model.remove_extra_whitespaces;
  v.escape_whitespaces = model.escape_whitespaces;
  v.byte_fallback = model.byte_fallback;
  return v;
}

Vocab vocab_from_gguf(const GgufReader& gguf, const std::string& file) {
  const GgufValue* model = gguf.find_kv("tokenizer.ggml.model");
  if (!model || model->type != GgufType::STRING)
    fail(file, "no tokenizer.ggml.model key: the file carries no vocabulary");
  if (model->s != "llama")
    fail(file, "tokenizer model " + quoted_for_message(model->s) + " is not supported; only SentencePiece ('llama') is");
  const GgufValue* tokens = gguf.find_kv("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != GgufType::ARRAY || tokens->array_type != GgufType::STRING)
    fail(file, "tokenizer.ggml.tokens is missing or not an array of strings");
  const size_t n = tokens->array.size();
  check_size(n, file);
  const GgufValue* scores = gguf.find_kv("tokenizer.ggml.scores");
  if (scores && (scores->type != GgufType::ARRAY || scores->array_type != GgufType::FLOAT32 || scores->array.size() != n))
    fail(file, "tokenizer.ggml.scores must be a FLOAT32 array as long as the token list");
  const GgufValue* types = gguf.find_kv("tokenizer.ggml.token_type");
  if (types && (types->type != GgufType::ARRAY || types->array_type != GgufType::INT32 || types->array.size() != n))
    fail(file, "tokenizer.ggml.token_type must be an INT32 array as long as the token list");

  Vocab v;
  v.pieces.reserve(n);
  v.scores.assign(n, 0.0f);
  v.types.assign(n, TokenType::kNormal);
  for (size_t i = 0; i < n; ++i) {
    v.pieces.push_back(tokens->array[i].s);
    if (scores) v.scores[i] = static_cast<float>(scores->array[i].f);
    if (types) v.types[i] = token_type_from_int(types->array[i].i);
  }

  auto special = [&](const char* key) { return gguf_token_id_key(gguf, key, n, file); };
  auto flag = [&](const char* key, bool fallback) { return gguf_token_flag_key(gguf, key, fallback, file); };
  v.bos_id = special("bos_token_id");
  v.eos_id = special("eos_token_id");
  v.pad_id = special("padding_token_id");
  v.eog_ids = end_of_generation_ids(v, {special("eot_token_id"), special("eom_token_id")});
  v.unk_id = find_unknown(v);
  if (v.unk_id < 0) v.unk_id = special("unknown_token_id");
  if (v.unk_id < 0) v.unk_id = 0;  // llama.cpp's default for SentencePiece vocabularies
  v.add_bos = flag("add_bos_token", true);
  v.add_eos = flag("add_eos_token", false);
  v.add_dummy_prefix = flag("add_space_prefix", true);
  v.remove_extra_whitespaces = flag("remove_extra_whitespaces", false);
  v.escape_whitespaces = true;
  v.byte_fallback = false;
  for (auto t : v.types)
    if (t == TokenType::kByte) v.byte_fallback = true;
  return v;
}

bool Vocab::is_end_of_generation(int32_t id) const {
  if (id < 0) return false;
  if (eog_ids.empty()) return id == eos_id;
  return std::binary_search(eog_ids.begin(), eog_ids.end(), id);
}

bool is_end_of_generation_text(std::string_view text) {
  // The texts llama.cpp's vocabulary loader marks as end of generation (the chat formats'
  // turn and text ends).
  static const char* const kTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                       "<|eom_id|>", "<EOT>", "<|end_of_text|>", "<end_of_utterance>"};
  for (const char* t : kTexts)
    if (text == t) return true;
  return false;
}

std::vector<int32_t> end_of_generation_ids(const Vocab& v, std::initializer_list<int32_t> extra) {
  std::vector<int32_t> out;
  if (v.eos_id >= 0) out.push_back(v.eos_id);
  for (int32_t id : extra)
    if (id >= 0) out.push_back(id);
  // Control or user-defined tokens only: a normal piece that happens to read "<EOT>" is text.
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    const TokenType t = i < v.types.size() ? v.types[i] : TokenType::kNormal;
    if ((t == TokenType::kControl || t == TokenType::kUserDefined) && is_end_of_generation_text(v.pieces[i]))
      out.push_back(static_cast<int32_t>(i));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Vocab load_vocab(const std::string& path) {
  const FileFormat fmt = sniff_format(path);
  if (fmt == FileFormat::kGguf) {
    auto gguf = GgufReader::open(path);
    return vocab_from_gguf(*gguf, path);
  }
  std::string model_path = path;
  if (fmt == FileFormat::kHfFolder || fmt == FileFormat::kMetaFolder) {
    model_path = (std::filesystem::path(path) / "tokenizer.model").string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(model_path, ec))
      fail(path, "the folder has no tokenizer.model; lmforge tokenizes SentencePiece vocabularies");
  } else if (fmt != FileFormat::kUnknown && fmt != FileFormat::kProtobufPb) {  // tokenizer.model is protobuf too
    fail(path, "this " + std::string(file_format_name(fmt)) + " file carries no vocabulary; give a GGUF file, a model folder or a tokenizer.model");
  }
  auto file = MappedFile::open(model_path);
  SentencePieceModel model;
  try {
    model = parse_sentencepiece_model(file->bytes(), model_path);
  } catch (const Error& e) {
    if (fmt == FileFormat::kHfFolder || fmt == FileFormat::kMetaFolder) throw;
    // A file of no known format: say what was expected before what the protobuf reader saw.
    fail(model_path, "not a GGUF file, model folder or SentencePiece tokenizer.model (" + e.message() + ")", e.offset());
  }
  return vocab_from_sentencepiece(model, model_path);
}

}  // namespace lmforge
