// A byte-level BPE vocabulary from a Hugging Face tokenizer.json (and the folder files that
// name its special tokens), and back.
//
// Read: "model" must be BPE without byte fallback, subword prefixes or suffixes; vocab
// {token: id} and merges as "a b" strings or ["a", "b"] pairs; added_tokens (special ones
// become control tokens, the others user-defined; gaps in the ids become unused [PADi]
// tokens, as llama.cpp's converter writes them); the normalizer none or NFC; the
// pre-tokenizer one that bpe_pretokenizer recognises (a Split regex + ByteLevel, ByteLevel with
// its own regex, or Digits + ByteLevel); a TemplateProcessing post-processor that puts a
// special token before the text means add BOS. Everything else is refused by name.
//
// Write: the inverse, for GGUF -> Hugging Face conversion and for oracles that load it into an
// independent tokenizer.json implementation.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/bpe_vocab.h"

namespace lmforge {

BpeVocab bpe_vocab_from_tokenizer_json(const nlohmann::json& j, const std::string& file);

// A folder's tokenizer.json, with the BOS/EOS/PAD tokens of tokenizer_config.json and the EOS ids
// of generation_config.json (one id or a list) when those files exist.
BpeVocab load_bpe_folder(const std::string& dir);

// The tokenizer.json that reads back into `v` (bos/eos ids are tokenizer_config.json's
// business and are not written here).
nlohmann::json bpe_vocab_to_tokenizer_json(const BpeVocab& v);

}  // namespace lmforge
