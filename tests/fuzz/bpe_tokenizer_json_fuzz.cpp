// libFuzzer harness: arbitrary bytes as a tokenizer.json for the byte-level BPE reader. What
// it accepts must build a tokenizer that encodes and decodes a fixed text (with and without
// parse_special); anything else must be a clean lmforge::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "formats/json_strict.h"
#include "tokenizer/bpe_json.h"
#include "tokenizer/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json j = lmforge::parse_json_strict(text, "fuzz.json", 0);
    const lmforge::BpeTokenizer tok(lmforge::bpe_vocab_from_tokenizer_json(j, "fuzz.json"), "fuzz.json");
    static constexpr std::string_view kText = "Hello world, it's 12345 \xE6\x97\xA5\xE6\x9C\xAC e\xCC\x81 \xF0\x9F\xA6\x99 <|x|>\n\n  end\xFF";
    const auto ids = tok.encode(kText, true, true, false);
    const auto special = tok.encode(kText, false, false, true);
    volatile size_t sink = tok.decode(ids).size() + tok.decode(special).size();
    (void)sink;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
