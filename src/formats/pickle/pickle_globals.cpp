#include "formats/pickle/pickle_globals.h"

#include <array>

namespace lmforge::pickle {

namespace {

struct Entry {
  std::string_view module;
  std::string_view name;
  AllowedGlobal global;
};

// Storage classes and dtype objects from torch/storage.py and torch's dtype table. Quantized
// and "bits" types are left out on purpose: we cannot represent their data faithfully.
constexpr std::array kTable = {
    Entry{"torch", "DoubleStorage", {GlobalRole::StorageType, DType::F64}},
    Entry{"torch", "FloatStorage", {GlobalRole::StorageType, DType::F32}},
    Entry{"torch", "HalfStorage", {GlobalRole::StorageType, DType::F16}},
    Entry{"torch", "BFloat16Storage", {GlobalRole::StorageType, DType::BF16}},
    Entry{"torch", "LongStorage", {GlobalRole::StorageType, DType::I64}},
    Entry{"torch", "IntStorage", {GlobalRole::StorageType, DType::I32}},
    Entry{"torch", "ShortStorage", {GlobalRole::StorageType, DType::I16}},
    Entry{"torch", "CharStorage", {GlobalRole::StorageType, DType::I8}},
    Entry{"torch", "ByteStorage", {GlobalRole::StorageType, DType::U8}},
    Entry{"torch", "BoolStorage", {GlobalRole::StorageType, DType::BOOL}},
    Entry{"torch", "ComplexFloatStorage", {GlobalRole::StorageType, DType::C64}},
    Entry{"torch", "ComplexDoubleStorage", {GlobalRole::StorageType, DType::C128}},
    Entry{"torch", "UntypedStorage", {GlobalRole::StorageType, DType::U8, true}},

    Entry{"torch", "float32", {GlobalRole::DTypeObject, DType::F32}},
    Entry{"torch", "float", {GlobalRole::DTypeObject, DType::F32}},
    Entry{"torch", "float16", {GlobalRole::DTypeObject, DType::F16}},
    Entry{"torch", "half", {GlobalRole::DTypeObject, DType::F16}},
    Entry{"torch", "bfloat16", {GlobalRole::DTypeObject, DType::BF16}},
    Entry{"torch", "float64", {GlobalRole::DTypeObject, DType::F64}},
    Entry{"torch", "double", {GlobalRole::DTypeObject, DType::F64}},
    Entry{"torch", "int64", {GlobalRole::DTypeObject, DType::I64}},
    Entry{"torch", "long", {GlobalRole::DTypeObject, DType::I64}},
    Entry{"torch", "int32", {GlobalRole::DTypeObject, DType::I32}},
    Entry{"torch", "int", {GlobalRole::DTypeObject, DType::I32}},
    Entry{"torch", "int16", {GlobalRole::DTypeObject, DType::I16}},
    Entry{"torch", "short", {GlobalRole::DTypeObject, DType::I16}},
    Entry{"torch", "int8", {GlobalRole::DTypeObject, DType::I8}},
    Entry{"torch", "uint8", {GlobalRole::DTypeObject, DType::U8}},
    Entry{"torch", "uint16", {GlobalRole::DTypeObject, DType::U16}},
    Entry{"torch", "uint32", {GlobalRole::DTypeObject, DType::U32}},
    Entry{"torch", "uint64", {GlobalRole::DTypeObject, DType::U64}},
    Entry{"torch", "bool", {GlobalRole::DTypeObject, DType::BOOL}},
    Entry{"torch", "float8_e4m3fn", {GlobalRole::DTypeObject, DType::F8_E4M3}},
    Entry{"torch", "float8_e5m2", {GlobalRole::DTypeObject, DType::F8_E5M2}},
    Entry{"torch", "complex64", {GlobalRole::DTypeObject, DType::C64}},
    Entry{"torch", "cfloat", {GlobalRole::DTypeObject, DType::C64}},
    Entry{"torch", "complex128", {GlobalRole::DTypeObject, DType::C128}},
    Entry{"torch", "cdouble", {GlobalRole::DTypeObject, DType::C128}},

    Entry{"torch._utils", "_rebuild_tensor", {GlobalRole::RebuildTensor}},
    Entry{"torch._utils", "_rebuild_tensor_v2", {GlobalRole::RebuildTensorV2}},
    Entry{"torch._utils", "_rebuild_tensor_v3", {GlobalRole::RebuildTensorV3}},
    Entry{"torch._utils", "_rebuild_parameter", {GlobalRole::RebuildParameter}},
    Entry{"torch._utils", "_rebuild_parameter_with_state", {GlobalRole::RebuildParameter}},
    Entry{"torch.nn.parameter", "Parameter", {GlobalRole::RebuildParameter}},
    Entry{"collections", "OrderedDict", {GlobalRole::OrderedDict}},
    Entry{"argparse", "Namespace", {GlobalRole::Namespace}},
    Entry{"torch", "Size", {GlobalRole::Size}},
    Entry{"torch", "device", {GlobalRole::Device}},
    Entry{"_codecs", "encode", {GlobalRole::CodecsEncode}},
    Entry{"builtins", "set", {GlobalRole::Set}},
    Entry{"builtins", "frozenset", {GlobalRole::Set}},
    Entry{"__builtin__", "set", {GlobalRole::Set}},
    Entry{"__builtin__", "frozenset", {GlobalRole::Set}},
};

}  // namespace

std::optional<AllowedGlobal> resolve_global(std::string_view module, std::string_view name) {
  for (const auto& e : kTable)
    if (e.module == module && e.name == name) return e.global;
  return std::nullopt;
}

}  // namespace lmforge::pickle
