#include "convert/hf_bpe_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/bpe_json.h"
#include "tokenizer/bpe_vocab.h"

namespace lmforge {

bool gguf_has_bpe_vocab(const GgufReader& gguf) {
  const GgufValue* m = gguf.find_kv("tokenizer.ggml.model");
  return m && m->type == GgufType::STRING && m->s == "gpt2";
}

HfBpeTokenizerFiles hf_bpe_tokenizer_from_gguf(const GgufReader& gguf, const std::string& file) {
  const BpeVocab v = bpe_vocab_from_gguf(gguf, file);
  if (v.pre_tokenizer == BpePreTokenizer::kDefault)
    fail(file, "tokenizer.ggml.pre 'default' (or none) names no regex a tokenizer.json could hold; cannot write a Hugging Face tokenizer");
  // JSON holds UTF-8 only; a GGUF string is bytes.
  for (size_t i = 0; i < v.size(); ++i)
    if (!is_valid_utf8(v.tokens[i]))
      fail(file, "token " + std::to_string(i) + " " + quoted_for_message(v.tokens[i]) + " is not UTF-8 and cannot be written to tokenizer.json");
  for (const auto& [a, b] : v.merges)
    if (!is_valid_utf8(a) || !is_valid_utf8(b))
      fail(file, "merge " + quoted_for_message(a + " " + b) + " is not UTF-8 and cannot be written to tokenizer.json");
  const GgufValue* chat = gguf.find_kv("tokenizer.chat_template");
  if (chat && chat->type == GgufType::STRING && !is_valid_utf8(chat->s))
    fail(file, "tokenizer.chat_template is not UTF-8 and cannot be written to tokenizer_config.json");
  HfBpeTokenizerFiles out;
  // A GGUF without tokenizer.ggml.add_bos_token leaves BOS to llama.cpp's pre-tokenizer default;
  // the folder then states nothing either (no BOS template, no add_bos_token), so that it
  // converts back to a GGUF without the key, as Llama 3's first tokenizer.json did.
  out.tokenizer = bpe_vocab_to_tokenizer_json(v);
  if (!v.add_bos_stated)
    out.tokenizer["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};

  // The ids that end generation as lmforge's tokenizer (and llama.cpp) take them from the GGUF:
  // eos, eot, eom, then the control tokens known by their text.
  std::vector<int32_t> eog = {v.eos_id, v.eot_id, v.eom_id};
  for (int32_t id : conventional_eog_ids(v)) eog.push_back(id);
  for (int32_t id : eog)
    if (id >= 0 && std::find(out.eos_ids.begin(), out.eos_ids.end(), static_cast<uint32_t>(id)) == out.eos_ids.end())
      out.eos_ids.push_back(static_cast<uint32_t>(id));

  auto& cfg = out.tokenizer_config;
  auto& map = out.special_tokens_map;
  cfg = {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"clean_up_tokenization_spaces", false}};
  map = nlohmann::json::object();
  const std::pair<const char*, int32_t> named[] = {{"bos_token", v.bos_id}, {"eos_token", v.eos_id}, {"pad_token", v.pad_id}, {"unk_token", v.unk_id}};
  for (const auto& [key, id] : named) {
    if (id < 0) continue;
    cfg[key] = v.tokens[static_cast<size_t>(id)];
    map[key] = v.tokens[static_cast<size_t>(id)];
  }
  // What tokenizer.json's post-processor does, said again (llama.cpp's converter reads it first).
  if (v.add_bos_stated) cfg["add_bos_token"] = v.add_bos && v.bos_id >= 0;
  if (v.add_eos && v.eos_id >= 0) cfg["add_eos_token"] = true;
  if (chat && chat->type == GgufType::STRING) cfg["chat_template"] = chat->s;
  if (const GgufValue* a = gguf.find_kv("general.architecture"); a && a->type == GgufType::STRING)
    if (const GgufValue* n = gguf.find_kv(a->s + ".context_length"); n && n->as_uint()) cfg["model_max_length"] = *n->as_uint();

  auto& gen = out.generation_config;
  gen = nlohmann::json::object();
  if (v.bos_id >= 0) gen["bos_token_id"] = v.bos_id;
  if (out.eos_ids.size() == 1) gen["eos_token_id"] = out.eos_ids[0];
  else if (!out.eos_ids.empty()) gen["eos_token_id"] = out.eos_ids;
  return out;
}

}  // namespace lmforge
