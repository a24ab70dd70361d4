// Splits a text file into chunks for the index, with the semantics of LangChain's
// RecursiveCharacterTextSplitter (default separators "\n\n", "\n", " ", ""; keep_separator
// true, i.e. each separator stays at the start of the piece that follows it; sizes counted in
// Unicode code points, as Python's len counts them), so that an index made here chunks text as
// the LangChain guides people follow do. Each chunk also knows where it came from: its byte
// range in the file and its 1-based inclusive line range, which `ask` shows as the source.
//
// The algorithm, as LangChain has it: take the first separator that occurs in the text (the
// empty one always "occurs" and splits into code points); cut the text before each occurrence;
// pieces shorter than chunk_size are merged greedily into chunks of at most chunk_size, each
// new chunk starting with the tail of the previous one that fits in chunk_overlap; a piece of
// chunk_size or more is split again with the remaining separators (or, with none left, kept as
// it is). Merged chunks are stripped of surrounding whitespace (Python's str.strip()) and
// dropped when empty. Every chunk is therefore one contiguous range of the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge::retrieval {

struct SplitterOptions {
  size_t chunk_size = 1000;    // code points, >= 1
  size_t chunk_overlap = 200;  // code points, <= chunk_size (LangChain refuses more)
};

struct TextChunk {
  std::string text;         // the chunk, equal to the file's bytes [byte_begin, byte_end)
  uint64_t byte_begin = 0;
  uint64_t byte_end = 0;
  uint32_t line_first = 0;  // 1-based, inclusive; lines end at "\n"
  uint32_t line_last = 0;
};

// Throws UsageError for options LangChain refuses.
void check_splitter_options(const SplitterOptions& options);

// Chunks of `text`, a file's whole content. Ill-formed UTF-8 is an Error naming `file` and the
// byte offset of the first bad byte. An empty or all-whitespace text gives no chunks.
std::vector<TextChunk> split_text(std::string_view text, const SplitterOptions& options,
                                  const std::string& file);

}  // namespace lmforge::retrieval
