#include "convert/convert_options.h"

#include "core/error.h"

namespace lmforge {

uint32_t llama_file_type(DType outtype) {
  switch (outtype) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::BF16: return 32;
    default: throw UsageError("unsupported output type " + std::string(dtype_name(outtype)));
  }
}

}  // namespace lmforge
