#include "engine/model_loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <thread>

#include "convert/sinks/gguf_sink.h"
#include "arch/llama/llama_tensors.h"
#include "convert/sources/gptq_llama_source.h"
#include "convert/sources/open_llama_model_source.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/detect/sniff.h"
#include "kernels/gptq_form.h"

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

// The type the converted weight matrices keep: the source's float type (F32 when mixed), or
// none (the converter's default) when the source is already quantized, so its blocks are kept.
std::optional<DType> kept_matrix_type(const LlamaModelSource& m) {
  std::optional<DType> seen;
  for (const auto& t : m.weights->tensors()) {
    if (t.shape.size() != 2) continue;
    if (dtype_is_quantized(t.dtype)) return std::nullopt;
    if (t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F32) return DType::F32;
    if (seen && *seen != t.dtype) return DType::F32;
    seen = t.dtype;
  }
  return seen.value_or(DType::F32);
}

LoadedModel from_reader(std::shared_ptr<const GgufReader> gguf, const std::string& path, const GptqForms* gptq = nullptr) {
  LoadedModel out;
  out.gguf = gguf;
  out.model = LlamaModel::from_gguf(gguf, path, gptq);
  out.tokenizer = tokenizer_from_gguf(*gguf, path);
  if (const GgufValue* t = gguf->find_kv("tokenizer.chat_template"); t && t->type == GgufType::STRING) out.chat_template = t->s;
  return out;
}

// A GPTQ folder's quantized linears in the kernels' form (no float copy), by GGUF name. Built
// on every core, linears dealt round-robin; the first error (in layer order of the dealing) is
// rethrown once all threads have stopped.
GptqForms gptq_forms(const GptqLlamaFolder& folder) {
  struct Job {
    LlamaTensor id;
    uint32_t layer;
    std::string name;
    std::shared_ptr<const GptqForm> form;
  };
  std::vector<Job> jobs;
  for (uint32_t l = 0; l < folder.config.num_hidden_layers; ++l)
    for (const auto& row : llama_tensor_table())
      if (row.per_layer && row.shape != LlamaShape::kEmbd && folder.quantized(row.id, l))
        jobs.push_back({row.id, l, gguf_weight_name(row.id, l), nullptr});
  ThreadPool pool(std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 16)));
  std::vector<std::exception_ptr> errors(pool.size());
  pool.run([&](unsigned t) {
    try {
      for (size_t i = t; i < jobs.size(); i += pool.size())
        jobs[i].form = std::make_shared<const GptqForm>(folder.linear(jobs[i].id, jobs[i].layer));
    } catch (...) {
      errors[t] = std::current_exception();
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  GptqForms forms;
  for (auto& j : jobs) forms[j.name] = std::move(j.form);
  return forms;
}

}  // namespace

LoadedModel load_model_for_inference(const std::string& path) {
  if (sniff_format(path) == FileFormat::kGguf) return from_reader(GgufReader::open(path), path);

  std::shared_ptr<const GptqLlamaFolder> gptq_folder;
  LlamaModelSource source = is_gptq_folder(path) ? llama_source_from_gptq_folder(path, &gptq_folder) : open_llama_model_source(path);
  ConvertOptions opt;
  GptqForms forms;
  if (gptq_folder) {
    // The linears go straight into the kernels' form; the GGUF holds the rest, floats as F16.
    forms = gptq_forms(*gptq_folder);
    for (const auto& [name, form] : forms) opt.provided_elsewhere.insert(name);
  } else {
    opt.outtype = kept_matrix_type(source);
  }
  opt.quiet = true;
  FdGuard file{anonymous_file(path)};
  opt.output_fd = file.fd;
  write_llama_gguf(source, path + " (converted in memory)", opt);
  // Map it through /proc: the mapping and the reader's own descriptor keep the file alive
  // after ours is closed.
  auto gguf = GgufReader::open("/proc/self/fd/" + std::to_string(file.fd));
  LoadedModel out = from_reader(std::move(gguf), path, gptq_folder ? &forms : nullptr);
  out.converted = true;
  return out;
}

}  // namespace lmforge
