#include "formats/onnx/onnx_proto.h"

#include <cstring>
#include <set>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge::onnx {

namespace {

using pb::Field;
using pb::WireReader;
using pb::WireType;

struct TypeRow {
  int32_t onnx;
  DType ours;
};
// TensorProto.DataType values from onnx.in.proto.
constexpr TypeRow kTypes[] = {
    {1, DType::F32},  {2, DType::U8},   {3, DType::I8},     {4, DType::U16},      {5, DType::I16},
    {6, DType::I32},  {7, DType::I64},  {9, DType::BOOL},   {10, DType::F16},     {11, DType::F64},
    {12, DType::U32}, {13, DType::U64}, {14, DType::C64},   {15, DType::C128},    {16, DType::BF16},
    {17, DType::F8_E4M3}, {19, DType::F8_E5M2},
};

// Which typed field may carry values of each type (onnx.in.proto comments on each field).
ValueField typed_field_for(DType t) {
  switch (t) {
    case DType::F32:
    case DType::C64: return ValueField::kFloat;
    case DType::F64:
    case DType::C128: return ValueField::kDouble;
    case DType::I64: return ValueField::kInt64;
    case DType::U32:
    case DType::U64: return ValueField::kUint64;
    default: return ValueField::kInt32;  // int8/16/32, uint8/16, bool, f16, bf16, f8
  }
}

const char* field_name(ValueField f) {
  switch (f) {
    case ValueField::kNone: return "no values";
    case ValueField::kRaw: return "raw_data";
    case ValueField::kFloat: return "float_data";
    case ValueField::kInt32: return "int32_data";
    case ValueField::kInt64: return "int64_data";
    case ValueField::kDouble: return "double_data";
    case ValueField::kUint64: return "uint64_data";
    case ValueField::kString: return "string_data";
    case ValueField::kExternal: return "external data";
  }
  return "?";
}

// Values of a fixed-width field (4 or 8 bytes) or a varint field, packed or not.
bool is_fixed(ValueField f) { return f == ValueField::kFloat || f == ValueField::kDouble; }
uint32_t fixed_width(ValueField f) { return f == ValueField::kDouble ? 8 : 4; }

// Number of values one occurrence of a repeated scalar field carries; checks the wire type.
uint64_t count_values(const WireReader& r, const Field& f, ValueField vf) {
  if (f.type == WireType::kLengthDelimited) {
    if (is_fixed(vf)) {
      if (f.bytes.size() % fixed_width(vf) != 0)
        r.fail_at(f.offset, std::string("packed ") + field_name(vf) + " is not a whole number of values");
      return f.bytes.size() / fixed_width(vf);
    }
    if (!f.bytes.empty() && (f.bytes.back() & 0x80))
      r.fail_at(f.payload_offset + f.bytes.size() - 1, std::string("packed ") + field_name(vf) + " ends inside a varint");
    uint64_t n = 0;
    for (uint8_t b : f.bytes) n += (b & 0x80) == 0;
    return n;
  }
  const WireType want = is_fixed(vf) ? (vf == ValueField::kDouble ? WireType::kFixed64 : WireType::kFixed32) : WireType::kVarint;
  if (f.type != want) r.fail_at(f.offset, std::string(field_name(vf)) + " has wire type " + std::string(pb::wire_type_name(f.type)));
  return 1;
}

// Decimal digits only (external_data offset/length are decimal strings).
std::optional<uint64_t> parse_decimal(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto m = checked_mul(v, 10);
    if (!m) return std::nullopt;
    auto a = checked_add(*m, static_cast<uint64_t>(c - '0'));
    if (!a) return std::nullopt;
    v = *a;
  }
  return v;
}

std::pair<std::string, std::string> parse_string_pair(WireReader r, const char* what) {
  std::pair<std::string, std::string> kv;
  Field f;
  while (r.next(f)) {
    if (f.number == 1) kv.first = r.as_string(f, std::string(what) + " key");
    if (f.number == 2) kv.second = r.as_string(f, std::string(what) + " value");
  }
  return kv;
}

void set_once(const WireReader& r, const Field& f, bool& seen, const char* what) {
  if (seen) r.fail_at(f.offset, std::string("TensorProto has ") + what + " twice");
  seen = true;
}

