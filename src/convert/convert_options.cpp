#include "convert/convert_options.h"

#include "core/error.h"
#include "quant/type_traits.h"

#include <filesystem>

namespace lmforge {

ConvertReport make_report(const std::string& output, uint64_t tensors, uint64_t bytes_read,
                          std::chrono::steady_clock::time_point start) {
  namespace fs = std::filesystem;
  ConvertReport rep;
  rep.output = output;
  rep.tensors = tensors;
  rep.bytes_read = bytes_read;
  std::error_code ec;
  if (fs::is_directory(output, ec)) {
    for (const auto& e : fs::directory_iterator(output, ec))
      rep.bytes_written += e.is_regular_file(ec) ? e.file_size(ec) : 0;
  } else {
    rep.bytes_written = fs::file_size(output, ec);
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

uint32_t llama_file_type(DType outtype) {
  if (const auto ftype = llama_ftype(outtype)) return *ftype;
  throw UsageError("unsupported output type " + std::string(dtype_name(outtype)));
}

}  // namespace lmforge
