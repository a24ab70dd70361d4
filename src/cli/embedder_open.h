// Opens the embedding model `index -m` and `ask` name. Today: "hash:DIM", the model-free
// hashing embedder of retrieval/hashing_embedder.h. The neural embedders (LLaMA-family and
// BERT-family models) are opened here too once they land: this is the one place to wire them.
#pragma once

#include <memory>
#include <string>

#include "retrieval/embedder.h"

namespace lmforge::cli {

std::unique_ptr<retrieval::Embedder> open_embedder(const std::string& spec);

}  // namespace lmforge::cli