OnnxTensor parse_tensor(WireReader r, uint64_t start, std::string origin) {
  OnnxTensor t;
  t.offset = start;
  t.origin = std::move(origin);
  bool seen_type = false, seen_name = false, seen_location = false;
  uint64_t location = 0;
  uint64_t values = 0;
  std::set<ValueField> fields;
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: {  // dims: int64, packed or not
        auto add_dim = [&](uint64_t v, uint64_t at) {
          if (static_cast<int64_t>(v) < 0) r.fail_at(at, "negative dimension in TensorProto.dims");
          if (t.dims.size() >= kMaxDims) r.fail_at(at, "TensorProto has more than " + std::to_string(kMaxDims) + " dims");
          t.dims.push_back(v);
        };
        if (f.type == WireType::kLengthDelimited) {
          size_t i = 0;
          while (i < f.bytes.size()) {
            uint64_t v = 0;
            int shift = 0;
            const size_t begin = i;
            for (;;) {
              if (i >= f.bytes.size() || shift > 63) r.fail_at(f.payload_offset + begin, "bad varint in packed TensorProto.dims");
              const uint8_t b = f.bytes[i++];
              v |= static_cast<uint64_t>(b & 0x7f) << shift;
              if (!(b & 0x80)) break;
              shift += 7;
            }
            add_dim(v, f.payload_offset + begin);
          }
        } else {
          add_dim(r.as_uint64(f, "TensorProto.dims"), f.offset);
        }
        break;
      }
      case 2:
        set_once(r, f, seen_type, "data_type");
        t.data_type = r.as_int32(f, "TensorProto.data_type");
        break;
      case 3: r.fail_at(f.offset, "segmented tensors (TensorProto.segment) are not supported");
      case 4:
      case 5:
      case 7:
      case 10:
      case 11: {
        const ValueField vf = f.number == 4 ? ValueField::kFloat : f.number == 5 ? ValueField::kInt32
                            : f.number == 7 ? ValueField::kInt64 : f.number == 10 ? ValueField::kDouble : ValueField::kUint64;
        auto n = checked_add(values, count_values(r, f, vf));
        if (!n) r.fail_at(f.offset, "too many values");
        values = *n;
        fields.insert(vf);
        t.chunks.push_back(f);
        break;
      }
      case 6: fields.insert(ValueField::kString); break;
      case 8:
        set_once(r, f, seen_name, "name");
        t.name = r.as_string(f, "TensorProto.name");
        break;
      case 9:
        if (fields.count(ValueField::kRaw)) r.fail_at(f.offset, "TensorProto has raw_data twice");
        (void)r.as_bytes(f, "TensorProto.raw_data");
        fields.insert(ValueField::kRaw);
        t.chunks.push_back(f);
        break;
      case 13: {
        const uint64_t at = f.offset;
        auto kv = parse_string_pair(r.sub(f, "TensorProto.external_data"), "external_data");
        if (t.external.field_offset == 0) t.external.field_offset = at;
        auto number = [&](const char* key) {
          auto v = parse_decimal(kv.second);
          if (!v) r.fail_at(at, std::string("external_data ") + key + " " + quoted_for_message(kv.second) + " is not a decimal number");
          return *v;
        };
        if (kv.first == "location") {
          if (seen_location) r.fail_at(at, "external_data has two locations");
          seen_location = true;
          t.external.location = kv.second;
        } else if (kv.first == "offset") {
          if (t.external.offset) r.fail_at(at, "external_data has two offsets");
          t.external.offset = number("offset");
        } else if (kv.first == "length") {
          if (t.external.length) r.fail_at(at, "external_data has two lengths");
          t.external.length = number("length");
        } else if (kv.first != "checksum" && kv.first != "basepath") {
          r.fail_at(at, "unknown external_data key " + quoted_for_message(kv.first));
        }
        break;
      }
      case 14: {
        const int32_t loc = r.as_int32(f, "TensorProto.data_location");
        if (loc != 0 && loc != 1) r.fail_at(f.offset, "data_location " + std::to_string(loc) + " is not DEFAULT (0) or EXTERNAL (1)");
        location = static_cast<uint64_t>(loc);
        break;
      }
      default: break;  // doc_string, metadata_props, ...
    }
  }
  const std::string label = "tensor " + quoted_for_message(t.name);
  if (has_control_char(t.name)) r.fail_at(start, label + ": the name has control characters");
  if (location == 1) {
    if (!fields.empty()) r.fail_at(start, label + " is EXTERNAL but also holds " + field_name(*fields.begin()));
    if (!seen_location) r.fail_at(start, label + " is EXTERNAL but external_data has no location");
    t.field = ValueField::kExternal;
  } else {
    if (seen_location || t.external.offset || t.external.length)
      r.fail_at(start, label + " has external_data but data_location is not EXTERNAL");
    if (fields.size() > 1)
      r.fail_at(start, label + " holds values in both " + field_name(*fields.begin()) + " and " + field_name(*fields.rbegin()));
    t.field = fields.empty() ? ValueField::kNone : *fields.begin();
  }
  auto numel = checked_product(t.dims);
  if (!numel) r.fail_at(start, label + ": the dims overflow");
  t.numel = *numel;
  t.dtype = dtype_from_onnx(t.data_type);
  if (t.data_type == 0) r.fail_at(start, label + " has no data_type (UNDEFINED)");
  if (!t.dtype) return t;  // skipped by the reader, with a warning; values not checked
  auto nbytes = dtype_nbytes(*t.dtype, t.numel);
  if (!nbytes) r.fail_at(start, label + ": the size overflows");
  t.nbytes = *nbytes;
  switch (t.field) {
    case ValueField::kNone:
      if (t.numel != 0) r.fail_at(start, label + " has " + std::to_string(t.numel) + " elements but no values");
      break;
    case ValueField::kRaw:
      if (t.chunks[0].bytes.size() != t.nbytes)
        r.fail_at(t.chunks[0].offset, label + " raw_data holds " + std::to_string(t.chunks[0].bytes.size()) + " bytes, dims and type need " +
                                          std::to_string(t.nbytes));
      break;
    case ValueField::kExternal: break;
    case ValueField::kString: r.fail_at(start, label + " has string_data but a numeric data_type");
    default: {
      if (t.field != typed_field_for(*t.dtype))
        r.fail_at(start, label + " of type " + std::string(dtype_name(*t.dtype)) + " cannot use " + field_name(t.field));
      const bool complex = *t.dtype == DType::C64 || *t.dtype == DType::C128;
      const uint64_t want = complex ? t.numel * 2 : t.numel;  // numel*2 fits: nbytes did
      if (values != want)
        r.fail_at(start, label + " has " + std::to_string(values) + " values in " + field_name(t.field) + ", dims need " + std::to_string(want));
    }
  }
  return t;
}

