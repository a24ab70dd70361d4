// A BERT GGUF (architecture "bert", as bert_gguf_sink writes it or llama.cpp's converter does)
// -> a Hugging Face folder that transformers and sentence-transformers load: config.json
// (BertModel), model.safetensors with BertModel names (the tensors' own types), vocab.txt (the
// vocabulary back in WordPiece spelling: "▁x" -> "x", other pieces "##x", control tokens as
// they are), tokenizer_config.json (do_lower_case, strip_accents, the special tokens) and, when
// the file has bert.pooling_type mean/cls/last, modules.json with 1_Pooling/config.json.
// Written into a temporary folder and renamed into place whole (AtomicOutputDir).
#pragma once

#include <string>

#include "convert/convert_options.h"

namespace lmforge {

// Whether `path` is a GGUF file with general.architecture "bert".
bool is_bert_gguf_path(const std::string& path);

ConvertReport write_bert_hf_folder(const std::string& gguf, const std::string& dst_dir, const ConvertOptions& opt);

}  // namespace lmforge
