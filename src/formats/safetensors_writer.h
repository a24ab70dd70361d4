// safetensors writer, single file or a Hugging Face sharded set.
//
// Tensors are laid out in the order given (not re-sorted as the reference writer does): the
// caller's order is usually the model's natural order, which keeps related tensors close in
// the file. Readers do not depend on the order. The header starts with '{' and is padded with
// spaces to a multiple of 8 bytes, so the data starts 8-aligned. Each tensor is produced and
// written one at a time, so memory stays bounded by the largest tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lmforge {

struct TensorToWrite {
  TensorInfo info;  // name, dtype, shape, nbytes are used; file/offset are ignored
  std::function<TensorBytes()> produce;  // must yield exactly info.nbytes bytes
};

// Writes `path` atomically (nothing appears there unless the whole file was written).
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata, bool overwrite);

// Writes into the existing directory `dir`: model.safetensors when everything fits in one
// shard, else model-0000i-of-0000n.safetensors (tensors split in order, a shard closes before
// it would exceed max_shard_bytes of tensor data; a tensor bigger than that gets a shard of
// its own) plus model.safetensors.index.json. Each file is written atomically. Returns the
// names of the files written, index last.
std::vector<std::string> write_safetensors_sharded(
    const std::string& dir, const std::vector<TensorToWrite>& tensors,
    const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes, bool overwrite);

}  // namespace lmforge
