// One TensorSource over several shard files (a Hugging Face sharded checkpoint).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lmforge {

// Tensors are listed shard by shard in the order given. A name present in two shards is an
// error: which copy a consumer would get would depend on lookup order.
std::unique_ptr<TensorSource> make_sharded_source(std::vector<std::unique_ptr<TensorSource>> shards,
                                                  std::string description);

}  // namespace lmforge
