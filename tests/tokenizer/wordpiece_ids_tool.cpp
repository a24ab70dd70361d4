// Test helper for oracle.wordpiece: loads a BERT tokenizer folder with load_wordpiece_vocab and
// prints, for each text of a JSON list, the ids without and with [CLS]/[SEP] and the decoded
// text (with and without special tokens), one JSON object per line.
//
// Usage: wordpiece_ids_tool FOLDER TEXTS.json
#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "formats/json_strict.h"
#include "tokenizer/wordpiece_tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: wordpiece_ids_tool FOLDER TEXTS.json\n");
    return 2;
  }
  try {
    const lmforge::WordPieceTokenizer tok(lmforge::load_wordpiece_vocab(argv[1]));
    const auto texts = lmforge::read_json_file(argv[2]);
    for (const auto& t : texts) {
      const std::string text = t.get<std::string>();
      const auto ids = tok.encode(text);
      // Long texts go over the model's limit; the oracle compares them truncated.
      const auto with_special = tok.encode_for_model(text, /*truncate=*/true);
      nlohmann::json line = {{"ids", ids},
                             {"ids_special", with_special},
                             {"decoded", ids.empty() ? "" : tok.decode(ids)},
                             {"decoded_skip", tok.decode(with_special, /*skip_special_tokens=*/true)}};
      std::cout << line.dump(-1, ' ', true) << "\n";
    }
  } catch (const lmforge::Error& e) {
    std::fprintf(stderr, "wordpiece_ids_tool: %s\n", e.what());
    return 1;
  }
  return 0;
}
