// The SHA-256 a training checkpoint records of the model it started from (finetune's base,
// train's --init-model), so that a resume with another model is refused.
#pragma once

#include <string>

namespace lmforge::cli {

// SHA-256 of a file's bytes, or of a folder's regular files in name order (name and bytes of
// each).
std::string model_fingerprint(const std::string& path);

}  // namespace lmforge::cli
