// The recursive splitter on code-point index ranges: the text is decoded once, every piece is a
// [begin, end) range of code points, and chunks are mapped back to bytes and lines at the end.
// Working on ranges rather than copies of strings is what lets each chunk know its position.
#include "retrieval/text_splitter.h"

#include <algorithm>
#include <deque>
#include <optional>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge::retrieval {
namespace {

struct Range {
  size_t begin;
  size_t end;
  size_t size() const { return end - begin; }
};

// Python's str.isspace(): what str.strip() removes.
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<char32_t> decode_valid_utf8(std::string_view s, std::vector<uint64_t>& byte_of) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  byte_of.clear();
  byte_of.reserve(s.size() + 1);
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    const size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    char32_t c = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    byte_of.push_back(i);
    out.push_back(c);
    i += len;
  }
  byte_of.push_back(s.size());
  return out;
}

class RecursiveSplitter {
 public:
  RecursiveSplitter(const std::vector<char32_t>& text, const SplitterOptions& options)
      : text_(text), options_(options) {}

  std::vector<Range> split(Range whole) {
    split_range(whole, 0);
    return std::move(chunks_);
  }

 private:
  static constexpr std::u32string_view kSeparators[] = {U"\n\n", U"\n", U" ", U""};
  static constexpr size_t kSeparatorCount = 4;

  std::optional<size_t> find(std::u32string_view separator, size_t from, size_t end) const {
    const auto first = text_.begin() + static_cast<std::ptrdiff_t>(from);
    const auto last = text_.begin() + static_cast<std::ptrdiff_t>(end);
    const auto at = std::search(first, last, separator.begin(), separator.end());
    if (at == last) return std::nullopt;
    return static_cast<size_t>(at - text_.begin());
  }

  // The first separator (from `level` on) that occurs in `r`; the empty one always does.
  // Returns its index; `next_level` is where a too-long piece continues (none after "").
  size_t choose_separator(Range r, size_t level, size_t& next_level) const {
    for (size_t i = level; i < kSeparatorCount; ++i) {
      if (kSeparators[i].empty()) {
        next_level = kSeparatorCount;
        return i;
      }
      if (find(kSeparators[i], r.begin, r.end)) {
        next_level = i + 1;
        return i;
      }
    }
    next_level = kSeparatorCount;
    return kSeparatorCount - 1;
  }

  // Cut before every (leftmost, non-overlapping) occurrence, each separator staying with the
  // piece after it; empty pieces (only the first can be) are dropped.
  std::vector<Range> pieces(Range r, std::u32string_view separator) const {
    std::vector<Range> out;
    if (separator.empty()) {
      for (size_t i = r.begin; i < r.end; ++i) out.push_back({i, i + 1});
      return out;
    }
    size_t start = r.begin;
    size_t from = r.begin;
    while (auto at = find(separator, from, r.end)) {
      if (*at > start) out.push_back({start, *at});
      start = *at;
      from = *at + separator.size();
    }
    if (r.end > start) out.push_back({start, r.end});
    return out;
  }

  void split_range(Range r, size_t level) {
    size_t next_level = kSeparatorCount;
    const size_t sep = choose_separator(r, level, next_level);
    std::vector<Range> good;
    for (const Range& piece : pieces(r, kSeparators[sep])) {
      if (piece.size() < options_.chunk_size) {
        good.push_back(piece);
        continue;
      }
      if (!good.empty()) {
        merge(good);
        good.clear();
      }
      if (next_level >= kSeparatorCount) {
        chunks_.push_back(piece);  // kept whole and unstripped, as LangChain appends it
      } else {
        split_range(piece, next_level);
      }
    }
    if (!good.empty()) merge(good);
  }

  // Joins consecutive pieces (contiguous, so a join is a range) into chunks of at most
  // chunk_size, carrying up to chunk_overlap of each chunk's tail into the next.
  void merge(const std::vector<Range>& splits) {
    std::deque<Range> current;
    size_t total = 0;
    for (const Range& d : splits) {
      const size_t len = d.size();
      if (total + len > options_.chunk_size) {
        if (!current.empty()) {
          emit_joined(current);
          while (total > options_.chunk_overlap ||
                 (total + len > options_.chunk_size && total > 0)) {
            total -= current.front().size();
            current.pop_front();
          }
        }
      }
      current.push_back(d);
      total += len;
    }
    emit_joined(current);
  }

  void emit_joined(const std::deque<Range>& current) {
    if (current.empty()) return;
    Range r{current.front().begin, current.back().end};
    while (r.begin < r.end && is_python_space(text_[r.begin])) ++r.begin;
    while (r.end > r.begin && is_python_space(text_[r.end - 1])) --r.end;
    if (r.begin < r.end) chunks_.push_back(r);
  }

  const std::vector<char32_t>& text_;
  const SplitterOptions& options_;
  std::vector<Range> chunks_;
};

}  // namespace

void check_splitter_options(const SplitterOptions& options) {
  if (options.chunk_size == 0) throw UsageError("--chunk-size must be at least 1");
  if (options.chunk_overlap > options.chunk_size) {
    throw UsageError("--chunk-overlap (" + std::to_string(options.chunk_overlap) +
                     ") must not exceed --chunk-size (" + std::to_string(options.chunk_size) + ")");
  }
}

std::vector<TextChunk> split_text(std::string_view text, const SplitterOptions& options,
                                  const std::string& file) {
  check_splitter_options(options);
  if (auto bad = find_invalid_utf8(text)) {
    fail(file, "not UTF-8 text: ill-formed byte sequence", *bad);
  }
  std::vector<uint64_t> byte_of;
  const std::vector<char32_t> code_points = decode_valid_utf8(text, byte_of);
  std::vector<uint64_t> newlines;  // byte offsets of every "\n"
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') newlines.push_back(i);
  }
  auto line_of_byte = [&](uint64_t at) {
    return static_cast<uint32_t>(
        1 + (std::lower_bound(newlines.begin(), newlines.end(), at) - newlines.begin()));
  };

  std::vector<TextChunk> out;
  if (code_points.empty()) return out;
  RecursiveSplitter splitter(code_points, options);
  for (const Range& r : splitter.split({0, code_points.size()})) {
    TextChunk c;
    c.byte_begin = byte_of[r.begin];
    c.byte_end = byte_of[r.end];
    c.text.assign(text.substr(c.byte_begin, c.byte_end - c.byte_begin));
    c.line_first = line_of_byte(c.byte_begin);
    c.line_last = line_of_byte(c.byte_end - 1);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace lmforge::retrieval
