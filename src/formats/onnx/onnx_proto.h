// The parts of an ONNX ModelProto that hold weights, read with the schema-less protobuf walker.
//
// Field numbers are those of onnx.in.proto (proto2): ModelProto {1 ir_version, 2 producer_name,
// 3 producer_version, 7 graph, 8 opset_import, 14 metadata_props}; GraphProto {1 node, 2 name,
// 5 initializer, 15 sparse_initializer}; NodeProto {1 input, 2 output, 3 name, 4 op_type,
// 5 attribute}; AttributeProto {1 name, 5 t, 6 g, 10 tensors, 11 graphs}; TensorProto
// {1 dims, 2 data_type, 3 segment, 4 float_data, 5 int32_data, 6 string_data, 7 int64_data,
// 8 name, 9 raw_data, 10 double_data, 11 uint64_data, 13 external_data, 14 data_location}.
//
// Parsing only records where each tensor's values are (spans into the input); decoding waits
// until a tensor is read, so opening a multi-GB model touches only its protobuf structure.
// This file does no I/O, so the fuzz harness can drive it directly.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "formats/protobuf_wire.h"

namespace lmforge::onnx {

// TensorProto.DataType -> our type; nullopt for the ONNX types lmforge does not hold (STRING,
// the FNUZ float8 variants, 4-bit and 2-bit types, ...).
std::optional<DType> dtype_from_onnx(int32_t data_type);
// Our type -> TensorProto.DataType; nullopt for ggml block types.
std::optional<int32_t> onnx_from_dtype(DType t);

// Which TensorProto field carries the values.
enum class ValueField : uint8_t { kNone, kRaw, kFloat, kInt32, kInt64, kDouble, kUint64, kString, kExternal };

struct ExternalRef {
  std::string location;            // as written: relative to the model's folder
  std::optional<uint64_t> offset;  // absent: 0
  std::optional<uint64_t> length;  // absent: to the end of the file
  uint64_t field_offset = 0;       // where the external_data entries start, for messages
};

struct OnnxTensor {
  std::string name;
  int32_t data_type = 0;
  std::optional<DType> dtype;  // nullopt: a type lmforge does not hold (the tensor is skipped)
  std::vector<uint64_t> dims;
  uint64_t numel = 0;
  uint64_t nbytes = 0;  // numel * element size when dtype is known
  ValueField field = ValueField::kNone;
  std::vector<pb::Field> chunks;  // every occurrence of the value field, in order
  ExternalRef external;
  uint64_t offset = 0;  // absolute offset of the TensorProto bytes
  std::string origin;   // "initializer", "Constant node", for messages
};

// A MatMul node whose second input may be a weight stored transposed ([in, out]).
struct OnnxMatMul {
  std::string name;
  std::string weight_input;  // input[1]
};

struct OnnxModel {
  uint64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::vector<std::pair<std::string, uint64_t>> opsets;       // (domain, version)
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props, in order
  std::vector<OnnxTensor> tensors;
  std::vector<OnnxMatMul> matmuls;
  std::vector<std::string> warnings;
};

// Limits far above real models, low enough that a hostile file cannot exhaust memory through
// them (every tensor record costs a few hundred bytes).
inline constexpr size_t kMaxDims = 32;
inline constexpr int kMaxGraphDepth = 8;  // If/Loop/Scan subgraphs nested inside each other
inline constexpr size_t kMaxTensors = 1u << 20;

// Parses the ModelProto in `bytes` (absolute offset 0 in `file`). Throws lmforge::Error on any
// malformed or inconsistent structure: wrong wire types, negative dims, more than one value
// field, a value count that does not match the dims, duplicate tensor names, ...
OnnxModel parse_onnx_model(std::span<const uint8_t> bytes, const std::string& file);

// True when `bytes` has the top-level shape of a ModelProto: an ir_version varint and a graph
// message, and only ModelProto field numbers with their wire types. Never throws.
bool looks_like_onnx_model(std::span<const uint8_t> bytes);

// The values of an inline tensor (raw_data or a typed field) as contiguous little-endian
// bytes of t.dtype. Raw data is returned as a view of the input kept alive by `keep_alive`.
TensorBytes inline_tensor_bytes(const OnnxTensor& t, const std::string& file,
                                const std::shared_ptr<const MappedFile>& keep_alive);

}  // namespace lmforge::onnx
