// Shared helpers of the retrieval tests: a temporary folder removed at the end, files written
// into it, and a fake embedder whose vector space is known exactly (each coordinate counts the
// words of one topic, synonyms included, so vector search finds what BM25's words miss).
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "retrieval/embedder.h"

namespace lmforge::retrieval::test {

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("lmforge-retrieval-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  void write(const std::string& name, const std::string& content) const {
    std::filesystem::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << content;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Topic coordinates: 0 animals, 1 vehicles, 2 food, 3 weather. Words are lower-case ASCII runs.
class TopicEmbedder : public Embedder {
 public:
  explicit TopicEmbedder(std::string pooling = "topic") : pooling_(std::move(pooling)) {}
  uint32_t dim() const override { return 4; }
  EmbedderFingerprint fingerprint() const override { return {"topic-fake", "", pooling_, 4, "topic"}; }
  std::vector<std::vector<float>> embed(std::span<const std::string> texts) override {
    static const std::map<std::string, int> topics = {
        {"cat", 0}, {"cats", 0}, {"dog", 0}, {"dogs", 0}, {"kitten", 0}, {"puppy", 0}, {"animal", 0},
        {"car", 1}, {"cars", 1}, {"automobile", 1}, {"truck", 1}, {"vehicle", 1}, {"engine", 1},
        {"bread", 2}, {"cheese", 2}, {"apple", 2}, {"soup", 2}, {"meal", 2},
        {"rain", 3}, {"snow", 3}, {"storm", 3}, {"sunny", 3}, {"weather", 3}};
    ++calls;
    std::vector<std::vector<float>> out;
    for (const auto& text : texts) {
      std::vector<float> v(4, 0.0f);
      std::string word;
      for (size_t i = 0; i <= text.size(); ++i) {
        const char c = i < text.size() ? text[i] : ' ';
        if (std::isalpha(static_cast<unsigned char>(c))) {
          word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!word.empty()) {
          if (auto it = topics.find(word); it != topics.end()) v[static_cast<size_t>(it->second)] += 1.0f;
          word.clear();
        }
      }
      float norm = 0;
      for (float x : v) norm += x * x;
      norm = std::sqrt(norm);
      if (norm > 0) {
        for (float& x : v) x /= norm;
      }
      out.push_back(v);
    }
    return out;
  }
  int calls = 0;

 private:
  std::string pooling_;
};

}  // namespace lmforge::retrieval::test
