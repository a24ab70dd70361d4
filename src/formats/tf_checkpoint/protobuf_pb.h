// `.pb` files that are not ONNX models: "pb" only says "a binary protobuf", so the message
// is identified by its structure. Recognised: a TensorFlow GraphDef (frozen graph: weights in
// Const nodes as TF TensorProto), a TensorFlow SavedModel (saved_model.pb; its weights are in
// variables/variables.index, a TF checkpoint), and a single ONNX TensorProto (ONNX test data).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/tensor.h"

namespace lmforge::tf {

enum class PbKind { kNone, kGraphDef, kSavedModel, kOnnxTensor };

// What the message in `bytes` is, looking only at its first fields and nested headers (a
// bounded amount of work whatever the size). A SentencePiece model is kNone: its first
// field's first two fields are a string and a fixed32 float, not NodeDef's name and op.
PbKind classify_protobuf(std::span<const uint8_t> bytes);

// A TensorSource over `bytes` (which `keep_alive` owns) holding the message's constants.
// Throws lmforge::Error when the bytes are none of the recognised kinds or are malformed.
std::unique_ptr<TensorSource> parse_protobuf_pb(std::span<const uint8_t> bytes, const std::string& file,
                                                std::shared_ptr<const MappedFile> keep_alive);

}  // namespace lmforge::tf