struct GraphWalker {
  std::string file;
  OnnxModel& model;
  std::set<std::string> names;

  void add(OnnxTensor t) {
    if (model.tensors.size() >= kMaxTensors) fail(file, "more than " + std::to_string(kMaxTensors) + " tensors", t.offset);
    if (!t.dtype) {
      model.warnings.push_back("tensor " + quoted_for_message(t.name) + " has ONNX data_type " + std::to_string(t.data_type) +
                               ", which lmforge does not read; skipped");
      return;
    }
    if (t.name.empty()) fail(file, "a " + t.origin + " tensor has no name", t.offset);
    if (!names.insert(t.name).second) fail(file, "two tensors are named " + quoted_for_message(t.name), t.offset);
    model.tensors.push_back(std::move(t));
  }

  void node(WireReader r, int depth) {
    std::string name, op_type;
    std::vector<std::string> inputs, outputs;
    std::vector<Field> attributes;
    Field f;
    while (r.next(f)) {
      switch (f.number) {
        case 1: inputs.push_back(r.as_string(f, "NodeProto.input")); break;
        case 2: outputs.push_back(r.as_string(f, "NodeProto.output")); break;
        case 3: name = r.as_string(f, "NodeProto.name"); break;
        case 4: op_type = r.as_string(f, "NodeProto.op_type"); break;
        case 5: (void)r.as_bytes(f, "NodeProto.attribute"); attributes.push_back(f); break;
        default: break;
      }
    }
    if (op_type == "MatMul" && inputs.size() == 2) model.matmuls.push_back({name, inputs[1]});
    for (const Field& af : attributes) attribute(r.sub(af, "NodeProto.attribute"), af, op_type, outputs, depth);
  }

