// Reads PyTorch checkpoints written by torch.save without running any of their pickle code.
//
// Both layouts are supported: the zip archive of torch >= 1.6 and the older stream of
// back-to-back pickles followed by raw storages. The pickle is interpreted by the restricted
// machine in formats/pickle/, which builds only data and a few natively reconstructed torch
// objects; anything else in the file stops the load.
//
// Every tensor reachable from the saved object through dicts, lists and tuples becomes one
// tensor named by its path joined with "." ({"model": {"w": t}} gives "model.w"; list items
// use their index). Other plain values (epoch numbers, hyper-parameters, ...) appear in
// metadata()["values"] under the same kind of path.
//
// Contiguous tensors are returned as views into the mapped file; strided views (a transposed
// weight) are copied out through their strides.
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"

namespace lmforge {

// Throws lmforge::Error for anything that is not a loadable, allowed checkpoint (including
// TorchScript archives, big-endian data and pickles that reference disallowed globals).
std::unique_ptr<TensorSource> open_pytorch_checkpoint(const std::string& path);

}  // namespace lmforge
