// The KV cache: the keys and values of every evaluated token, for every layer, in `n_cells`
// cells, each cell tagged with the (position, sequence id) of the token stored in it, as
// llama.cpp's KV cells are. Several independent sequences share one cache (a server's
// conversations, a batch of texts to embed): a token attends to the cells of its own sequence
// whose position is <= its own, and sees nothing of the others.
//
// The engine places a batch (place(): every token into a free cell) and then writes the keys
// and values; the cache only keeps the tags, the storage and the rules. A batch is refused,
// with the cache left unchanged, when it does not fit the free cells, when a sequence id is
// outside 0 .. n_seq_max-1, a position negative, already stored for its sequence, or not above
// the previous position of its sequence in the same batch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "engine/llama_batch.h"
#include "kernels/attention.h"

namespace lmforge {

class LlamaModel;

// Where place() put a batch: the cell of every entry, and the cells each entry attends to.
struct KvPlacement {
  std::vector<uint32_t> cell;     // cell[i]: where entry i's keys and values go
  std::vector<CellSpan> visible;  // visible[i]: the cells entry i attends to, by position
  // Per sequence of the batch whose cells are not one run of consecutive cells in position
  // order: its cells by position, which the spans of `visible` with an index point into.
  // Empty for the others (their spans need no list).
  std::vector<std::vector<uint32_t>> seq_cells;
};

class KvCache {
 public:
  // Cells for `model`'s layers and KV heads (float32 keys and values), and sequence ids
  // 0 .. n_seq_max-1. The storage is left uninitialized: a cell is written before it is read,
  // and the untouched pages of a long context cost no memory. Fails, naming the model, when
  // it would not be addressable.
  KvCache(const LlamaModel& model, uint32_t n_cells, uint32_t n_seq_max = 1);

  uint32_t n_cells() const { return n_cells_; }
  uint32_t n_seq_max() const { return n_seq_max_; }
  uint32_t n_free() const { return n_free_; }
  uint32_t n_layer() const { return n_layer_; }
  size_t kv_dim() const { return kv_dim_; }

  // Frees every cell.
  void clear();
  // Frees the cells of sequence `seq` at positions >= p0 (every cell of it by default); the
  // others keep their place. Throws on a sequence id outside 0 .. n_seq_max-1.
  void remove(int32_t seq, int32_t p0 = 0);
  // The largest position stored for `seq`, nullopt when it has none.
  std::optional<int32_t> seq_pos_max(int32_t seq) const;

  struct Cell {
    int32_t pos = -1;
    int32_t seq = -1;  // -1: free
    bool is_free() const { return seq < 0; }
    bool operator==(const Cell&) const = default;
  };
  const Cell& cell(uint32_t c) const { return cells_[c]; }

  // Checks `batch` against the rules above (sizes of its lists included) and tags a free cell
  // for each entry: the first run of batch.size() free cells when there is one (so one
  // sequence evaluated alone stays in order, and its queries read their cells with no
  // indirection), else the lowest free cells. Throws lmforge::Error with nothing changed.
  KvPlacement place(const LlamaBatch& batch);
  // Frees the cells of a placement whose evaluation failed.
  void unplace(const KvPlacement& placement);

  // Keys and values of one layer: cell c at + c * kv_dim().
  float* keys(uint32_t layer) { return k_.get() + size_t{layer} * n_cells_ * kv_dim_; }
  float* values(uint32_t layer) { return v_.get() + size_t{layer} * n_cells_ * kv_dim_; }

 private:
  void check_seq(int32_t seq) const;
  void free_cell(uint32_t c);

  std::string path_;  // the model's, for errors
  uint32_t n_cells_ = 0, n_seq_max_ = 0, n_layer_ = 0;
  size_t kv_dim_ = 0;
  uint32_t n_free_ = 0;
  uint32_t used_end_ = 0;  // one past the last cell in use: scans stop there
  std::vector<Cell> cells_;
  std::unique_ptr<float[]> k_, v_;  // [n_layer][n_cells][kv_dim]
  std::vector<int32_t> batch_slot_;  // scratch of place(): per sequence id, its slot in the batch or -1
};

// Bytes the KV cache of `n_cells` cells takes for this model (float32 keys and values),
// nullopt when the product overflows. Lets callers refuse a context that cannot fit before
// allocating it.
std::optional<uint64_t> llama_kv_cache_bytes(const LlamaConfig& config, uint32_t n_cells);

}  // namespace lmforge
