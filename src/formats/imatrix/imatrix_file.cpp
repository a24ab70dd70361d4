#include "formats/imatrix/imatrix_file.h"

#include <cmath>
#include <cstring>
#include <set>

#include "core/atomic_output.h"
#include "core/byte_reader.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"

namespace lmforge {

namespace {

const std::string kSums = ".in_sum2", kCounts = ".counts";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A sum of squares: finite and not negative.
bool valid_sum(float v) { return std::isfinite(v) && v >= 0; }

std::vector<float> floats_of(const TensorBytes& b) {
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

uint32_t u32_key(const GgufReader& g, const std::string& path, const char* key) {
  const GgufValue* v = g.find_kv(key);
  if (!v) fail(path, std::string("missing imatrix metadata: no ") + key + " key (llama-quantize refuses such a file too)");
  if (v->type != GgufType::UINT32) fail(path, std::string(key) + " is " + std::string(gguf_type_name(v->type)) + ", expected UINT32");
  return static_cast<uint32_t>(v->u);
}

ImatrixData read_gguf(const std::string& path, std::span<const uint8_t> bytes, std::shared_ptr<const void> keep_alive) {
  const auto g = GgufReader::parse(bytes, path, std::move(keep_alive));
  ImatrixData out;
  const GgufValue* ds = g->find_kv("imatrix.datasets");
  if (!ds) fail(path, "missing imatrix metadata: no imatrix.datasets key (llama-quantize refuses such a file too)");
  if (ds->type != GgufType::ARRAY || ds->array_type != GgufType::STRING) fail(path, "imatrix.datasets is not an array of strings");
  for (const auto& s : ds->array) out.datasets.push_back(s.s);
  out.chunk_count = u32_key(*g, path, "imatrix.chunk_count");
  out.chunk_size = u32_key(*g, path, "imatrix.chunk_size");
  if (const GgufValue* t = g->find_kv("general.type"); t && (t->type != GgufType::STRING || t->s != "imatrix"))
    fail(path, "general.type is " + quoted_for_message(t->s) + ", not \"imatrix\": this GGUF is not an importance matrix");

  // Pair NAME.in_sum2 with NAME.counts.
  std::map<std::string, std::pair<int64_t, int64_t>> pairs;
  const auto& ts = g->tensors();
  for (size_t i = 0; i < ts.size(); ++i) {
    const std::string& n = ts[i].name;
    const bool sums = ends_with(n, kSums);
    if (!sums && !ends_with(n, kCounts)) fail(path, "tensor " + quoted_for_message(n) + " is neither NAME.in_sum2 nor NAME.counts");
    const std::string base = n.substr(0, n.size() - (sums ? kSums : kCounts).size());
    auto& slot = pairs.try_emplace(base, -1, -1).first->second;
    (sums ? slot.first : slot.second) = static_cast<int64_t>(i);
    if (ts[i].dtype != DType::F32) fail(path, "tensor " + quoted_for_message(n) + " is " + std::string(dtype_name(ts[i].dtype)) + ", expected F32");
  }
  if (pairs.empty()) fail(path, "no importance data: the file has no tensors");
  for (const auto& [name, idx] : pairs) {
    if (idx.first < 0 || idx.second < 0)
      fail(path, "mismatched sums and counts for " + quoted_for_message(name) + ": " + (idx.first < 0 ? "no .in_sum2" : "no .counts"));
    const TensorInfo& s = ts[static_cast<size_t>(idx.first)];
    const TensorInfo& c = ts[static_cast<size_t>(idx.second)];
    // in_sum2: ne [columns, matrices] (row-major {matrices, columns}); counts: ne [1, matrices].
    const uint64_t n_mat = c.numel();
    if (n_mat == 0 || s.numel() == 0 || s.numel() % n_mat != 0)
      fail(path, quoted_for_message(name) + " has " + std::to_string(s.numel()) + " sums for " + std::to_string(n_mat) +
                     " counts: the sums must be a whole, non-empty row per count");
    if (s.shape.size() > 2 || (s.shape.size() == 2 && s.shape[0] != n_mat))
      fail(path, quoted_for_message(name) + ".in_sum2 has shape " + shape_text(s.shape) + ", expected [" + std::to_string(n_mat) + ", columns]");
    ImatrixEntry e;
    e.sums = floats_of(g->read(static_cast<size_t>(idx.first)));
    for (size_t j = 0; j < e.sums.size(); ++j)
      if (!valid_sum(e.sums[j]))
        fail(path, quoted_for_message(name) + ".in_sum2 value " + std::to_string(j) + " is " + std::to_string(e.sums[j]) +
                       " (a sum of squares must be finite and not negative)");
    for (const float v : floats_of(g->read(static_cast<size_t>(idx.second)))) {
      // Counts are whole numbers of activation rows, stored as F32 (exact up to 2^24).
      if (!std::isfinite(v) || v < 0 || v > 9.0e15f || std::nearbyint(v) != v)
        fail(path, quoted_for_message(name) + ".counts holds " + std::to_string(v) + ", not a count of rows");
      e.counts.push_back(std::llround(v));
    }
    out.entries.emplace(name, std::move(e));
  }
  return out;
}

ImatrixData read_dat(const std::string& path, std::span<const uint8_t> bytes) {
  ByteReader r(bytes, path);
  ImatrixData out;
  out.legacy = true;
  const int32_t n_entries = r.i32("entry count");
  // Each entry takes at least 17 bytes (three i32, a one-byte name, one f32).
  if (n_entries < 1 || static_cast<uint64_t>(n_entries) > r.remaining() / 17)
    r.fail_at(0, "entry count " + std::to_string(n_entries) + " is impossible for a file of " + std::to_string(bytes.size()) +
                     " bytes (this is not an imatrix .dat file)");
  for (int32_t i = 0; i < n_entries; ++i) {
    const uint64_t at = r.pos();
    const int32_t len = r.i32("name length");
    if (len < 1 || static_cast<uint64_t>(len) > r.remaining()) r.fail_at(at, "entry " + std::to_string(i) + " has name length " + std::to_string(len));
    std::string name = r.str(static_cast<uint64_t>(len), "entry name");
    if (name.find('\0') != std::string::npos) r.fail_at(at + 4, "entry " + std::to_string(i) + "'s name holds a NUL byte");
    const int32_t ncall = r.i32("ncall");
    if (ncall < 0) r.fail_at(r.pos() - 4, quoted_for_message(name) + " has a negative call count " + std::to_string(ncall));
    const uint64_t nval_at = r.pos();
    const int32_t nval = r.i32("value count");
    if (nval < 1 || static_cast<uint64_t>(nval) > r.remaining() / 4)
      r.fail_at(nval_at, quoted_for_message(name) + " has " + std::to_string(nval) + " values but " + std::to_string(r.remaining()) + " bytes remain");
    ImatrixEntry e;
    e.sums.resize(static_cast<size_t>(nval));
    for (auto& v : e.sums) {
      v = r.f32("value");
      if (!valid_sum(v)) r.fail_at(r.pos() - 4, quoted_for_message(name) + " holds " + std::to_string(v) + " (must be finite and not negative)");
    }
    e.counts = {ncall};
    if (!out.entries.emplace(name, std::move(e)).second) r.fail_at(at, "entry " + quoted_for_message(name) + " appears twice");
  }
  if (!r.at_end()) {  // optional: chunk count, then the dataset's name
    const int32_t chunks = r.i32("chunk count");
    if (chunks < 0) r.fail_at(r.pos() - 4, "negative chunk count " + std::to_string(chunks));
    out.chunk_count = static_cast<uint32_t>(chunks);
    if (!r.at_end()) {
      const int32_t len = r.i32("dataset name length");
      if (len < 0 || static_cast<uint64_t>(len) > r.remaining())
        r.fail_at(r.pos() - 4, "dataset name length " + std::to_string(len) + " but " + std::to_string(r.remaining()) + " bytes remain (truncated?)");
      if (len > 0) out.datasets.push_back(r.str(static_cast<uint64_t>(len), "dataset name"));
      if (!r.at_end()) r.fail_here(std::to_string(r.remaining()) + " unexpected bytes after the dataset name");
    }
  }
  return out;
}

void check_writable(const ImatrixData& data, const std::string& path) {
  if (data.legacy) throw std::logic_error("write_imatrix: legacy data holds means, not sums");
  if (data.entries.empty()) fail(path, "no importance data to write (no weight product was observed)");
  for (const auto& [name, e] : data.entries)
    if (e.counts.empty() || e.sums.empty() || e.sums.size() % e.counts.size() != 0)
      throw std::logic_error("write_imatrix: inconsistent entry " + name);
}

void put_i32(std::vector<uint8_t>& b, int32_t v) {
  for (int k = 0; k < 4; ++k) b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(v) >> (8 * k)));
}

}  // namespace

