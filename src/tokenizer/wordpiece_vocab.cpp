#include "tokenizer/wordpiece_vocab.h"

#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/json_strict.h"
#include "tokenizer/wordpiece_folder.h"
#include "tokenizer/wordpiece_json.h"
#include "tokenizer/wordpiece_vocab_txt.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::vector<std::string> read_vocab_txt(const std::string& path) {
  const auto file = MappedFile::open(path);
  if (file->size() > kMaxWordPieceFileBytes)
    fail(path, "the vocabulary is larger than " + std::to_string(kMaxWordPieceFileBytes >> 20) + " MiB");
  const auto bytes = file->bytes();
  return parse_vocab_txt({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path);
}

}  // namespace

bool has_wordpiece_files(const std::string& folder) {
  return is_file((fs::path(folder) / "vocab.txt").string()) || is_file((fs::path(folder) / "tokenizer.json").string());
}

WordPieceVocab load_wordpiece_vocab(const std::string& folder) {
  WordPieceFolderFiles f;
  f.folder = folder;
  f.vocab_path = (fs::path(folder) / "vocab.txt").string();
  f.config_path = (fs::path(folder) / "tokenizer_config.json").string();
  f.json_path = (fs::path(folder) / "tokenizer.json").string();
  if (is_file(f.json_path))
    f.tokenizer_json = parse_wordpiece_tokenizer_json(read_json_file(f.json_path, kMaxWordPieceFileBytes), f.json_path);
  if (is_file(f.vocab_path)) f.vocab_txt = read_vocab_txt(f.vocab_path);
  if (is_file(f.config_path))
    f.config = parse_wordpiece_config(read_json_file(f.config_path, kMaxWordPieceFileBytes), f.config_path);
  return assemble_wordpiece_vocab(f);
}

}  // namespace lmforge
