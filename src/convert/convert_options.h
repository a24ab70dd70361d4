// Options and results shared by every conversion path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "core/dtype.h"

namespace lmforge {

struct ConvertOptions {
  std::optional<DType> outtype;  // unset: keep the source's float type where possible
  bool overwrite = false;
  bool quiet = false;
  uint64_t max_shard_bytes = 0;  // Hugging Face output: split into shards of this size (0: one file)
  // GGUF output only: >= 0 writes into this open descriptor (an anonymous in-memory file that
  // `lmforge run` maps) instead of creating the destination; the destination is then a label.
  int output_fd = -1;
  unsigned threads = 0;  // threads that quantize a big tensor's rows (0: one per available core)
  // GGUF output only: tensors (GGUF names) the caller supplies itself and the file leaves out,
  // neither written nor required (the engine loads a GPTQ folder's linears in its own form).
  std::set<std::string> provided_elsewhere;
};

struct ConvertReport {
  std::string output;
  uint64_t tensors = 0;
  uint64_t bytes_read = 0;     // tensor bytes taken from the source
  uint64_t bytes_written = 0;  // size of the output
  double seconds = 0;
};

// The report of a finished conversion: output size (a file, or the files of a folder) and
// the time since `start`.
ConvertReport make_report(const std::string& output, uint64_t tensors, uint64_t bytes_read,
                          std::chrono::steady_clock::time_point start);

// llama.cpp's `general.file_type` (llama_ftype) for a whole-file output type.
uint32_t llama_file_type(DType outtype);

}  // namespace lmforge