ImatrixData parse_imatrix(std::span<const uint8_t> bytes, const std::string& label, std::shared_ptr<const void> keep_alive) {
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return read_gguf(label, bytes, std::move(keep_alive));
  if (bytes.size() < 4) fail(label, "too short for an imatrix file (" + std::to_string(bytes.size()) + " bytes)");
  return read_dat(label, bytes);
}

ImatrixData read_imatrix_file(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const auto bytes = file->bytes();
  return parse_imatrix(bytes, path, file);
}

void write_imatrix_gguf(const ImatrixData& data, const std::string& path, bool overwrite) {
  check_writable(data, path);
  GgufWriter w;
  w.set("general.type", GgufValue::str("imatrix"));
  w.set("imatrix.datasets", GgufValue::string_array(data.datasets));
  w.set("imatrix.chunk_count", GgufValue::u32(data.chunk_count));
  w.set("imatrix.chunk_size", GgufValue::u32(data.chunk_size));
  for (const auto& entry : data.entries) {  // std::map: sorted by name, as llama-imatrix writes
    // A named reference, not a structured binding: lambdas may not capture bindings in C++20.
    const std::string& name = entry.first;
    const auto& e = entry.second;
    const uint64_t n_mat = e.counts.size(), cols = e.columns();
    // ggml drops trailing dimensions of 1 when it writes: one matrix is a 1-D in_sum2.
    using Shape = std::vector<uint64_t>;
    w.add_tensor(name + kSums, DType::F32, n_mat == 1 ? Shape{cols} : Shape{n_mat, cols}, [&e] { return tensor_bytes_of(e.sums); });
    w.add_tensor(name + kCounts, DType::F32, n_mat == 1 ? Shape{1} : Shape{n_mat, 1}, [&e] { return tensor_bytes_of(std::vector<float>(e.counts.begin(), e.counts.end())); });
  }
  w.write(path, overwrite);
}

