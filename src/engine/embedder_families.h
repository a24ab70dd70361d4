// The two families behind Embedder::open (engine/embedder.h), each in its own file:
// bert_embedder.cpp and llama_embedder.cpp. Internal to the engine.
#pragma once

#include <memory>
#include <string>

#include "engine/embedder.h"

namespace lmforge {

// `gguf`: path is a GGUF file with architecture "bert", else a BERT folder.
std::unique_ptr<Embedder> make_bert_embedder(const std::string& path, bool gguf, const EmbedderOptions& options);
std::unique_ptr<Embedder> make_llama_embedder(const std::string& path, const EmbedderOptions& options);
// Over a model someone else loaded and keeps alive (Embedder::over_loaded_llama).
std::unique_ptr<Embedder> make_llama_embedder_borrowing(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer, const std::string& path,
                                                        const EmbedderOptions& options);

// "SOURCE has N tokens; the model takes at most M" (and what truncation would keep): the one
// message both families give for an over-long text.
[[noreturn]] void fail_too_long(const std::string& model, const std::string& source, size_t n, size_t max);

}  // namespace lmforge
