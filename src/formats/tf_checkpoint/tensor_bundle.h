// The protobuf messages stored in a TensorFlow checkpoint index (tensor_bundle.proto) and
// the names of the files around it (tensor_bundle/naming.cc).
//
// Key "" holds a BundleHeaderProto {num_shards 1, endianness 2 (0 little, 1 big), version 3
// (VersionDef: producer 1, min_consumer 2, bad_consumers 3)}; every other key is a tensor
// name holding a BundleEntryProto {dtype 1, shape 2 (TensorShapeProto: dim 2 {size 1, name 2},
// unknown_rank 3), shard_id 3, offset 4, size 5, crc32c 6 (fixed32, masked), slices 7}.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace lmforge::tf {

struct BundleHeader {
  int32_t num_shards = 0;
  bool big_endian = false;
  int32_t producer = 0;
  int32_t min_consumer = 0;
  std::vector<int32_t> bad_consumers;
};

struct BundleEntry {
  int32_t dtype = 0;
  std::vector<uint64_t> shape;  // row-major, outermost first
  bool unknown_rank = false;
  int32_t shard_id = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t masked_crc32c = 0;
  size_t num_slices = 0;  // > 0: a partitioned variable; its bytes are in other entries
};

BundleHeader parse_bundle_header(std::span<const uint8_t> bytes, const std::string& file, uint64_t base);
BundleEntry parse_bundle_entry(std::span<const uint8_t> bytes, const std::string& file, uint64_t base);

// lmforge's element type for a TensorFlow DataType enum value (types.proto), if it is a plain
// fixed-size numeric type lmforge can carry.
std::optional<DType> dtype_from_tf(int32_t tf_dtype);
// "DT_FLOAT", "DT_STRING", ... or "DataType 77" for values we do not know.
std::string tf_dtype_name(int32_t tf_dtype);

// "PREFIX.data-00001-of-00002"
std::string data_shard_path(const std::string& prefix, int32_t shard, int32_t num_shards);

}  // namespace lmforge::tf