  void attribute(WireReader r, const Field& at, const std::string& op_type, const std::vector<std::string>& outputs, int depth) {
    std::string name;
    std::vector<Field> tensors, graphs;
    Field f;
    while (r.next(f)) {
      switch (f.number) {
        case 1: name = r.as_string(f, "AttributeProto.name"); break;
        case 5: (void)r.as_bytes(f, "AttributeProto.t"); tensors.push_back(f); break;
        case 6:
        case 11: (void)r.as_bytes(f, "AttributeProto.g"); graphs.push_back(f); break;
        default: break;
      }
    }
    // A Constant node's value is a weight named by the node's output; other tensor attributes
    // (ConstantOfShape's fill value, ...) are parameters of an operator, not weights.
    if (op_type == "Constant" && name == "value" && tensors.size() == 1) {
      OnnxTensor t = parse_tensor(r.sub(tensors[0], "Constant value"), tensors[0].payload_offset, "Constant node");
      if (t.name.empty() && !outputs.empty()) t.name = outputs[0];
      add(std::move(t));
    }
    for (const Field& g : graphs) graph(r.sub(g, "subgraph"), g.payload_offset, depth + 1);
    (void)at;
  }

  void graph(WireReader r, uint64_t start, int depth) {
    if (depth > kMaxGraphDepth) fail(file, "subgraphs nested more than " + std::to_string(kMaxGraphDepth) + " deep", start);
    Field f;
    uint64_t sparse = 0;
    while (r.next(f)) {
      switch (f.number) {
        case 1: node(r.sub(f, "GraphProto.node"), depth); break;
        case 5: add(parse_tensor(r.sub(f, "GraphProto.initializer"), f.payload_offset, "initializer")); break;
        case 15: ++sparse; break;
        default: break;
      }
    }
    if (sparse) model.warnings.push_back(std::to_string(sparse) + " sparse initializer(s) skipped: lmforge reads dense tensors only");
  }
};

