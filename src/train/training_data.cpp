#include "train/training_data.h"

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/sha256.h"
#include "core/text_checks.h"

namespace lmforge {

TrainingData load_training_data(const std::string& path, uint32_t ctx, int32_t bos_id, const TextTokenizer& tokenize) {
  const auto file = MappedFile::open(path);
  const auto bytes = file->bytes();
  if (bytes.empty()) fail(path, "the training data file is empty");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (const auto bad = find_invalid_utf8(text)) fail(path, "the training data is not UTF-8 text", *bad);

  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  const std::string sha = to_hex(hash.finish());

  std::vector<int32_t> tokens;
  if (bos_id >= 0) tokens.push_back(bos_id);
  const std::vector<int32_t> body = tokenize(text);
  tokens.insert(tokens.end(), body.begin(), body.end());
  return TrainingData{sha, TokenWindows(std::move(tokens), ctx, path)};
}

}  // namespace lmforge
