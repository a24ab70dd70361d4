// The splitter against an independent Python twin of LangChain's RecursiveCharacterTextSplitter
// (tests/retrieval/splitter_twin.py, run by /usr/bin/python3) on tricky inputs and random ones,
// and the positions every chunk carries (bytes and lines) against the file itself.
#include "retrieval/text_splitter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <unistd.h>
#include <string>
#include <vector>

#include "core/error.h"

namespace lmforge::retrieval {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;
  std::string text;
  size_t chunk_size;
  size_t chunk_overlap;
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the twin on every case at once; one list of chunk strings per case.
std::vector<std::vector<std::string>> twin_chunks(const std::vector<Case>& cases) {
  const fs::path dir = fs::temp_directory_path() / ("lmforge-splitter-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  nlohmann::json manifest = nlohmann::json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path file = dir / ("case" + std::to_string(i) + ".txt");
    std::ofstream(file, std::ios::binary) << cases[i].text;
    manifest.push_back({{"file", file.string()},
                        {"chunk_size", cases[i].chunk_size},
                        {"chunk_overlap", cases[i].chunk_overlap}});
  }
  std::ofstream(dir / "manifest.json") << manifest.dump();
  const std::string command = "/usr/bin/python3 " LMFORGE_SOURCE_DIR
                              "/tests/retrieval/splitter_twin.py " +
                              (dir / "manifest.json").string() + " > " + (dir / "out.json").string();
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << "the Python twin did not run: " << command;
  std::vector<std::vector<std::string>> out;
  if (status == 0) out = nlohmann::json::parse(read_all(dir / "out.json")).get<decltype(out)>();
  fs::remove_all(dir);
  return out;
}

void expect_positions_hold(const Case& c, const std::vector<TextChunk>& chunks) {
  uint64_t previous_begin = 0;
  for (const TextChunk& chunk : chunks) {
    ASSERT_LE(chunk.byte_end, c.text.size()) << c.name;
    EXPECT_EQ(chunk.text, c.text.substr(chunk.byte_begin, chunk.byte_end - chunk.byte_begin)) << c.name;
    EXPECT_GE(chunk.byte_begin, previous_begin) << c.name;
    previous_begin = chunk.byte_begin;
    uint32_t line = 1;
    for (uint64_t i = 0; i < chunk.byte_begin; ++i) line += c.text[i] == '\n';
    EXPECT_EQ(chunk.line_first, line) << c.name;
    for (uint64_t i = chunk.byte_begin; i + 1 < chunk.byte_end; ++i) line += c.text[i] == '\n';
    EXPECT_EQ(chunk.line_last, line) << c.name;
  }
}

void expect_matches_twin(const std::vector<Case>& cases) {
  const auto expected = twin_chunks(cases);
  ASSERT_EQ(expected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const auto chunks = split_text(c.text, {c.chunk_size, c.chunk_overlap}, c.name);
    std::vector<std::string> texts;
    for (const auto& chunk : chunks) texts.push_back(chunk.text);
    EXPECT_EQ(texts, expected[i]) << c.name << " size " << c.chunk_size << " overlap "
                                  << c.chunk_overlap;
    expect_positions_hold(c, chunks);
  }
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(TextSplitterTest, TrickyInputsMatchTheTwin) {
  const std::string prose =
      "The quick brown fox jumps over the lazy dog.\n\nIt was the best of times, it was the "
      "worst of times.\nA line.\n\n\n\nAfter four newlines.  Two  spaces   three.\n";
  std::vector<Case> cases = {
      {"empty", "", 10, 2},
      {"only whitespace", " \n\n \t\r\n  ", 4, 1},
      {"short", "hello world", 100, 10},
      {"prose", prose, 40, 10},
      {"prose no overlap", prose, 25, 0},
      {"prose overlap = size", prose, 12, 12},
      {"long word", "a " + std::string(57, 'x') + " b c", 10, 3},
      {"no separators", std::string(95, 'q'), 20, 5},
      {"chunk size 1", "ab c\n\nd", 1, 0},
      {"chunk size 1 overlap 1", "ab c\n\nd e", 1, 1},
      {"crlf", "one two\r\nthree four\r\n\r\nfive six seven\r\neight", 12, 4},
      {"multibyte", "Größe naïve café — 日本語のテキスト 🙂🙂 emoji; Ωμέγα λόγος", 9, 3},
      {"multibyte long word", "x " + repeat("日本", 30) + " y", 7, 2},
      {"overlap larger than pieces", "a b c d e f g h i j k l m n o p", 5, 4},
      {"python whitespace", "a\u00a0b\u3000c\u2028d \u0085 e\x1c f\x0b\x0c g", 3, 1},
      {"strip to nothing", "word\n\n   \n\n\t\t\n\nword", 5, 0},
      {"separator runs", "a\n\n\n\n\nb\n\n\n\nc   d", 3, 1},
      {"huge line", repeat("lorem ipsum dolor ", 200), 100, 20},
      {"leading separator", "\n\nstarts with a blank line\n\nand ends with one\n\n", 12, 3},
  };
  expect_matches_twin(cases);
}

TEST(TextSplitterTest, RandomTextsMatchTheTwin) {
  const std::vector<std::string> atoms = {"a", "bc", "word", "\n", "\n\n", " ", "  ", "\r\n",
                                          "\t", "é", "日本", "🙂", "\u00a0", "\u3000", "longerword",
                                          std::string(30, 'z')};
  std::mt19937 rng(1234);
  std::vector<Case> cases;
  for (int i = 0; i < 300; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 80);
    for (int k = 0; k < n; ++k) text += atoms[rng() % atoms.size()];
    const size_t size = 1 + rng() % 40;
    const size_t overlap = rng() % (size + 1);
    cases.push_back({"random " + std::to_string(i), text, size, overlap});
  }
  expect_matches_twin(cases);
}

TEST(TextSplitterTest, InvalidUtf8NamesFileAndByte) {
  const std::string text = "fine text\n\xC3\x28 then bad";
  try {
    split_text(text, {}, "notes/bad.txt");
    FAIL() << "accepted ill-formed UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "notes/bad.txt");
    EXPECT_EQ(e.offset(), 10u);
  }
  EXPECT_THROW(split_text("\xFF", {}, "x"), Error);
  EXPECT_THROW(split_text("ok\xED\xA0\x80", {}, "x"), Error);  // a surrogate
}

TEST(TextSplitterTest, RefusesOptionsLangChainRefuses) {
  EXPECT_THROW(split_text("abc", {0, 0}, "x"), UsageError);
  EXPECT_THROW(split_text("abc", {10, 11}, "x"), UsageError);
  EXPECT_NO_THROW(split_text("abc", {10, 10}, "x"));
}

TEST(TextSplitterTest, ChunksRespectTheSizeWhenSeparatorsAllow) {
  const std::string text = repeat("alpha beta gamma delta\n", 50);
  for (const auto& chunk : split_text(text, {30, 10}, "x")) EXPECT_LE(chunk.text.size(), 30u);
}

}  // namespace
}  // namespace lmforge::retrieval
