// A TrainingState as a GGUF file, the container checkpoints use: tensors for the trained
// values and both Adam moments, metadata for everything else. Split from checkpoint.h (which
// owns files, atomicity and crash safety) so the fuzz harness can feed bytes to the decoder.
//
// Layout (lmforge.checkpoint.version 1):
//   metadata  lmforge.checkpoint.{base_sha256, data_sha256, options (JSON text)}: strings
//             lmforge.checkpoint.{step, epoch, cursor}: UINT64
//             lmforge.checkpoint.rng: UINT64[4]; .order: UINT32[]; .losses: FLOAT32[]
//             lmforge.checkpoint.tensor_names: STRING[] (any length; GGUF names are <= 63 bytes)
//             lmforge.checkpoint.tensor_sha256: SHA-256 of every tensor's bytes in file order
//   tensors   t{i}.value, t{i}.adam_m, t{i}.adam_v: F32, the shape of tensor i
// The hash catches damage that sizes and offsets cannot (bytes changed in place).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "formats/gguf/gguf_writer.h"
#include "train/training_state.h"

namespace lmforge {

// A writer whose tensors are views into `state`, which must outlive the write. Throws
// lmforge::Error (naming `label`) when a tensor's sizes disagree with its shape.
GgufWriter checkpoint_gguf(const TrainingState& state, const std::string& label);

// Decodes a checkpoint file's bytes; throws lmforge::Error naming `label` (and the byte offset
// where known) when anything is missing, of the wrong type or size, or fails the hash.
TrainingState decode_checkpoint(std::span<const uint8_t> bytes, const std::string& label);

}  // namespace lmforge