// ModelProto field numbers and the wire type each must have.
std::optional<WireType> model_field_type(uint32_t n) {
  switch (n) {
    case 1:  // ir_version
    case 5:  // model_version
      return WireType::kVarint;
    case 2:   // producer_name
    case 3:   // producer_version
    case 4:   // domain
    case 6:   // doc_string
    case 7:   // graph
    case 8:   // opset_import
    case 14:  // metadata_props
    case 20:  // training_info
    case 25:  // functions
    case 26:  // configuration
      return WireType::kLengthDelimited;
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<DType> dtype_from_onnx(int32_t data_type) {
  for (const auto& row : kTypes)
    if (row.onnx == data_type) return row.ours;
  return std::nullopt;
}

std::optional<int32_t> onnx_from_dtype(DType t) {
  for (const auto& row : kTypes)
    if (row.ours == t) return row.onnx;
  return std::nullopt;
}

bool looks_like_onnx_model(std::span<const uint8_t> bytes) {
  try {
    WireReader r(bytes, "sniff");
    Field f;
    bool ir = false, graph = false;
    while (r.next(f)) {
      auto want = model_field_type(f.number);
      if (!want || *want != f.type) return false;
      if (f.number == 1) ir = true;
      if (f.number == 7) {
        // The graph must itself walk as a message.
        WireReader g = r.sub(f, "graph");
        Field gf;
        while (g.next(gf)) {
        }
        graph = true;
      }
    }
    return ir && graph;
  } catch (const Error&) {
    return false;
  }
}

OnnxModel parse_onnx_model(std::span<const uint8_t> bytes, const std::string& file) {
  OnnxModel m;
  WireReader r(bytes, file);
  GraphWalker walker{file, m, {}};
  Field f;
  bool seen_ir = false, seen_graph = false;
  while (r.next(f)) {
    switch (f.number) {
      case 1:
        m.ir_version = r.as_uint64(f, "ModelProto.ir_version");
        seen_ir = true;
        break;
      case 2: m.producer_name = r.as_string(f, "ModelProto.producer_name"); break;
      case 3: m.producer_version = r.as_string(f, "ModelProto.producer_version"); break;
      case 7:
        if (seen_graph) r.fail_at(f.offset, "ModelProto has two graphs");
        seen_graph = true;
        walker.graph(r.sub(f, "ModelProto.graph"), f.payload_offset, 0);
        break;
      case 8: {
        WireReader o = r.sub(f, "ModelProto.opset_import");
        std::pair<std::string, uint64_t> op;
        Field of;
        while (o.next(of)) {
          if (of.number == 1) op.first = o.as_string(of, "opset domain");
          if (of.number == 2) op.second = o.as_uint64(of, "opset version");
        }
        m.opsets.push_back(op);
        break;
      }
      case 14: m.metadata.push_back(parse_string_pair(r.sub(f, "ModelProto.metadata_props"), "metadata_props")); break;
      default: break;
    }
  }
  if (!seen_ir) fail(file, "not an ONNX model: no ir_version", 0);
  if (!seen_graph) fail(file, "not an ONNX model: no graph", 0);
  return m;
}

TensorBytes inline_tensor_bytes(const OnnxTensor& t, const std::string& file,
                                const std::shared_ptr<const MappedFile>& keep_alive) {
  if (!t.dtype) fail(file, "tensor " + quoted_for_message(t.name) + " has an unsupported type", t.offset);
  if (t.field == ValueField::kRaw) {
    if (keep_alive) return TensorBytes(t.chunks[0].bytes, keep_alive);
    return TensorBytes(std::vector<uint8_t>(t.chunks[0].bytes.begin(), t.chunks[0].bytes.end()));
  }
  if (t.field == ValueField::kNone) return TensorBytes(std::vector<uint8_t>{});
  if (t.field == ValueField::kExternal || t.field == ValueField::kString)
    fail(file, "tensor " + quoted_for_message(t.name) + " has no inline values", t.offset);
  std::vector<uint8_t> out(t.nbytes);  // nbytes was checked against the value count at parse
  const DType d = *t.dtype;
  const uint64_t width = t.field == ValueField::kFloat ? 4 : t.field == ValueField::kDouble ? 8 : dtype_info(d).block_bytes;
  uint64_t pos = 0;
  auto put = [&](uint64_t v, uint64_t at) {
    if (pos + width > out.size()) fail(file, "tensor " + quoted_for_message(t.name) + " has too many values", at);
    // int32_data holds narrower types; a value that does not fit is corrupt, not truncated.
    if (t.field == ValueField::kInt32) {
      const int64_t s = static_cast<int32_t>(static_cast<uint32_t>(v));
      bool ok = true;
      switch (d) {
        case DType::I8: ok = s >= -128 && s <= 127; break;
        case DType::I16: ok = s >= -32768 && s <= 32767; break;
        case DType::BOOL: ok = s == 0 || s == 1; break;
        case DType::U8:
        case DType::F8_E4M3:
        case DType::F8_E5M2: ok = s >= 0 && s <= 255; break;
        case DType::U16:
        case DType::F16:
        case DType::BF16: ok = s >= 0 && s <= 65535; break;
        default: break;
      }
      if (!ok) fail(file, "tensor " + quoted_for_message(t.name) + ": int32_data value " + std::to_string(s) + " does not fit " + std::string(dtype_name(d)), at);
      v = static_cast<uint64_t>(s);
    } else if (d == DType::U32 && v > 0xffffffffu) {
      fail(file, "tensor " + quoted_for_message(t.name) + ": uint64_data value does not fit UINT32", at);
    }
    for (uint64_t k = 0; k < width; ++k) out[pos + k] = static_cast<uint8_t>(v >> (8 * k));  // little-endian
    pos += width;
  };
  for (const Field& c : t.chunks) {
    if (c.type != WireType::kLengthDelimited) {
      put(c.value, c.offset);
      continue;
    }
    if (is_fixed(t.field)) {
      const uint64_t w = fixed_width(t.field);
      for (uint64_t i = 0; i + w <= c.bytes.size(); i += w) {
        uint64_t v = 0;
        for (uint64_t k = 0; k < w; ++k) v |= static_cast<uint64_t>(c.bytes[i + k]) << (8 * k);
        put(v, c.payload_offset + i);
      }
      continue;
    }
    size_t i = 0;
    while (i < c.bytes.size()) {
      uint64_t v = 0;
      int shift = 0;
      const size_t begin = i;
      for (;;) {
        if (i >= c.bytes.size() || shift > 63) fail(file, "bad varint in packed values", c.payload_offset + begin);
        const uint8_t b = c.bytes[i++];
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
      }
      put(v, c.payload_offset + begin);
    }
  }
  if (pos != out.size()) fail(file, "tensor " + quoted_for_message(t.name) + " has too few values", t.offset);
  return TensorBytes(std::move(out));
}

}  // namespace lmforge::onnx
