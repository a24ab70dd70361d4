#include "tokenizer/bpe_vocab.h"

#include <limits>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/gguf_token_keys.h"

namespace lmforge {

namespace {

const GgufValue* string_array(const GgufReader& gguf, const std::string& key) {
  const GgufValue* v = gguf.find_kv(key);
  if (v && (v->type != GgufType::ARRAY || v->array_type != GgufType::STRING)) return nullptr;
  return v;
}

}  // namespace

void check_bpe_vocab(const BpeVocab& v, const std::string& file) {
  const size_t n = v.tokens.size();
  if (n == 0) fail(file, "the vocabulary is empty");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) fail(file, "the vocabulary has more tokens than 32-bit ids can number");
  if (v.types.size() != n) fail(file, "the token types and the token list differ in length");
  for (int32_t id : {v.bos_id, v.eos_id, v.eot_id, v.eom_id, v.pad_id, v.unk_id})
    if (id < -1 || id >= static_cast<int64_t>(n)) fail(file, "special token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n));
  for (int32_t id : v.extra_eos_ids)
    if (id < 0 || id >= static_cast<int64_t>(n)) fail(file, "end-of-sequence id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n));
  std::unordered_map<std::string_view, size_t> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; ++i) ids[v.tokens[i]] = i;
  for (size_t r = 0; r < v.merges.size(); ++r) {
    const auto& [a, b] = v.merges[r];
    for (const std::string* part : {&a, &b})
      if (!ids.count(*part))
        fail(file, "merge " + std::to_string(r) + " (" + quoted_for_message(a + " " + b) + ") names " + quoted_for_message(*part) +
                       ", which is not in the vocabulary");
    if (!ids.count(a + b))
      fail(file, "merge " + std::to_string(r) + " (" + quoted_for_message(a + " " + b) + ") makes " + quoted_for_message(a + b) +
                     ", which is not in the vocabulary");
  }
}

std::vector<int32_t> conventional_eog_ids(const BpeVocab& v) {
  static const std::string_view kNames[] = {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>",
                                            "<|end_of_text|>", "<end_of_turn>", "<EOT>"};
  std::vector<int32_t> out;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.types[i] != TokenType::kControl) continue;
    for (std::string_view name : kNames)
      if (v.tokens[i] == name) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

BpeVocab bpe_vocab_from_gguf(const GgufReader& gguf, const std::string& file) {
  const GgufValue* model = gguf.find_kv("tokenizer.ggml.model");
  if (!model || model->type != GgufType::STRING || model->s != "gpt2")
    fail(file, "tokenizer.ggml.model is not 'gpt2': not a byte-level BPE vocabulary");
  BpeVocab v;
  const GgufValue* pre = gguf.find_kv("tokenizer.ggml.pre");
  if (pre && pre->type != GgufType::STRING) fail(file, "tokenizer.ggml.pre must be a string");
  const std::string pre_name = pre ? pre->s : "default";  // llama.cpp's fallback, with a warning
  const auto kind = bpe_pre_tokenizer_from_name(pre_name);
  if (!kind)
    fail(file, "pre-tokenizer " + quoted_for_message(pre_name) +
                   " (tokenizer.ggml.pre) is not supported; lmforge knows llama-bpe, qwen2, smollm, gpt-2 and default");
  v.pre_tokenizer = *kind;
  v.ignore_merges = *kind == BpePreTokenizer::kLlama3;
  v.add_bos = *kind == BpePreTokenizer::kLlama3;  // llama.cpp's default for llama-bpe, else none

  const GgufValue* tokens = string_array(gguf, "tokenizer.ggml.tokens");
  if (!tokens) fail(file, "tokenizer.ggml.tokens is missing or not an array of strings");
  const size_t n = tokens->array.size();
  if (n == 0) fail(file, "the vocabulary is empty");
  const GgufValue* types = gguf.find_kv("tokenizer.ggml.token_type");
  if (types && (types->type != GgufType::ARRAY || types->array_type != GgufType::INT32 || types->array.size() != n))
    fail(file, "tokenizer.ggml.token_type must be an INT32 array as long as the token list");
  v.tokens.reserve(n);
  v.types.assign(n, TokenType::kNormal);
  for (size_t i = 0; i < n; ++i) {
    v.tokens.push_back(tokens->array[i].s);
    if (types) {
      const int64_t t = types->array[i].i;
      if (t >= 1 && t <= 6) v.types[i] = static_cast<TokenType>(t);
    }
  }
  const GgufValue* merges = string_array(gguf, "tokenizer.ggml.merges");
  if (!merges) fail(file, "tokenizer.ggml.merges is missing or not an array of strings");
  v.merges.reserve(merges->array.size());
  for (size_t r = 0; r < merges->array.size(); ++r) {
    const std::string& m = merges->array[r].s;
    // "a b"; the first space separates (a token never starts with a space in this alphabet).
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos || space + 1 >= m.size())
      fail(file, "tokenizer.ggml.merges[" + std::to_string(r) + "] " + quoted_for_message(m) + " is not two tokens separated by a space");
    v.merges.emplace_back(m.substr(0, space), m.substr(space + 1));
  }

  auto special = [&](const char* key) { return gguf_token_id_key(gguf, key, n, file); };
  auto flag = [&](const char* key, bool fallback) { return gguf_token_flag_key(gguf, key, fallback, file); };
  v.bos_id = special("bos_token_id");
  v.eos_id = special("eos_token_id");
  v.eot_id = special("eot_token_id");
  v.eom_id = special("eom_token_id");
  v.pad_id = special("padding_token_id");
  v.unk_id = special("unknown_token_id");
  v.add_bos_stated = gguf.find_kv("tokenizer.ggml.add_bos_token") != nullptr;
  v.add_bos = flag("add_bos_token", v.add_bos);
  v.add_eos = flag("add_eos_token", false);
  check_bpe_vocab(v, file);
  return v;
}

}  // namespace lmforge
