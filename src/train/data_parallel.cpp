#include "train/data_parallel.h"

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/sha256.h"
#include "train/checkpoint.h"
#include "train/checkpoint_format.h"

namespace lmforge {

std::optional<TrainingState> load_latest_checkpoint_on_all(const std::string& dir, Collective& ranks) {
  if (ranks.size() == 1) return load_latest_checkpoint(dir);
  const std::string path = checkpoint_file(dir);
  // First byte: 1 when rank 0 has a checkpoint; its bytes follow.
  std::vector<uint8_t> message{0};
  if (ranks.is_root()) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    if (ec) fail(path, "cannot look for a checkpoint: " + ec.message());
    if (exists) {
      const auto file = MappedFile::open(path);
      const auto bytes = file->bytes();
      message.assign(1, 1);
      message.insert(message.end(), bytes.begin(), bytes.end());
    }
  }
  ranks.broadcast(message);
  if (message.empty() || message[0] == 0) return std::nullopt;
  return decode_checkpoint(std::span<const uint8_t>(message).subspan(1), path);
}

void check_same_inputs(const TrainingState& state, Collective& ranks) {
  const std::string base = broadcast_string(ranks, state.base_sha256);
  const std::string data = broadcast_string(ranks, state.data_sha256);
  const std::string me = "<rank " + std::to_string(ranks.rank()) + ">";
  if (base != state.base_sha256)
    fail(me, "the base model here (sha256 " + state.base_sha256 + ") is not rank 0's (" + base + ")");
  if (data != state.data_sha256)
    fail(me, "the data file here (sha256 " + state.data_sha256 + ") is not rank 0's (" + data + ")");
}

void check_same_tensors(const TrainingState& state, Collective& ranks) {
  Sha256 h;
  for (const TrainedTensor& t : state.tensors)
    for (const std::vector<float>* v : {&t.value, &t.adam_m, &t.adam_v}) h.update(v->data(), v->size() * sizeof(float));
  const auto digest = h.finish();
  const std::string mine = to_hex(digest);
  const std::string root = broadcast_string(ranks, mine);
  if (root != mine)
    fail("<rank " + std::to_string(ranks.rank()) + ">",
         "the trained tensors differ from rank 0's (sha256 " + mine + ", rank 0 " + root + ")");
}

}  // namespace lmforge
