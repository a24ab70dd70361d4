#include "formats/onnx/onnx_external.h"

#include <sys/stat.h>

#include <filesystem>

#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge::onnx {

namespace fs = std::filesystem;

std::shared_ptr<const MappedFile> open_external_file(const std::string& model_path, const std::string& location, uint64_t at) {
  const std::string what = "external data location " + quoted_for_message(location);
  if (location.empty()) fail(model_path, "external data has an empty location", at);
  if (!is_valid_utf8(location) || has_control_char(location)) fail(model_path, what + " is not a clean UTF-8 path", at);
  if (location.front() == '/') fail(model_path, what + " is absolute; it must be relative to the model's folder", at);
  if (location.front() == '#') fail(model_path, what + " uses the '#' form, which lmforge does not support", at);
  if (location.find('\\') != std::string::npos) fail(model_path, what + " contains a backslash", at);
  for (const auto& part : fs::path(location))
    if (part == "..") fail(model_path, what + " contains '..'; it must stay inside the model's folder", at);

  std::error_code ec;
  fs::path dir = fs::path(model_path).parent_path();
  if (dir.empty()) dir = ".";
  const fs::path base = fs::canonical(dir, ec);
  if (ec) fail(model_path, "cannot resolve the model's folder: " + ec.message(), at);
  const fs::path target = fs::weakly_canonical(base / location, ec);
  if (ec) fail(model_path, what + " cannot be resolved: " + ec.message(), at);
  // Symlinks are resolved above; what they lead to must still be inside the folder.
  const std::string b = base.string(), t = target.string();
  if (t.size() <= b.size() || t.compare(0, b.size(), b) != 0 || (b != "/" && t[b.size()] != '/'))
    fail(model_path, what + " resolves outside the model's folder (" + quoted_for_message(t) + ")", at);
  struct stat st {};
  if (::stat(t.c_str(), &st) != 0) fail(model_path, what + ": no such file", at);
  if (!S_ISREG(st.st_mode)) fail(model_path, what + " is not a regular file", at);
  return MappedFile::open(t);
}

}  // namespace lmforge::onnx
