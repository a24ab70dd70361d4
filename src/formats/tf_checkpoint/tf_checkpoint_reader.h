// TensorFlow checkpoints (tf.train.Checkpoint / Saver V2): PREFIX.index, an SSTable mapping
// tensor names to BundleEntryProto, and PREFIX.data-NNNNN-of-NNNNN shards holding the bytes.
// Also recognises other `.pb` protobuf files (GraphDef, SavedModel, ONNX TensorProto).
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"

namespace lmforge {

// True for a TF checkpoint: PATH ends in .index, or PATH is a .data-NNNNN-of-NNNNN shard with
// its index beside it, and that index ends in the table magic; or PATH is a prefix (not itself
// a file) and PATH.index exists (then a bad footer is reported by open_tf_checkpoint).
bool sniff_tf_checkpoint(const std::string& path);
std::unique_ptr<TensorSource> open_tf_checkpoint(const std::string& path);

// True when `path` looks like a TensorFlow GraphDef, SavedModel or an ONNX TensorProto.
bool sniff_protobuf_pb(const std::string& path);
// What such a file is: format_description() says which message it is; tensors are its
// constants (GraphDef Const nodes / the TensorProto), metadata() its node/op counts.
std::unique_ptr<TensorSource> open_protobuf_pb(const std::string& path);

}  // namespace lmforge
