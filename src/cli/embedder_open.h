// Opens the embedding model `index -m` and `ask` name: "hash:DIM", the model-free hashing
// embedder of retrieval/hashing_embedder.h, or any model engine/embedder.h opens (a BERT-family
// folder or GGUF, a LLaMA-family model), wrapped as the index's Embedder with the model's
// pooling, L2-normalized vectors, chunks over the model's limit truncated, and a fingerprint
// whose file hash covers the model file (or the folder's weights, JSON and vocabulary files).
// With LoRA adapters (--lora, LLaMA-family models only) that hash covers the adapters' files and
// scales too, so an index made with an adapter refuses a question embedded without it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/lora_flags.h"
#include "retrieval/embedder.h"

namespace lmforge::cli {

std::unique_ptr<retrieval::Embedder> open_embedder(const std::string& spec, const std::vector<LoraRequest>& loras = {});

}  // namespace lmforge::cli
