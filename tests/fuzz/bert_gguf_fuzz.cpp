// libFuzzer harness: arbitrary bytes as a BERT GGUF file: the GGUF reader, then the `bert.*`
// keys (arch/bert/bert_config_gguf) and the WordPiece vocabulary as llama.cpp stores it
// (tokenizer/wordpiece_gguf); a vocabulary that loads must tokenize. Only a clean
// lmforge::Error may come out.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "arch/bert/bert_config_gguf.h"
#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/wordpiece_gguf.h"
#include "tokenizer/wordpiece_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto copy = std::make_shared<std::vector<uint8_t>>(data, data + size);
  try {
    const auto g = lmforge::GgufReader::parse(std::span<const uint8_t>(copy->data(), copy->size()), "fuzz.gguf", copy);
    try {
      volatile uint32_t sink = lmforge::bert_config_from_gguf(*g, "fuzz.gguf").hidden_size;
      (void)sink;
      volatile bool has = lmforge::bert_pooling_from_gguf(*g, "fuzz.gguf").has_value();
      (void)has;
    } catch (const lmforge::Error&) {
    }
    const lmforge::WordPieceTokenizer tok(lmforge::wordpiece_vocab_from_gguf(*g, "fuzz.gguf"));
    const auto ids = tok.encode_for_model("Hello, wörld! [MASK] ##x", /*truncate=*/true);
    volatile size_t n = tok.decode(ids).size();
    (void)n;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
