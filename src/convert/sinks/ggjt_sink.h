// Any llama model -> `ggjt` version 3 (the last legacy llama.cpp format), for tools that
// predate GGUF: the llama policy (Meta names and order, Q/K rows in adjacent pairs, which
// types each tensor gets, what the header cannot say) over the container writer in
// formats/ggml_legacy/ggjt_writer.
#pragma once

#include <string>

#include "convert/convert_options.h"
#include "convert/llama_source.h"

namespace lmforge {

// `model` (any naming) -> ggjt v3 at `dst` (temp file + rename). Types F32, F16, Q4_0, Q4_1,
// Q8_0 are written as they are (or converted per opt.outtype); other float types become F16;
// other quantized types are refused by name unless opt.outtype names a ggjt v3 type.
ConvertReport write_ggjt_v3(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt);

}  // namespace lmforge
