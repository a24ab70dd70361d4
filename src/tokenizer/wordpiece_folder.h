// The rules that combine a BERT tokenizer folder's parsed files into one WordPieceVocab:
// tokenizer.json's vocabulary wins and vocab.txt must agree with it; tokenizer_config.json's
// do_lower_case, strip_accents and tokenize_chinese_chars (or BertTokenizerFast's defaults for
// them) override tokenizer.json's normalizer unless tokenizer_class is PreTrainedTokenizerFast; [UNK], [CLS] and [SEP] must exist; added tokens must be the
// vocabulary's own. Kept apart from the file reading so that the fuzzer can drive it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tokenizer/wordpiece_json.h"
#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

struct WordPieceFolderFiles {
  std::string folder;
  std::string vocab_path, config_path, json_path;  // for error messages
  std::optional<std::vector<std::string>> vocab_txt;
  std::optional<WordPieceConfigFile> config;
  std::optional<WordPieceJsonFile> tokenizer_json;
};

WordPieceVocab assemble_wordpiece_vocab(const WordPieceFolderFiles& files);

}  // namespace lmforge
