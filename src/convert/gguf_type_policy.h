// Which type each tensor gets in a llama GGUF: the output type policy of write_llama_gguf,
// kept apart so that it can be read and tested on its own.
//
//   - Without --outtype, float sources become F16 and a source that is already quantized
//     (legacy GGML Q4_0/Q4_1/Q8_0) keeps its blocks; the file type is then the quantized type
//     holding the most elements, and float matrices beside it become F16.
//   - Vectors (norms, biases) stay F32, as llama.cpp's converter keeps them.
//   - A matrix whose rows are not a whole number of blocks of a quantized type stays F16.
//   - With --outtype q4_0 the output head (or the embedding it is tied to) becomes Q8_0: the
//     head is the most sensitive matrix, and llama.cpp's mixes give it 8 bits too.
#pragma once

#include <optional>
#include <span>

#include "arch/llama/llama_tensors.h"
#include "core/tensor.h"

namespace lmforge {

// Quantized types GGUF holds in the same block layout the source gives them.
bool gguf_keeps_quantized(DType t);

// The file's main type (general.file_type): `requested`, else the most common kept quantized
// type among `sources`, else F16.
DType gguf_file_type(std::span<const TensorInfo> sources, std::optional<DType> requested);

struct GgufTypePolicy {
  std::optional<DType> requested;  // --outtype
  DType file_type = DType::F16;    // gguf_file_type()
  bool tied_embeddings = false;    // the embedding doubles as the output head
};

enum class GgufTypeReason {
  kFileType,              // the file's type
  kVectorF32,             // a norm or bias
  kPartialBlocksF16,      // rows not a whole number of the file type's blocks
  kKeptQuantized,         // already quantized blocks, copied as they are
  kFloatBesideQuantized,  // a float matrix in a file that keeps quantized blocks: F16
  kOutputHeadQ8_0,        // the head of a q4_0 file
};

struct GgufTypeChoice {
  DType type;
  GgufTypeReason reason;
};

// The type of `t` (whose llama name is `name`) under `policy`.
GgufTypeChoice gguf_tensor_type(const GgufTypePolicy& policy, const LlamaTensorName& name, const TensorInfo& t);

}  // namespace lmforge
