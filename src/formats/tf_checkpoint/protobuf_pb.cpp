#include "formats/tf_checkpoint/protobuf_pb.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "formats/protobuf_wire.h"
#include "formats/tf_checkpoint/tensor_bundle.h"
#include "formats/tf_checkpoint/tf_checkpoint_reader.h"

namespace lmforge::tf {
namespace {

using pb::Field;
using pb::WireReader;
using pb::WireType;

// Sniffing looks at no more than this many top-level fields.
constexpr int kSniffFields = 64;
// A tensor filled from a short value list (TF repeats the last value) is materialised in
// memory; beyond this it is refused rather than allocated.
constexpr uint64_t kMaxFilledBytes = 1ull << 30;
constexpr size_t kMaxRank = 64;

bool is_op_name(std::span<const uint8_t> b) {
  if (b.empty() || b.size() > 256) return false;
  return std::all_of(b.begin(), b.end(), [](uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '>';
  });
}

bool is_node_name(std::span<const uint8_t> b) {
  const std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  return !s.empty() && s.size() <= 4096 && is_valid_utf8(s) && !has_control_char(s);
}

// GraphDef {node 1, library 2, version 3 (varint), versions 4}; its first node must start
// NodeDef {name 1 string, op 2 identifier}. A tokenizer.model starts the same way (pieces 1 {
// piece 1 string, ...}) but its second inner field is score, a fixed32.
bool looks_like_graphdef(std::span<const uint8_t> bytes) {
  WireReader r(bytes, "sniff");
  Field f;
  if (!r.next(f) || f.number != 1 || f.type != WireType::kLengthDelimited) return false;
  WireReader node = r.sub(f, "NodeDef");
  Field name, op;
  if (!node.next(name) || name.number != 1 || name.type != WireType::kLengthDelimited || !is_node_name(name.bytes)) return false;
  if (!node.next(op) || op.number != 2 || op.type != WireType::kLengthDelimited || !is_op_name(op.bytes)) return false;
  for (int i = 0; i < kSniffFields && r.next(f); ++i) {
    const bool ok = (f.number == 1 || f.number == 2 || f.number == 4) ? f.type == WireType::kLengthDelimited
                    : f.number == 3                                    ? f.type == WireType::kVarint
                                                                       : false;
    if (!ok) return false;
  }
  return true;
}

// SavedModel {saved_model_schema_version 1 (int64), meta_graphs 2 (MetaGraphDef {meta_info_def
// 1, graph_def 2, saver_def 3, collection_def 4, signature_def 5, asset_file_def 6,
// object_graph_def 7})}.
bool looks_like_saved_model(std::span<const uint8_t> bytes) {
  WireReader r(bytes, "sniff");
  Field f;
  if (!r.next(f) || f.number != 1 || f.type != WireType::kVarint || f.value != 1) return false;
  bool meta_graph = false;
  for (int i = 0; i < kSniffFields && r.next(f); ++i) {
    if (f.number != 2 || f.type != WireType::kLengthDelimited) return false;
    if (!meta_graph) {
      WireReader m = r.sub(f, "MetaGraphDef");
      Field g;
      if (!m.next(g) || g.number < 1 || g.number > 7 || g.type != WireType::kLengthDelimited) return false;
      meta_graph = true;
    }
  }
  return meta_graph;
}

// ONNX data_type -> lmforge DType (onnx.proto TensorProto.DataType).
std::optional<DType> dtype_from_onnx(int32_t t) {
  switch (t) {
    case 1: return DType::F32;
    case 2: return DType::U8;
    case 3: return DType::I8;
    case 4: return DType::U16;
    case 5: return DType::I16;
    case 6: return DType::I32;
    case 7: return DType::I64;
    case 9: return DType::BOOL;
    case 10: return DType::F16;
    case 11: return DType::F64;
    case 12: return DType::U32;
    case 13: return DType::U64;
    case 14: return DType::C64;
    case 15: return DType::C128;
    case 16: return DType::BF16;
    case 17: return DType::F8_E4M3;
    case 19: return DType::F8_E5M2;
    default: return std::nullopt;
  }
}

// ONNX TensorProto {dims 1, data_type 2, segment 3, float_data 4, int32_data 5, string_data 6,
// int64_data 7, name 8, raw_data 9, double_data 10, uint64_data 11, doc_string 12,
// external_data 13, data_location 14}: every top-level field must be one of these with a
// fitting wire type, data_type must be set once, and raw_data must match the shape.
bool looks_like_onnx_tensor(std::span<const uint8_t> bytes) {
  WireReader r(bytes, "sniff");
  Field f;
  int data_type = -1;
  std::vector<uint64_t> dims;
  std::optional<uint64_t> raw_size;
  bool has_values = false;
  int fields = 0;
  while (r.next(f)) {
    if (++fields > kSniffFields) return false;
    const bool ld = f.type == WireType::kLengthDelimited;
    const bool vi = f.type == WireType::kVarint;
    switch (f.number) {
      case 1:
        if (vi) dims.push_back(f.value);
        else if (!ld) return false;
        break;
      case 2:
        if (!vi || data_type != -1 || f.value == 0 || f.value > 32) return false;
        data_type = static_cast<int>(f.value);
        break;
      case 4: if (!ld && f.type != WireType::kFixed32) return false; has_values = true; break;
      case 10: if (!ld && f.type != WireType::kFixed64) return false; has_values = true; break;
      case 5: case 7: case 11: if (!ld && !vi) return false; has_values = true; break;
      case 14: if (!vi) return false; break;
      case 3: case 6: case 12: case 13: if (!ld) return false; break;
      case 8:
        if (!ld || !is_valid_utf8({reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size()})) return false;
        break;
      case 9:
        if (!ld) return false;
        raw_size = f.bytes.size();
        break;
      default: return false;
    }
  }
  if (data_type == -1 || !(raw_size || has_values)) return false;
  if (raw_size) {
    const auto dt = dtype_from_onnx(data_type);
    const auto numel = checked_product(dims);
    const auto n = dt && numel ? dtype_nbytes(*dt, *numel) : std::nullopt;
    if (!n || *n != *raw_size) return false;
  }
  return true;
}

// One constant tensor of the message.
struct PbTensor {
  TensorInfo info;
  std::span<const uint8_t> raw;   // tensor_content / raw_data, when present
  std::vector<uint64_t> values;   // else the typed value list (bit patterns)
  bool repeat_last = false;       // TF: a short list repeats its last value; ONNX: exact count
};

// Appends the numbers of a repeated scalar field, packed or not, refusing more than `limit`.
void collect(const WireReader& r, const Field& f, WireType elem, std::vector<uint64_t>& out, uint64_t limit,
             const char* what) {
  auto push = [&](uint64_t v) {
    if (out.size() >= limit) r.fail_at(f.offset, std::string(what) + " holds more values than the tensor has elements");
    out.push_back(v);
  };
  if (f.type == elem) {
    push(f.value);
    return;
  }
  const auto b = r.as_bytes(f, what);
  if (elem == WireType::kVarint) {
    size_t pos = 0;
    while (pos < b.size()) {
      uint64_t v = 0;
      int i = 0;
      for (;; ++i) {
        if (i >= 10 || pos >= b.size()) r.fail_at(f.payload_offset + pos, std::string("bad varint in packed ") + what);
        const uint8_t c = b[pos++];
        v |= static_cast<uint64_t>(c & 0x7F) << (7 * i);
        if (!(c & 0x80)) break;
      }
      push(v);
    }
  } else {
    const size_t w = elem == WireType::kFixed32 ? 4 : 8;
    if (b.size() % w != 0) r.fail_at(f.payload_offset, std::string("packed ") + what + " is not a whole number of values");
    for (size_t pos = 0; pos < b.size(); pos += w) {
      uint64_t v = 0;
      for (size_t k = 0; k < w; ++k) v |= static_cast<uint64_t>(b[pos + k]) << (8 * k);
      push(v);
    }
  }
}

void check_shape(const WireReader& r, const Field& at, PbTensor& t, const std::string& what) {
  const auto numel = checked_product(t.info.shape);
  const auto n = numel ? dtype_nbytes(t.info.dtype, *numel) : std::nullopt;
  if (!n) r.fail_at(at.offset, what + ": element count overflows");
  t.info.nbytes = *n;
  if (!t.raw.empty() || t.values.empty()) {
    if (t.raw.size() != *n && !(t.raw.empty() && t.repeat_last)) {
      r.fail_at(at.offset, what + ": " + std::to_string(t.raw.size()) + " data bytes for a " +
                               std::string(dtype_name(t.info.dtype)) + " tensor of " + std::to_string(*n) + " bytes");
    }
  }
}

// TF TensorProto {dtype 1, tensor_shape 2, version_number 3, tensor_content 4, float_val 5,
// double_val 6, int_val 7, string_val 8, scomplex_val 9, int64_val 10, bool_val 11,
// dcomplex_val 12, half_val 13, resource_handle_val 14, variant_val 15, uint32_val 16,
// uint64_val 17}. Returns false (with `why`) for dtypes with no plain numeric data.
bool parse_tf_tensor(WireReader r, const Field& at, PbTensor& t, std::string& why) {
  Field f;
  int32_t tf_dtype = 0;
  std::vector<Field> value_fields;
  bool has_content = false;
  while (r.next(f)) {
    if (f.number == 1) {
      tf_dtype = r.as_int32(f, "TensorProto.dtype");
    } else if (f.number == 2) {
      WireReader s = r.sub(f, "TensorProto.tensor_shape");
      Field d;
      t.info.shape.clear();
      while (s.next(d)) {
        if (d.number == 3 && s.as_bool(d, "unknown_rank")) r.fail_at(d.offset, "constant of unknown rank");
        if (d.number != 2) continue;
        if (t.info.shape.size() >= kMaxRank) r.fail_at(d.offset, "more than 64 dimensions");
        WireReader dim = s.sub(d, "dim");
        Field g;
        uint64_t size = 0;
        while (dim.next(g)) {
          if (g.number == 1) size = dim.as_uint64(g, "dim.size");
        }
        if (static_cast<int64_t>(size) < 0) r.fail_at(d.offset, "dimension of unknown size in a constant");
        t.info.shape.push_back(size);
      }
    } else if (f.number == 4) {
      t.raw = r.as_bytes(f, "TensorProto.tensor_content");
      has_content = true;
      t.info.offset = f.payload_offset;
    } else if (f.number >= 5 && f.number <= 17 && f.number != 14 && f.number != 15) {
      value_fields.push_back(f);
    }
  }
  const auto dt = dtype_from_tf(tf_dtype);
  if (!dt) {
    why = tf_dtype_name(tf_dtype);
    return false;
  }
  t.info.dtype = *dt;
  t.repeat_last = true;
  if (!has_content) {
    uint32_t want = 0;
    WireType elem = WireType::kVarint;
    switch (*dt) {
      case DType::F32: want = 5, elem = WireType::kFixed32; break;
      case DType::F64: want = 6, elem = WireType::kFixed64; break;
      case DType::I32: case DType::I16: case DType::I8: case DType::U8: case DType::U16: want = 7; break;
      case DType::I64: want = 10; break;
      case DType::BOOL: want = 11; break;
      case DType::F16: case DType::BF16: want = 13; break;
      case DType::U32: want = 16; break;
      case DType::U64: want = 17; break;
      default: why = tf_dtype_name(tf_dtype) + " given as a value list"; return false;
    }
    const auto numel = checked_product(t.info.shape);
    if (!numel) r.fail_at(at.offset, "element count overflows");
    for (const Field& v : value_fields) {
      if (v.number == want) collect(r, v, elem, t.values, *numel, "TensorProto value list");
    }
  }
  check_shape(r, at, t, "TensorProto");
  return true;
}

class PbSource : public TensorSource {
 public:
  PbSource(std::span<const uint8_t> bytes, std::string file, std::shared_ptr<const MappedFile> keep)
      : file_(std::move(file)), keep_(std::move(keep)) {
    const PbKind kind = classify_protobuf(bytes);
    if (kind == PbKind::kOnnxTensor) parse_onnx_tensor(bytes);
    else if (kind == PbKind::kSavedModel) parse_saved_model(bytes);
    else if (kind == PbKind::kGraphDef) {
      description_ = "TensorFlow GraphDef (binary protobuf .pb, e.g. a frozen graph)";
      meta_["message"] = "tensorflow.GraphDef";
      parse_graph(WireReader(bytes, file_), "");
    } else {
      fail(file_, "not a recognised protobuf message (TensorFlow GraphDef or SavedModel, or an ONNX TensorProto)", 0);
    }
    meta_["nodes"] = nodes_;
    meta_["ops"] = ops_;
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& [name, why] : skipped_) skipped.push_back({{"name", sanitize_utf8(name)}, {"reason", why}});
    meta_["constants_without_numeric_data"] = skipped;
    for (const auto& t : tensors_) infos_.push_back(t.info);
  }

