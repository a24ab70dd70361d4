// How an embedding model turns the hidden states of a text's tokens into one vector, with
// llama.cpp's numbers (GGUF `*.pooling_type`): none keeps every token's vector, mean averages
// them, cls takes the first token's ([CLS] for BERT), last the last token's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmforge {

enum class Pooling : uint32_t { None = 0, Mean = 1, Cls = 2, Last = 3 };

inline const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::None: return "none";
    case Pooling::Mean: return "mean";
    case Pooling::Cls: return "cls";
    case Pooling::Last: return "last";
  }
  return "?";
}

// "none" / "mean" / "cls" / "last"; nullopt for anything else.
inline std::optional<Pooling> pooling_from_name(std::string_view s) {
  for (Pooling p : {Pooling::None, Pooling::Mean, Pooling::Cls, Pooling::Last})
    if (s == pooling_name(p)) return p;
  return std::nullopt;
}

}  // namespace lmforge
