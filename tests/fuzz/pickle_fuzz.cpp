// libFuzzer harness: the restricted pickle machine and the checkpoint tree walk must turn any
// input into either values or an lmforge::Error, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/pickle/checkpoint_tree.h"
#include "formats/pickle/pickle_machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lmforge::pickle::Arena arena;
  try {
    auto r = lmforge::pickle::run_pickle(arena, {data, size}, "fuzz.pkl");
    auto tree = lmforge::pickle::walk_checkpoint(r.root, "fuzz.pkl");
    (void)tree.values.dump();
  } catch (const lmforge::Error&) {
  }
  return 0;
}
