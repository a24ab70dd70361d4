#include "formats/ggml_legacy/ggjt_writer.h"

#include "core/error.h"

namespace lmforge {

ConvertReport write_ggjt_v3(LlamaModelSource& model, const std::string& dst, const ConvertOptions&) {
  (void)model;
  throw UsageError("writing ggjt (" + dst + ") is not supported yet");
}

}  // namespace lmforge
