// Serializes a SentencePieceModel back into a `tokenizer.model` (sentencepiece.ModelProto),
// so a GGUF vocabulary can become a Hugging Face folder that libsentencepiece loads.
#pragma once

#include <cstdint>
#include <vector>

#include "formats/sentencepiece_model.h"

namespace lmforge {

std::vector<uint8_t> serialize_sentencepiece_model(const SentencePieceModel& model);

}  // namespace lmforge
