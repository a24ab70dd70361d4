// The allow-list of globals a checkpoint pickle may name.
//
// A pickle GLOBAL is an instruction to import module.name; REDUCE then calls it. We never
// import or call anything: an allowed name maps to a role that the machine implements
// natively in C++, and every other name stops the load.
#pragma once

#include <optional>
#include <string_view>

#include "formats/pickle/pickle_value.h"

namespace lmforge::pickle {

struct AllowedGlobal {
  GlobalRole role;
  DType dtype = DType::U8;  // StorageType / DTypeObject
  bool untyped = false;     // torch.UntypedStorage
};

// nullopt when module.name is not on the allow-list.
std::optional<AllowedGlobal> resolve_global(std::string_view module, std::string_view name);

}  // namespace lmforge::pickle
