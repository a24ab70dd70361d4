// libFuzzer harness: arbitrary bytes into the training-checkpoint decoder (a GGUF container
// read by GgufReader, then every lmforge.checkpoint.* key and tensor checked), which must
// either give a TrainingState or throw one clean lmforge::Error.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "train/checkpoint_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto state = lmforge::decode_checkpoint({data, size}, "fuzz-checkpoint.gguf");
    volatile size_t sink = state.tensors.size() + state.order.size() + state.losses.size();
    (void)sink;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
