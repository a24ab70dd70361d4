// A batch of tokens for LlamaEngine::eval, in the shape of llama.cpp's llama_batch: every entry
// is a token with its position and the sequence it belongs to, and says whether its logits are
// wanted. Entries of several independent sequences (conversations of a server, texts to embed)
// may be mixed in one batch: each token only sees the cached tokens of its own sequence, so one
// forward pass serves them all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmforge {

struct LlamaBatch {
  std::vector<int32_t> token;
  std::vector<int32_t> pos;     // position inside its sequence (RoPE angle, causal order)
  std::vector<int32_t> seq_id;  // 0 .. KvCache::n_seq_max() - 1
  std::vector<bool> logits;     // whether eval returns this entry's row of logits

  size_t size() const { return token.size(); }
  bool empty() const { return token.empty(); }
  void clear() {
    token.clear();
    pos.clear();
    seq_id.clear();
    logits.clear();
  }
  void add(int32_t t, int32_t p, int32_t seq, bool want_logits) {
    token.push_back(t);
    pos.push_back(p);
    seq_id.push_back(seq);
    logits.push_back(want_logits);
  }
  // How many entries want logits: the rows eval returns.
  size_t n_logits() const {
    size_t n = 0;
    for (bool b : logits) n += b;
    return n;
  }
};

}  // namespace lmforge
