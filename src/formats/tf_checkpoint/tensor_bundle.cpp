#include "formats/tf_checkpoint/tensor_bundle.h"

#include <array>
#include <cstdio>

#include "core/error.h"
#include "formats/protobuf_wire.h"

namespace lmforge::tf {
namespace {

// Dimensions beyond this are not a real tensor (and would overflow element counts).
constexpr size_t kMaxRank = 64;

// An int64 protobuf field that must not be negative (offsets, sizes, dimensions).
uint64_t non_negative(const pb::WireReader& r, const pb::Field& f, const char* what) {
  const uint64_t v = r.as_uint64(f, what);
  if (static_cast<int64_t>(v) < 0) {
    r.fail_at(f.offset, std::string(what) + " is negative (" + std::to_string(static_cast<int64_t>(v)) + ")");
  }
  return v;
}

void parse_shape(pb::WireReader r, BundleEntry& e) {
  pb::Field f;
  while (r.next(f)) {
    if (f.number == 2) {
      if (e.shape.size() >= kMaxRank) r.fail_at(f.offset, "tensor has more than 64 dimensions");
      auto dim = r.sub(f, "TensorShapeProto.dim");
      uint64_t size = 0;
      pb::Field d;
      while (dim.next(d)) {
        if (d.number == 1) size = dim.as_uint64(d, "dimension size");
      }
      if (static_cast<int64_t>(size) < 0) {
        r.fail_at(f.offset, "dimension of unknown size (" + std::to_string(static_cast<int64_t>(size)) +
                                ") in a checkpoint entry");
      }
      e.shape.push_back(size);
    } else if (f.number == 3) {
      e.unknown_rank = r.as_bool(f, "TensorShapeProto.unknown_rank");
    }
  }
}

}  // namespace

BundleHeader parse_bundle_header(std::span<const uint8_t> bytes, const std::string& file, uint64_t base) {
  BundleHeader h;
  pb::WireReader r(bytes, file, base);
  pb::Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: h.num_shards = r.as_int32(f, "BundleHeaderProto.num_shards"); break;
      case 2: {
        const int32_t e = r.as_int32(f, "BundleHeaderProto.endianness");
        if (e != 0 && e != 1) r.fail_at(f.offset, "unknown endianness " + std::to_string(e) + " (0 little, 1 big)");
        h.big_endian = e == 1;
        break;
      }
      case 3: {
        auto v = r.sub(f, "BundleHeaderProto.version");
        pb::Field g;
        while (v.next(g)) {
          if (g.number == 1) h.producer = v.as_int32(g, "VersionDef.producer");
          if (g.number == 2) h.min_consumer = v.as_int32(g, "VersionDef.min_consumer");
          if (g.number == 3 && h.bad_consumers.size() < 64) h.bad_consumers.push_back(v.as_int32(g, "VersionDef.bad_consumers"));
        }
        break;
      }
      default: break;  // unknown fields are skipped, as protobuf does
    }
  }
  return h;
}

BundleEntry parse_bundle_entry(std::span<const uint8_t> bytes, const std::string& file, uint64_t base) {
  BundleEntry e;
  pb::WireReader r(bytes, file, base);
  pb::Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: e.dtype = r.as_int32(f, "BundleEntryProto.dtype"); break;
      case 2:
        e.shape.clear();
        parse_shape(r.sub(f, "BundleEntryProto.shape"), e);
        break;
      case 3: e.shard_id = r.as_int32(f, "BundleEntryProto.shard_id"); break;
      case 4: e.offset = non_negative(r, f, "BundleEntryProto.offset"); break;
      case 5: e.size = non_negative(r, f, "BundleEntryProto.size"); break;
      case 6:
        if (f.type != pb::WireType::kFixed32) {
          r.fail_at(f.offset, "BundleEntryProto.crc32c must be fixed32, found " + std::string(pb::wire_type_name(f.type)));
        }
        e.masked_crc32c = static_cast<uint32_t>(f.value);
        break;
      case 7:
        r.as_bytes(f, "BundleEntryProto.slices");
        ++e.num_slices;
        break;
      default: break;
    }
  }
  return e;
}

std::optional<DType> dtype_from_tf(int32_t t) {
  switch (t) {
    case 1: return DType::F32;
    case 2: return DType::F64;
    case 3: return DType::I32;
    case 4: return DType::U8;
    case 5: return DType::I16;
    case 6: return DType::I8;
    case 8: return DType::C64;
    case 9: return DType::I64;
    case 10: return DType::BOOL;
    case 14: return DType::BF16;
    case 17: return DType::U16;
    case 18: return DType::C128;
    case 19: return DType::F16;
    case 22: return DType::U32;
    case 23: return DType::U64;
    case 24: return DType::F8_E5M2;
    case 25: return DType::F8_E4M3;
    default: return std::nullopt;
  }
}

std::string tf_dtype_name(int32_t t) {
  static constexpr std::array<const char*, 31> kNames = {
      "DT_INVALID", "DT_FLOAT",   "DT_DOUBLE",     "DT_INT32",        "DT_UINT8",  "DT_INT16",
      "DT_INT8",    "DT_STRING",  "DT_COMPLEX64",  "DT_INT64",        "DT_BOOL",   "DT_QINT8",
      "DT_QUINT8",  "DT_QINT32",  "DT_BFLOAT16",   "DT_QINT16",       "DT_QUINT16", "DT_UINT16",
      "DT_COMPLEX128", "DT_HALF", "DT_RESOURCE",   "DT_VARIANT",      "DT_UINT32", "DT_UINT64",
      "DT_FLOAT8_E5M2", "DT_FLOAT8_E4M3FN", "DT_FLOAT8_E4M3FNUZ", "DT_FLOAT8_E4M3B11FNUZ",
      "DT_FLOAT8_E5M2FNUZ", "DT_INT4", "DT_UINT4"};
  if (t >= 0 && static_cast<size_t>(t) < kNames.size()) return kNames[static_cast<size_t>(t)];
  return "DataType " + std::to_string(t);
}

std::string data_shard_path(const std::string& prefix, int32_t shard, int32_t num_shards) {
  char buf[48];
  std::snprintf(buf, sizeof buf, ".data-%05d-of-%05d", shard, num_shards);
  return prefix + buf;
}

}  // namespace lmforge::tf
