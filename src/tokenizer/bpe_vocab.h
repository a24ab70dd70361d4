// A byte-level BPE vocabulary as the tokenizer uses it, built from GGUF keys
// (tokenizer.ggml.model "gpt2", as llama.cpp writes them) or from a Hugging Face
// tokenizer.json (bpe_json.h). Both sources end in this struct so that the tokenizer has one
// code path.
//
// Token strings are in the byte-level alphabet (bpe_byte_level.h: "Ġthe") except added
// tokens, which hold their text as written ("<|eot_id|>"), as both llama.cpp and the
// tokenizers library store them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/bpe_pretokenizer.h"
#include "tokenizer/vocab.h"

namespace lmforge {

class GgufReader;

struct BpeVocab {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;  // added special tokens kControl, other added tokens kUserDefined
  std::vector<std::pair<std::string, std::string>> merges;  // by rank, first merged first

  BpePreTokenizer pre_tokenizer = BpePreTokenizer::kDefault;
  bool nfc = false;            // tokenizer.json's NFC normalizer (Qwen2); GGUF does not record it
  bool ignore_merges = false;  // a word that is one token is taken whole (Llama 3)

  int32_t bos_id = -1;  // -1: none
  int32_t eos_id = -1;
  int32_t eot_id = -1;  // end of turn (<|eot_id|>, <|im_end|>)
  int32_t eom_id = -1;
  int32_t pad_id = -1;
  int32_t unk_id = -1;
  bool add_bos = false;
  // Whether the source said add_bos (a tokenizer.json template, tokenizer_config.json's
  // add_bos_token, a GGUF key); when not, add_bos is llama.cpp's default for the
  // pre-tokenizer, and a converter writes no key so that llama.cpp decides alike.
  bool add_bos_stated = false;
  bool add_eos = false;
  std::vector<int32_t> extra_eos_ids;  // further end-of-generation ids (generation_config.json lists)

  size_t size() const { return tokens.size(); }
};

// From a GGUF file's tokenizer.ggml.* keys (model "gpt2"). Refuses an unknown
// tokenizer.ggml.pre by name, merges that name tokens the vocabulary lacks, and lists of
// different lengths.
BpeVocab bpe_vocab_from_gguf(const GgufReader& gguf, const std::string& file);

// Checks a vocabulary whatever its source: ids in range, merges of known tokens whose joined
// text is a token too. Throws lmforge::Error naming `file`.
void check_bpe_vocab(const BpeVocab& v, const std::string& file);

// Ids of the end-of-generation markers llama.cpp also treats as such when the file does not
// name them: control tokens spelled <|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>,
// <|endoftext|>, <|end_of_text|>, <end_of_turn>, <EOT>.
std::vector<int32_t> conventional_eog_ids(const BpeVocab& v);

}  // namespace lmforge
