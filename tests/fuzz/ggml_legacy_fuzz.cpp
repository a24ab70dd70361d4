// libFuzzer harness: arbitrary bytes as a legacy GGML/GGMF/GGJT file, opened both as a tensor
// source and as a llama model, every tensor read back (old block layouts are rewritten on read).
// The reader maps files, so the bytes go through an in-memory file (memfd).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "convert/sources/ggml_legacy_llama_source.h"
#include "core/error.h"
#include "formats/ggml_legacy/ggml_legacy_reader.h"

namespace {
void read_all(const lmforge::TensorSource& s) {
  for (size_t i = 0; i < s.tensors().size(); ++i) {
    auto b = s.read(i);
    volatile uint8_t sink = b.size() ? b.data()[b.size() - 1] : 0;  // touch the last byte
    (void)sink;
  }
  (void)s.metadata();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("ggml_legacy_fuzz", 0);
  if (fd < 0) return 0;
  for (size_t done = 0; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) {
      close(fd);
      return 0;
    }
    done += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    read_all(*lmforge::open_ggml_legacy(path));
    auto m = lmforge::open_ggml_legacy_llama(path);
    read_all(*m.weights);
  } catch (const lmforge::Error&) {
  }
  close(fd);
  return 0;
}
