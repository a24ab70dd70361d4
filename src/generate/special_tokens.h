// Tokenizing template text in which control pieces ("</s>", "<|im_end|>" when the vocabulary
// has it) stand for their token ids, as llama.cpp tokenizes a rendered chat (parse_special).
//
// Ordinary prompts never go through this: there "<s>" typed by a user is plain text. Here the
// text comes from our own template, so its markers must become the ids the model was trained
// on. The text between markers is encoded by the tokenizer one fragment at a time, each with
// the vocabulary's dummy prefix, which is what llama.cpp's SentencePiece path does.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lmforge {

std::vector<int32_t> tokenize_with_specials(const Tokenizer& tok, std::string_view text);

// The id of `text` when it is one control or user-defined piece of the vocabulary, else -1.
int32_t special_token_id(const Tokenizer& tok, std::string_view text);

}  // namespace lmforge