  std::string format_description() const override { return description_; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  nlohmann::json metadata() const override { return meta_; }
  std::vector<std::string> warnings() const override {
    std::vector<std::string> w;
    for (const auto& [name, why] : skipped_) w.push_back("constant " + quoted_for_message(name) + " is not listed: " + why);
    return w;
  }

  TensorBytes read(size_t index) const override {
    const PbTensor& t = tensors_.at(index);
    if (!t.raw.empty() || t.info.nbytes == 0) {
      if (keep_) return TensorBytes(t.raw, keep_);
      return TensorBytes(std::vector<uint8_t>(t.raw.begin(), t.raw.end()));
    }
    if (t.info.nbytes > kMaxFilledBytes) {
      fail(file_, "constant " + quoted_for_message(t.info.name) + " would expand to " + std::to_string(t.info.nbytes) +
                      " bytes from a short value list; refused",
           t.info.offset);
    }
    const size_t width = dtype_info(t.info.dtype).block_bytes;
    const uint64_t numel = t.info.nbytes / width;
    std::vector<uint8_t> out(static_cast<size_t>(t.info.nbytes), 0);
    if (t.values.empty()) return TensorBytes(std::move(out));  // TF: no values means zeros
    for (uint64_t i = 0; i < numel; ++i) {
      uint64_t v = t.values[static_cast<size_t>(std::min<uint64_t>(i, t.values.size() - 1))];
      if (t.info.dtype == DType::BOOL) v = v != 0;
      for (size_t k = 0; k < width; ++k) out[static_cast<size_t>(i) * width + k] = static_cast<uint8_t>(v >> (8 * k));
    }
    return TensorBytes(std::move(out));
  }

 private:
  void add(PbTensor t) {
    if (!names_.insert(t.info.name).second) fail(file_, "two constants are named " + quoted_for_message(t.info.name), t.info.offset);
    t.info.file = file_;
    tensors_.push_back(std::move(t));
  }

  void parse_graph(WireReader r, const std::string& prefix) {
    Field f;
    while (r.next(f)) {
      if (f.number != 1) continue;
      ++nodes_;
      WireReader node = r.sub(f, "NodeDef");
      Field g;
      std::string name, op;
      std::optional<Field> value;
      while (node.next(g)) {
        if (g.number == 1) name = node.as_string(g, "NodeDef.name");
        else if (g.number == 2) op = node.as_string(g, "NodeDef.op");
        else if (g.number == 5) {
          WireReader entry = node.sub(g, "NodeDef.attr");
          Field h;
          std::string key;
          std::optional<Field> attr;
          while (entry.next(h)) {
            if (h.number == 1) key = entry.as_string(h, "attr key");
            else if (h.number == 2) attr = h;
          }
          if (key == "value" && attr) {
            WireReader av = entry.sub(*attr, "AttrValue");
            Field a;
            while (av.next(a)) {
              if (a.number == 8) {
                av.as_bytes(a, "AttrValue.tensor");
                value = a;
              }
            }
          }
        }
      }
      if (op.size() <= 256) ++ops_[op];
      if (op != "Const" || !value) continue;
      PbTensor t;
      t.info.name = prefix + name;
      t.info.offset = value->payload_offset;
      std::string why;
      if (!parse_tf_tensor(WireReader(value->bytes, file_, value->payload_offset), *value, t, why)) {
        skipped_.emplace_back(prefix + name, why + " has no plain numeric data");
        continue;
      }
      if (!is_node_name({reinterpret_cast<const uint8_t*>(name.data()), name.size()})) {
        fail(file_, "Const node name " + quoted_for_message(name) + " is empty or has control characters", f.offset);
      }
      add(std::move(t));
    }
  }

  void parse_saved_model(std::span<const uint8_t> bytes) {
    WireReader r(bytes, file_);
    Field f;
    int graphs = 0;
    int64_t schema = 0;
    nlohmann::json graphs_meta = nlohmann::json::array();
    std::vector<Field> meta_graphs;
    while (r.next(f)) {
      if (f.number == 1) schema = static_cast<int64_t>(r.as_uint64(f, "saved_model_schema_version"));
      if (f.number == 2) meta_graphs.push_back(f);
    }
    for (const Field& mg : meta_graphs) {
      WireReader m = r.sub(mg, "MetaGraphDef");
      Field g;
      nlohmann::json tags = nlohmann::json::array();
      nlohmann::json signatures = nlohmann::json::array();
      const std::string prefix = meta_graphs.size() > 1 ? "meta_graph_" + std::to_string(graphs) + "/" : "";
      while (m.next(g)) {
        if (g.number == 1) {
          WireReader info = m.sub(g, "MetaInfoDef");
          Field h;
          while (info.next(h)) {
            if (h.number == 4 && tags.size() < 64) tags.push_back(sanitize_utf8(info.as_string(h, "tags")));
          }
        } else if (g.number == 2) {
          parse_graph(m.sub(g, "GraphDef"), prefix);
        } else if (g.number == 5) {
          WireReader entry = m.sub(g, "signature_def");
          Field h;
          while (entry.next(h)) {
            if (h.number == 1 && signatures.size() < 256) signatures.push_back(sanitize_utf8(entry.as_string(h, "signature name")));
          }
        }
      }
      graphs_meta.push_back({{"tags", tags}, {"signatures", signatures}});
      ++graphs;
    }
    description_ = "TensorFlow SavedModel (saved_model.pb, schema version " + std::to_string(schema) + ", " +
                   std::to_string(graphs) + " meta graph" + (graphs == 1 ? "" : "s") +
                   "); its variables are in variables/variables.index, a TensorFlow checkpoint";
    meta_["message"] = "tensorflow.SavedModel";
    meta_["saved_model_schema_version"] = schema;
    meta_["meta_graphs"] = graphs_meta;
    meta_["variables"] = "variables/variables.index (open it as a TensorFlow checkpoint)";
  }

  void parse_onnx_tensor(std::span<const uint8_t> bytes) {
    WireReader r(bytes, file_);
    Field f;
    PbTensor t;
    int32_t data_type = 0;
    std::vector<Field> value_fields;
    bool has_raw = false;
    while (r.next(f)) {
      switch (f.number) {
        case 1: {
          std::vector<uint64_t> dims;
          collect(r, f, WireType::kVarint, dims, kMaxRank, "TensorProto.dims");
          for (uint64_t d : dims) {
            if (t.info.shape.size() >= kMaxRank) r.fail_at(f.offset, "more than 64 dimensions");
            if (static_cast<int64_t>(d) < 0) r.fail_at(f.offset, "negative dimension");
            t.info.shape.push_back(d);
          }
          break;
        }
        case 2: data_type = r.as_int32(f, "TensorProto.data_type"); break;
        case 3: r.fail_at(f.offset, "segmented ONNX TensorProto is not supported");
        case 8: t.info.name = r.as_string(f, "TensorProto.name"); break;
        case 9:
          t.raw = r.as_bytes(f, "TensorProto.raw_data");
          t.info.offset = f.payload_offset;
          has_raw = true;
          break;
        case 13: r.fail_at(f.offset, "ONNX TensorProto with external data (its bytes are in another file) is not supported");
        case 14:
          if (r.as_uint64(f, "data_location") != 0) r.fail_at(f.offset, "ONNX TensorProto with external data is not supported");
          break;
        case 4: case 5: case 7: case 10: case 11: value_fields.push_back(f); break;
        default: break;
      }
    }
    description_ = "ONNX TensorProto (a single tensor in binary protobuf, e.g. ONNX test data input_0.pb)";
    meta_["message"] = "onnx.TensorProto";
    meta_["data_type"] = data_type;
    const auto dt = dtype_from_onnx(data_type);
    if (!dt) fail(file_, "ONNX TensorProto of data_type " + std::to_string(data_type) + " has no plain numeric data", 0);
    if (t.info.name.empty()) t.info.name = "tensor";
    t.info.dtype = *dt;
    if (!has_raw) {
      uint32_t want = 5;
      WireType elem = WireType::kVarint;
      switch (*dt) {
        case DType::F32: want = 4, elem = WireType::kFixed32; break;
        case DType::F64: want = 10, elem = WireType::kFixed64; break;
        case DType::I64: want = 7; break;
        case DType::U32: case DType::U64: want = 11; break;
        case DType::C64: case DType::C128: fail(file_, "complex ONNX TensorProto without raw_data is not supported", 0);
        default: break;
      }
      const auto numel = checked_product(t.info.shape);
      if (!numel) fail(file_, "ONNX TensorProto element count overflows", 0);
      for (const Field& v : value_fields) {
        if (v.number == want) collect(r, v, elem, t.values, *numel, "TensorProto typed data");
      }
      if (t.values.size() != *numel) {
        fail(file_, "ONNX TensorProto holds " + std::to_string(t.values.size()) + " values for " +
                        std::to_string(*numel) + " elements",
             0);
      }
    }
    Field whole{};
    check_shape(r, whole, t, "ONNX TensorProto");
    add(std::move(t));
  }

  std::string file_;
  std::shared_ptr<const MappedFile> keep_;
  std::string description_;
  nlohmann::json meta_ = nlohmann::json::object();
  std::vector<PbTensor> tensors_;
  std::vector<TensorInfo> infos_;
  std::set<std::string> names_;
  std::vector<std::pair<std::string, std::string>> skipped_;
  uint64_t nodes_ = 0;
  std::map<std::string, uint64_t> ops_;
};

}  // namespace

PbKind classify_protobuf(std::span<const uint8_t> bytes) {
  auto safe = [&](bool (*test)(std::span<const uint8_t>)) {
    try {
      return test(bytes);
    } catch (const Error&) {
      return false;
    }
  };
  if (bytes.empty()) return PbKind::kNone;
  if (safe(looks_like_onnx_tensor)) return PbKind::kOnnxTensor;
  if (safe(looks_like_saved_model)) return PbKind::kSavedModel;
  if (safe(looks_like_graphdef)) return PbKind::kGraphDef;
  return PbKind::kNone;
}

std::unique_ptr<TensorSource> parse_protobuf_pb(std::span<const uint8_t> bytes, const std::string& file,
                                                std::shared_ptr<const MappedFile> keep_alive) {
  return std::make_unique<PbSource>(bytes, file, std::move(keep_alive));
}

}  // namespace lmforge::tf

namespace lmforge {

bool sniff_protobuf_pb(const std::string& path) {
  try {
    const auto file = MappedFile::open(path);
    return tf::classify_protobuf(file->bytes()) != tf::PbKind::kNone;
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<TensorSource> open_protobuf_pb(const std::string& path) {
  const auto file = MappedFile::open(path);
  return tf::parse_protobuf_pb(file->bytes(), path, file);
}

}  // namespace lmforge
