// A WordPiece (BERT) vocabulary from a GGUF file, as llama.cpp's converter stores it
// (tokenizer.ggml.model "bert"; see convert/sinks/bert_gguf_sink.h): control tokens as they
// are, "▁"-prefixed tokens are word starts (stored without the "▁"), every other token is a
// "##" continuation; CONTROL / USER_DEFINED tokens become added tokens (special or not); the
// special ids from tokenizer.ggml.{unknown,cls (else bos),seperator (else eos),padding,mask}
// _token_id; lower-casing and accent stripping from tokenizer.ggml.normalizer.* (absent:
// lower-case, and strip accents when lower-casing, llama.cpp's defaults). The result goes
// through the same checks as a folder's files (tokenizer/wordpiece_folder.h).
#pragma once

#include <string>

#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

class GgufReader;

// Throws lmforge::Error naming `file` when the file holds no WordPiece vocabulary or one that
// the folder rules refuse (duplicates, missing [UNK]/[CLS]/[SEP], ids out of range, ...).
WordPieceVocab wordpiece_vocab_from_gguf(const GgufReader& g, const std::string& file);

}  // namespace lmforge