void write_imatrix_dat(const ImatrixData& data, const std::string& path, bool overwrite) {
  check_writable(data, path);
  if (data.chunk_size == 0) throw std::logic_error("write_imatrix_dat: chunk size 0");
  std::vector<uint8_t> b;
  // As llama-imatrix: entries whose counts are all zero are left out.
  std::vector<const std::pair<const std::string, ImatrixEntry>*> kept;
  for (const auto& kv : data.entries)
    for (const int64_t c : kv.second.counts)
      if (c != 0) {
        kept.push_back(&kv);
        break;
      }
  if (kept.empty()) fail(path, "no importance data to write (every count is zero)");
  put_i32(b, static_cast<int32_t>(kept.size()));
  const int64_t chunk = data.chunk_size;
  for (const auto* kv : kept) {
    const ImatrixEntry& e = kv->second;
    put_i32(b, static_cast<int32_t>(kv->first.size()));
    b.insert(b.end(), kv->first.begin(), kv->first.end());
    int64_t max_count = 0;
    for (const int64_t c : e.counts) max_count = std::max(max_count, c);
    // Calls rounded up, so that a partial chunk never stores zeros.
    const auto ncall = static_cast<int32_t>((max_count + chunk - 1) / chunk);
    put_i32(b, ncall);
    put_i32(b, static_cast<int32_t>(e.sums.size()));
    const size_t cols = e.columns();
    for (size_t i = 0; i < e.sums.size(); ++i) {
      float count = static_cast<float>(e.counts[i / cols]);
      float value = e.sums[i];
      if (count == 0.0f) value = count = 1.0f;  // llama-imatrix's choice for a matrix never seen
      const float v = (value / count) * static_cast<float>(ncall);
      uint32_t u;
      std::memcpy(&u, &v, 4);
      put_i32(b, static_cast<int32_t>(u));
    }
  }
  put_i32(b, static_cast<int32_t>(data.chunk_count));
  const std::string dataset = data.datasets.empty() ? std::string() : data.datasets.back();
  put_i32(b, static_cast<int32_t>(dataset.size()));
  b.insert(b.end(), dataset.begin(), dataset.end());
  AtomicOutputFile out(path, overwrite);
  out.write(b);
  out.commit();
}

std::vector<float> imatrix_column_weights(const ImatrixEntry& e, bool legacy) {
  std::vector<float> w(e.sums.size());
  if (legacy) {
    const int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
    for (size_t i = 0; i < w.size(); ++i) w[i] = ncall > 0 ? e.sums[i] / static_cast<float>(ncall) : e.sums[i];
    return w;
  }
  const size_t cols = e.columns();
  for (size_t m = 0; m < e.counts.size(); ++m) {
    const auto count = static_cast<float>(e.counts[m]);
    for (size_t i = 0; i < cols; ++i) w[m * cols + i] = count > 0.0f ? e.sums[m * cols + i] / count : 1.0f;
  }
  return w;
}

}  // namespace lmforge
