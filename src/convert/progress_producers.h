// Wraps the tensor producers handed to a writer so that each logs its line and advances the
// progress bar when the writer asks for it (the writer decides the order and timing).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "formats/safetensors_writer.h"

namespace lmforge {

// lines[i] and source_bytes[i] describe tensors[i]; `bar` must outlive the writer's run.
inline void attach_progress(std::vector<TensorToWrite>& tensors, const std::vector<std::string>& lines,
                            const std::vector<uint64_t>& source_bytes, Progress& bar) {
  auto done = std::make_shared<uint64_t>(0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    tensors[i].produce = [&bar, done, inner = tensors[i].produce, line = lines[i], n = source_bytes[i]] {
      bar.log(line);
      TensorBytes b = inner();
      *done += n;
      bar.update(*done);
      return b;
    };
  }
}

}  // namespace lmforge
