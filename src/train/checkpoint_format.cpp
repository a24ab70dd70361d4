#include "train/checkpoint_format.h"

#include <cstring>
#include <memory>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/sha256.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

namespace {

constexpr uint32_t kVersion = 1;
const std::string kPrefix = "lmforge.checkpoint.";
constexpr const char* kParts[3] = {"value", "adam_m", "adam_v"};

GgufValue u64_value(uint64_t v) {
  GgufValue x;
  x.type = GgufType::UINT64;
  x.u = v;
  return x;
}

GgufValue array_of(GgufType type) {
  GgufValue x;
  x.type = GgufType::ARRAY;
  x.array_type = type;
  return x;
}

std::span<const uint8_t> float_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

const std::vector<float>& part_of(const TrainedTensor& t, int part) {
  return part == 0 ? t.value : part == 1 ? t.adam_m : t.adam_v;
}

std::string tensor_hash(const TrainingState& state) {
  Sha256 h;
  for (const auto& t : state.tensors)
    for (int part = 0; part < 3; ++part) {
      const auto bytes = float_bytes(part_of(t, part));
      h.update(bytes.data(), bytes.size());
    }
  return to_hex(h.finish());
}

// Typed metadata lookups that name the key in their errors.
class Meta {
 public:
  Meta(const GgufReader& reader, const std::string& label) : reader_(reader), label_(label) {}

  const GgufValue& get(const std::string& name, GgufType type) const {
    const GgufValue* v = reader_.find_kv(kPrefix + name);
    if (!v) fail(label_, "not a lmforge checkpoint: " + kPrefix + name + " is missing");
    if (v->type != type)
      fail(label_, kPrefix + name + " is " + std::string(gguf_type_name(v->type)) + ", expected " +
                       std::string(gguf_type_name(type)));
    return *v;
  }
  const GgufValue& array(const std::string& name, GgufType element) const {
    const GgufValue& v = get(name, GgufType::ARRAY);
    if (v.array_type != element)
      fail(label_, kPrefix + name + " holds " + std::string(gguf_type_name(v.array_type)) + ", expected " +
                       std::string(gguf_type_name(element)));
    return v;
  }
  uint64_t u64(const std::string& name) const { return get(name, GgufType::UINT64).u; }
  const std::string& str(const std::string& name) const { return get(name, GgufType::STRING).s; }

