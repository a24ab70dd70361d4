// libFuzzer harness: arbitrary bytes as a BERT tokenizer folder. The input is cut at the first
// two "\n\x00\n" markers into vocab.txt, tokenizer_config.json and tokenizer.json (a missing
// part is a missing file); each is parsed by its reader and the folder rules combine them.
// Only a clean lmforge::Error may come out; a vocabulary that loads must tokenize.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "formats/json_strict.h"
#include "marker_parts.h"
#include "tokenizer/wordpiece_folder.h"
#include "tokenizer/wordpiece_tokenizer.h"
#include "tokenizer/wordpiece_vocab_txt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const auto vocab = lmforge::fuzz::next_marker_part(rest);
  const auto config = lmforge::fuzz::next_marker_part(rest);
  const auto tokenizer_json = lmforge::fuzz::next_marker_part(rest);
  try {
    lmforge::WordPieceFolderFiles f;
    f.folder = "folder";
    f.vocab_path = "vocab.txt";
    f.config_path = "tokenizer_config.json";
    f.json_path = "tokenizer.json";
    if (vocab) f.vocab_txt = lmforge::parse_vocab_txt(*vocab, f.vocab_path);
    if (config)
      f.config = lmforge::parse_wordpiece_config(lmforge::parse_json_strict(*config, f.config_path, 0), f.config_path);
    if (tokenizer_json)
      f.tokenizer_json = lmforge::parse_wordpiece_tokenizer_json(lmforge::parse_json_strict(*tokenizer_json, f.json_path, 0),
                                                                 f.json_path);
    const lmforge::WordPieceTokenizer tok(lmforge::assemble_wordpiece_vocab(f));
    const auto ids = tok.encode_for_model("Hello, wörld! [MASK] 中文 ##x", /*truncate=*/true);
    volatile size_t sink = tok.decode(ids).size();
    (void)sink;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
