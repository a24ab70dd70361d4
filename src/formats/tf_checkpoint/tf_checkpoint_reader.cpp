#include "formats/tf_checkpoint/tf_checkpoint_reader.h"

#include "core/error.h"

namespace lmforge {

bool sniff_tf_checkpoint(const std::string&) { return false; }
std::unique_ptr<TensorSource> open_tf_checkpoint(const std::string& path) { fail(path, "TensorFlow checkpoints: not supported yet", 0); }
bool sniff_protobuf_pb(const std::string&) { return false; }
std::unique_ptr<TensorSource> open_protobuf_pb(const std::string& path) { fail(path, "protobuf .pb files: not supported yet", 0); }

}  // namespace lmforge