 private:
  const GgufReader& reader_;
  const std::string& label_;
};

std::vector<float> read_floats(const GgufReader& reader, size_t index, const std::vector<uint64_t>& shape,
                               const std::string& label, Sha256& hash) {
  const TensorInfo& info = reader.tensors()[index];
  if (info.dtype != DType::F32) fail(label, "tensor " + info.name + " is not F32");
  if (info.shape != shape)
    fail(label, "tensor " + info.name + " has shape " + shape_text(info.shape) + ", expected " + shape_text(shape));
  const TensorBytes bytes = reader.read(index);
  const auto n = checked_product(shape);
  if (!n || bytes.size() / sizeof(float) != *n || bytes.size() % sizeof(float) != 0)
    fail(label, "tensor " + info.name + " holds " + std::to_string(bytes.size()) + " bytes, not its shape's");
  hash.update(bytes.data(), bytes.size());
  std::vector<float> out(*n);
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace

GgufWriter checkpoint_gguf(const TrainingState& state, const std::string& label) {
  GgufWriter w;
  w.set(kPrefix + "version", GgufValue::u32(kVersion));
  w.set(kPrefix + "base_sha256", GgufValue::str(state.base_sha256));
  w.set(kPrefix + "data_sha256", GgufValue::str(state.data_sha256));
  w.set(kPrefix + "options", GgufValue::str(state.options.dump()));
  w.set(kPrefix + "step", u64_value(state.step));
  w.set(kPrefix + "epoch", u64_value(state.epoch));
  w.set(kPrefix + "cursor", u64_value(state.cursor));
  GgufValue rng = array_of(GgufType::UINT64);
  for (uint64_t word : state.rng) rng.array.push_back(u64_value(word));
  w.set(kPrefix + "rng", std::move(rng));
  GgufValue order = array_of(GgufType::UINT32);
  order.array.reserve(state.order.size());
  for (uint32_t i : state.order) order.array.push_back(GgufValue::u32(i));
  w.set(kPrefix + "order", std::move(order));
  w.set(kPrefix + "losses", GgufValue::f32_array(state.losses));
  std::vector<std::string> names;
  for (const auto& t : state.tensors) names.push_back(t.name);
  w.set(kPrefix + "tensor_names", GgufValue::string_array(names));
  w.set(kPrefix + "tensor_sha256", GgufValue::str(tensor_hash(state)));

  for (size_t i = 0; i < state.tensors.size(); ++i) {
    const TrainedTensor& t = state.tensors[i];
    const auto n = checked_product(t.shape);
    if (t.shape.empty() || !n) fail(label, "internal error: tensor " + t.name + " has no valid shape");
    for (int part = 0; part < 3; ++part) {
      const std::vector<float>& data = part_of(t, part);
      if (data.size() != *n)
        fail(label, "internal error: tensor " + t.name + "." + kParts[part] + " holds " + std::to_string(data.size()) +
                        " values for shape " + shape_text(t.shape));
      w.add_tensor("t" + std::to_string(i) + "." + kParts[part], DType::F32, t.shape,
                   [&data] { return TensorBytes(float_bytes(data), std::shared_ptr<const void>()); });
    }
  }
  return w;
}

TrainingState decode_checkpoint(std::span<const uint8_t> bytes, const std::string& label) {
  const auto reader = GgufReader::parse(bytes, label, nullptr);
  const Meta meta(*reader, label);
  const GgufValue& version = meta.get("version", GgufType::UINT32);
  if (version.u != kVersion)
    fail(label, "checkpoint version " + std::to_string(version.u) + " is not supported (this lmforge reads " +
                    std::to_string(kVersion) + ")");

  TrainingState state;
  state.base_sha256 = meta.str("base_sha256");
  state.data_sha256 = meta.str("data_sha256");
  state.options = nlohmann::json::parse(meta.str("options"), nullptr, /*allow_exceptions=*/false);
  if (!state.options.is_object()) fail(label, kPrefix + "options is not a JSON object");
  state.step = meta.u64("step");
  state.epoch = meta.u64("epoch");
  state.cursor = meta.u64("cursor");

  const GgufValue& rng = meta.array("rng", GgufType::UINT64);
  if (rng.array.size() != state.rng.size())
    fail(label, kPrefix + "rng holds " + std::to_string(rng.array.size()) + " words, expected 4");
  for (size_t i = 0; i < state.rng.size(); ++i) state.rng[i] = rng.array[i].u;
  const GgufValue& order = meta.array("order", GgufType::UINT32);
  state.order.reserve(order.array.size());
  for (const auto& v : order.array) state.order.push_back(static_cast<uint32_t>(v.u));
  const GgufValue& losses = meta.array("losses", GgufType::FLOAT32);
  if (losses.array.size() != state.step)
    fail(label, kPrefix + "losses holds " + std::to_string(losses.array.size()) + " values for " +
                    std::to_string(state.step) + " steps");
  state.losses.reserve(losses.array.size());
  for (const auto& v : losses.array) state.losses.push_back(static_cast<float>(v.f));

  const GgufValue& names = meta.array("tensor_names", GgufType::STRING);
  if (reader->tensors().size() != names.array.size() * 3)
    fail(label, "the checkpoint has " + std::to_string(reader->tensors().size()) + " tensors for " +
                    std::to_string(names.array.size()) + " names (expected 3 each)");
  Sha256 hash;
  for (size_t i = 0; i < names.array.size(); ++i) {
    TrainedTensor t;
    t.name = names.array[i].s;
    for (int part = 0; part < 3; ++part) {
      const std::string want = "t" + std::to_string(i) + "." + kParts[part];
      const size_t index = i * 3 + static_cast<size_t>(part);
      if (reader->tensors()[index].name != want)
        fail(label, "tensor " + std::to_string(index) + " is named " + reader->tensors()[index].name + ", expected " + want);
    }
    t.shape = reader->tensors()[i * 3].shape;
    if (t.shape.empty()) fail(label, "tensor " + t.name + " has no dimensions");
    t.value = read_floats(*reader, i * 3, t.shape, label, hash);
    t.adam_m = read_floats(*reader, i * 3 + 1, t.shape, label, hash);
    t.adam_v = read_floats(*reader, i * 3 + 2, t.shape, label, hash);
    state.tensors.push_back(std::move(t));
  }
  if (to_hex(hash.finish()) != meta.str("tensor_sha256"))
    fail(label, "the checkpoint's tensor data are damaged (their SHA-256 does not match the one recorded)");
  return state;
}

}  // namespace lmforge
