#include "formats/safetensors_writer.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_output.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "formats/safetensors_reader.h"
#include "core/text_checks.h"

namespace lmforge {

namespace {

// Everything a reader would refuse is refused before any byte is written.
void check_tensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  std::set<std::string> names;
  for (const auto& t : tensors) {
    const auto& i = t.info;
    if (i.name.empty()) fail(path, "cannot write a tensor with an empty name");
    if (i.name == "__metadata__") fail(path, "cannot write a tensor named '__metadata__'");
    if (has_control_char(i.name) || !is_valid_utf8(i.name))
      fail(path, "tensor name " + quoted_for_message(i.name) +
                     " contains a control character or invalid UTF-8");
    if (!names.insert(i.name).second) fail(path, "tensor '" + i.name + "' is listed twice");
    if (dtype_info(i.dtype).safetensors_name.empty())
      fail(path, "tensor '" + i.name + "' has dtype " + std::string(dtype_name(i.dtype)) +
                     ", which safetensors cannot store");
    if (i.shape.size() > kSafetensorsMaxRank)
      fail(path, "tensor '" + i.name + "' has rank " + std::to_string(i.shape.size()) +
                     ", more than the limit of " + std::to_string(kSafetensorsMaxRank));
    auto numel = checked_product(i.shape);
    auto nbytes = numel ? dtype_nbytes(i.dtype, *numel) : std::nullopt;
    if (!nbytes || *nbytes != i.nbytes)
      fail(path, "tensor '" + i.name + "' declares " + std::to_string(i.nbytes) +
                     " bytes, which does not match its shape and dtype");
    if (!t.produce) fail(path, "tensor '" + i.name + "' has no data producer");
  }
}

std::string build_header(const std::string& path, const std::vector<const TensorToWrite*>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the header in data order, which makes it easy to read by eye.
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  uint64_t offset = 0;
  for (const auto* t : tensors) {
    const auto& i = t->info;
    const uint64_t end = offset + i.nbytes;  // sums of validated sizes; checked below
    if (end < offset) fail(path, "total tensor data size overflows");
    h[i.name] = {{"dtype", std::string(dtype_info(i.dtype).safetensors_name)},
                 {"shape", i.shape},
                 {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = h.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("cannot encode the header: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kSafetensorsMaxHeaderBytes)
    fail(path, "header would be " + std::to_string(text.size()) +
                   " bytes, more than the limit of " + std::to_string(kSafetensorsMaxHeaderBytes));
  return text;
}

void write_file(const std::string& path, const std::vector<const TensorToWrite*>& tensors,
                const std::map<std::string, std::string>& metadata, bool overwrite) {
  const std::string header = build_header(path, tensors, metadata);
  AtomicOutputFile out(path, overwrite);
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  out.write(len, 8);
  out.write(header.data(), header.size());
  for (const auto* t : tensors) {
    TensorBytes b = t->produce();
    if (b.size() != t->info.nbytes)
      fail(path, "tensor '" + t->info.name + "' produced " + std::to_string(b.size()) +
                     " bytes, expected " + std::to_string(t->info.nbytes));
    out.write_tensor(b);
  }
  out.commit();
}

std::vector<const TensorToWrite*> all(const std::vector<TensorToWrite>& tensors) {
  std::vector<const TensorToWrite*> v;
  for (const auto& t : tensors) v.push_back(&t);
  return v;
}

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata, bool overwrite) {
  check_tensors(path, tensors);
  write_file(path, all(tensors), metadata, overwrite);
}

std::vector<std::string> write_safetensors_sharded(
    const std::string& dir, const std::vector<TensorToWrite>& tensors,
    const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes, bool overwrite) {
  check_tensors(dir, tensors);
  if (max_shard_bytes == 0) fail(dir, "maximum shard size must be positive");

  std::vector<std::vector<const TensorToWrite*>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& t : tensors) {
    if (!shards.back().empty() &&
        t.info.nbytes > max_shard_bytes - std::min(in_shard, max_shard_bytes)) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&t);
    in_shard += t.info.nbytes;
    auto s = checked_add(total, t.info.nbytes);
    if (!s) fail(dir, "total tensor data size overflows");
    total = *s;
  }

  std::vector<std::string> names;
  if (shards.size() == 1) {
    names.push_back("model.safetensors");
  } else {
    if (shards.size() > 99999) fail(dir, "more than 99999 shards; raise the maximum shard size");
    for (size_t i = 0; i < shards.size(); ++i) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      names.emplace_back(buf);
    }
    names.push_back("model.safetensors.index.json");
  }
  // Refuse before writing anything, so a refusal leaves no partial set behind.
  for (const auto& n : names) check_output_path(join(dir, n), overwrite);

  for (size_t i = 0; i < shards.size(); ++i)
    write_file(join(dir, names[i]), shards[i], metadata, overwrite);

  if (shards.size() > 1) {
    // Same shape as transformers' index (sorted keys, indent 2): total_size counts tensor bytes.
    nlohmann::json index = {{"metadata", {{"total_size", total}}},
                            {"weight_map", nlohmann::json::object()}};
    for (size_t i = 0; i < shards.size(); ++i)
      for (const auto* t : shards[i]) index["weight_map"][t->info.name] = names[i];
    const std::string text = index.dump(2) + "\n";
    AtomicOutputFile out(join(dir, names.back()), overwrite);
    out.write(text.data(), text.size());
    out.commit();
  }
  return names;
}

}  // namespace lmforge
