// A restricted pickle interpreter that only builds data.
//
// It understands the opcodes of protocols 0-5 that torch.save and plain Python data use, and
// builds the values in pickle_value.h. Globals resolve only through the allow-list in
// pickle_globals.h; REDUCE/NEWOBJ/BUILD are implemented natively for those few names and
// refused for everything else. INST, OBJ, EXT*, text PERSID and out-of-band buffers are
// always refused. Every opcode consumes at least one byte, so a run ends after at most as
// many steps as there are input bytes; stack, MARK nesting, memo and object counts are capped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/pickle/pickle_value.h"

namespace lmforge::pickle {

struct PickleLimits {
  size_t max_stack = 1'000'000;     // values on the stack at once
  size_t max_marks = 1000;          // MARK nesting
  size_t max_memo = 1'000'000;      // memo entries
  size_t max_objects = 8'000'000;   // objects built by one run
  size_t max_rank = 64;             // tensor dimensions
};

struct PickleResult {
  Object* root = nullptr;  // what STOP returned
  uint64_t end = 0;        // bytes consumed, STOP included (relative to the input span)
  int protocol = 0;        // from PROTO, 0 if absent
  std::vector<const Object*> storages;  // every storage reference made, in order
};

// Runs one pickle from bytes[0] up to and including its STOP. Objects are added to `arena`,
// which must outlive the result. `base` is the absolute offset of bytes[0] in `file`, used
// only for error messages. Throws lmforge::Error on anything malformed or not allowed.
PickleResult run_pickle(Arena& arena, std::span<const uint8_t> bytes, const std::string& file,
                        uint64_t base = 0, const PickleLimits& limits = {});

// A short description of a value for messages, e.g. "a list", "the global 'torch.Size'".
std::string describe(const Object* o);

}  // namespace lmforge::pickle
