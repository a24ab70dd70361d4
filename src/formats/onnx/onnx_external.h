// External data files of an ONNX model (TensorProto.data_location = EXTERNAL).
//
// `location` comes from the untrusted model, so it is refused unless it names a regular file
// inside the model's folder: not empty, not absolute, no `..` component, no backslash, not the
// `#...` special form, and after resolving symlinks still inside the folder (a symlink that
// leaves the folder is the path traversal of CVE-2022-25882 / CVE-2024-27318 by other means).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/mapped_file.h"

namespace lmforge::onnx {

// Checks `location` and maps the file it names. `model_path` is the .onnx file and `at` the
// byte offset of the external_data entry, both for messages.
std::shared_ptr<const MappedFile> open_external_file(const std::string& model_path, const std::string& location, uint64_t at);

}  // namespace lmforge::onnx
