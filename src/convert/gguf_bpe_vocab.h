// A byte-level BPE vocabulary (a Hugging Face folder's tokenizer.json) in the GGUF keys
// llama.cpp's converter writes for it, so that llama.cpp loads the file and tokenizes as the
// folder does: tokenizer.ggml.model "gpt2", .pre (the pre-tokenizer's llama.cpp name), tokens
// padded with [PADi] unused tokens up to config.json's vocab_size, token types (added special
// tokens and <|...|> tokens control, other added tokens user-defined), merges as "a b", the
// BOS/EOS ids, add_bos_token and the chat template of tokenizer_config.json.
//
// End of generation: eos is tokenizer_config.json's eos_token (as llama.cpp's converter takes
// it), else the first id of generation_config.json's eos_token_id, else config.json's. The
// other ids of those lists become tokenizer.ggml.eot_token_id / eom_token_id unless llama.cpp
// recognises them by their text (convert/eos_list.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/gguf/gguf_value.h"

namespace lmforge {

// True when `dir` has a tokenizer.json and no tokenizer.model (the byte-level BPE folders).
bool folder_has_bpe_tokenizer(const std::string& dir);

// `vocab_size` 0: the tokenizer's own size. `config_eos_ids`: config.json's eos_token_id (one id
// or every id of its list). End-of-generation ids no key can carry are added to `warnings`.
std::vector<GgufKv> gguf_vocab_from_bpe_folder(const std::string& dir, uint32_t vocab_size,
                                               const std::vector<uint32_t>& config_eos_ids = {},
                                               std::vector<std::string>* warnings = nullptr);

}  // namespace lmforge
