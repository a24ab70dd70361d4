#include "model/model_loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "convert/hf_to_gguf.h"
#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/hf_folder.h"

namespace lmforge {

namespace {

// Closes a descriptor on every path out of the loader.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// An unnamed, writable file: O_TMPFILE in $TMPDIR (or /tmp) first, since it can be paged out to
// disk; memfd_create where the file system has no O_TMPFILE.
int anonymous_file(const std::string& for_path) {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string dir = tmpdir && *tmpdir ? tmpdir : "/tmp";
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  fd = ::memfd_create("lmforge-model", MFD_CLOEXEC);
  if (fd < 0) fail(for_path, std::string("cannot create an in-memory file for the converted model: ") + std::strerror(errno));
  return fd;
}

// The float type the folder's weight matrices are stored in; F32 when they are mixed.
DType source_float_type(const std::string& dir) {
  const HfModel hf = open_hf_folder(dir);
  std::optional<DType> seen;
  for (const auto& t : hf.weights->tensors()) {
    if (t.shape.size() != 2) continue;
    if (t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F32) return DType::F32;
    if (seen && *seen != t.dtype) return DType::F32;
    seen = t.dtype;
  }
  return seen.value_or(DType::F32);
}

LoadedModel from_reader(std::shared_ptr<const GgufReader> gguf, const std::string& path) {
  LoadedModel out;
  out.gguf = gguf;
  out.model = LlamaModel::from_gguf(gguf, path);
  out.vocab = vocab_from_gguf(*gguf, path);
  if (const GgufValue* t = gguf->find_kv("tokenizer.chat_template"); t && t->type == GgufType::STRING) out.chat_template = t->s;
  return out;
}

}  // namespace

LoadedModel load_model_for_inference(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return from_reader(GgufReader::open(path), path);

  ConvertOptions opt;
  opt.outtype = source_float_type(path);
  opt.quiet = true;
  FdGuard file{anonymous_file(path)};
  opt.output_fd = file.fd;
  convert_hf_to_gguf(path, path + " (converted in memory)", opt);
  // Map it through /proc: the mapping and the reader's own descriptor keep the file alive
  // after ours is closed.
  auto gguf = GgufReader::open("/proc/self/fd/" + std::to_string(file.fd));
  LoadedModel out = from_reader(std::move(gguf), path);
  out.converted = true;
  return out;
}

}  // namespace lmforge
