// libFuzzer harness: arbitrary bytes as a text file for the index's splitter. The first two
// bytes pick chunk_size (1..64) and chunk_overlap (0..chunk_size); the rest is the file. The
// only acceptable failure is a clean lmforge::Error (ill-formed UTF-8); every chunk must be the
// file's bytes at its range, its lines must be the lines of that range, and chunks come in
// order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "retrieval/text_splitter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  lmforge::retrieval::SplitterOptions options;
  options.chunk_size = 1 + data[0] % 64;
  options.chunk_overlap = data[1] % (options.chunk_size + 1);
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  try {
    const auto chunks = lmforge::retrieval::split_text(text, options, "fuzz.txt");
    uint64_t previous_begin = 0;
    for (const auto& c : chunks) {
      if (c.byte_begin >= c.byte_end || c.byte_end > text.size()) std::abort();
      if (text.substr(c.byte_begin, c.byte_end - c.byte_begin) != c.text) std::abort();
      if (c.byte_begin < previous_begin) std::abort();
      previous_begin = c.byte_begin;
      uint32_t line = 1;
      for (uint64_t i = 0; i < c.byte_begin; ++i) line += text[i] == '\n';
      if (line != c.line_first) std::abort();
      for (uint64_t i = c.byte_begin; i + 1 < c.byte_end; ++i) line += text[i] == '\n';
      if (line != c.line_last) std::abort();
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
