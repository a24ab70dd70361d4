#include "engine/kv_cache.h"

#include <algorithm>
#include <cstdint>

#include "core/checked_math.h"
#include "core/error.h"
#include "engine/llama_model.h"

namespace lmforge {

std::optional<uint64_t> llama_kv_cache_bytes(const LlamaConfig& c, uint32_t n_cells) {
  const uint64_t kv_dim = uint64_t{c.num_key_value_heads} * c.head_dim;
  auto per_layer = checked_mul(uint64_t{n_cells}, kv_dim);
  if (!per_layer) return std::nullopt;
  auto all = checked_mul(*per_layer, uint64_t{c.num_hidden_layers});
  if (!all) return std::nullopt;
  return checked_mul(*all, uint64_t{2 * sizeof(float)});  // keys and values
}

KvCache::KvCache(const LlamaModel& model, uint32_t n_cells, uint32_t n_seq_max)
    : path_(model.path()), n_cells_(n_cells), n_seq_max_(n_seq_max) {
  const LlamaConfig& c = model.config();
  if (n_cells == 0) fail(path_, "the context length is 0");
  if (n_seq_max == 0) fail(path_, "a KV cache needs room for at least one sequence");
  n_layer_ = c.num_hidden_layers;
  kv_dim_ = size_t{c.num_key_value_heads} * c.head_dim;
  const auto bytes = llama_kv_cache_bytes(c, n_cells);
  // Checked: a hostile context length times the layer count must not wrap the allocation.
  // Positions are int32 (as llama.cpp's), so no more cells than they can count.
  if (!bytes || *bytes / 2 > SIZE_MAX / 2 || n_cells > uint32_t{INT32_MAX})
    fail(path_, "the KV cache for " + std::to_string(n_cells) + " positions is too large");
  const size_t floats = static_cast<size_t>(*bytes / 2 / sizeof(float));
  k_.reset(new float[floats]);
  v_.reset(new float[floats]);
  cells_.resize(n_cells);
  batch_slot_.assign(n_seq_max, -1);
  n_free_ = n_cells;
}

void KvCache::check_seq(int32_t seq) const {
  if (seq < 0 || static_cast<uint32_t>(seq) >= n_seq_max_)
    fail(path_, "sequence id " + std::to_string(seq) + " is outside 0.." + std::to_string(n_seq_max_ - 1) +
                    " (the KV cache was made for " + std::to_string(n_seq_max_) + " sequences)");
}

void KvCache::free_cell(uint32_t c) {
  if (cells_[c].is_free()) return;
  cells_[c] = Cell{};
  ++n_free_;
}

void KvCache::clear() {
  std::fill(cells_.begin(), cells_.begin() + used_end_, Cell{});
  n_free_ = n_cells_;
  used_end_ = 0;
}

void KvCache::remove(int32_t seq, int32_t p0) {
  check_seq(seq);
  for (uint32_t c = 0; c < used_end_; ++c)
    if (cells_[c].seq == seq && cells_[c].pos >= p0) free_cell(c);
  while (used_end_ > 0 && cells_[used_end_ - 1].is_free()) --used_end_;
}

std::optional<int32_t> KvCache::seq_pos_max(int32_t seq) const {
  check_seq(seq);
  std::optional<int32_t> best;
  for (uint32_t c = 0; c < used_end_; ++c)
    if (cells_[c].seq == seq && (!best || cells_[c].pos > *best)) best = cells_[c].pos;
  return best;
}

KvPlacement KvCache::place(const LlamaBatch& b) {
  const size_t n = b.size();
  if (n == 0) fail(path_, "no tokens to evaluate");
  if (b.pos.size() != n || b.seq_id.size() != n || b.logits.size() != n)
    fail(path_, "the batch's token, pos, seq_id and logits lists differ in length");

  // The sequences of the batch, each with its positions in batch order. batch_slot_ maps a
  // sequence id to its index here; the guard resets it however this function leaves.
  std::vector<int32_t> seqs;
  std::vector<std::vector<int32_t>> positions;
  struct ResetSlots {
    std::vector<int32_t>& slot;
    const std::vector<int32_t>& seqs;
    ~ResetSlots() {
      for (int32_t s : seqs) slot[static_cast<size_t>(s)] = -1;
    }
  } reset{batch_slot_, seqs};
  std::vector<size_t> slot_of_entry(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t seq = b.seq_id[i], pos = b.pos[i];
    check_seq(seq);
    if (pos < 0) fail(path_, "position " + std::to_string(pos) + " of sequence " + std::to_string(seq) + " is negative");
    int32_t& slot = batch_slot_[static_cast<size_t>(seq)];
    if (slot < 0) {
      slot = static_cast<int32_t>(seqs.size());
      seqs.push_back(seq);
      positions.emplace_back();
    }
    auto& p = positions[static_cast<size_t>(slot)];
    // Increasing positions per sequence keep every query's visible cells computed before it,
    // whatever the engine's chunking or order.
    if (!p.empty() && pos <= p.back())
      fail(path_, "position " + std::to_string(pos) + " of sequence " + std::to_string(seq) + " comes after position " +
                      std::to_string(p.back()) + " of the same sequence in the batch (positions must increase)");
    p.push_back(pos);
    slot_of_entry[i] = static_cast<size_t>(slot);
  }
  if (n > n_free_)
    fail(path_, std::to_string(n) + " tokens do not fit the KV cache: " + std::to_string(n_free_) + " of " +
                    std::to_string(n_cells_) + " cells are free");

  // One pass over the cells in use: refuse a position already stored, and follow whether each
  // batch sequence's cells form one run of consecutive cells in position order (then its
  // queries read a contiguous span: the fast path of a sequence evaluated alone).
  struct Run {
    uint32_t count = 0, first = 0, last = 0;
    int32_t last_pos = -1;
    bool in_order = true;
    void extend(uint32_t c, int32_t pos) {
      if (count == 0) {
        first = c;
      } else {
        in_order = in_order && c == last + 1 && pos > last_pos;
      }
      last = c;
      last_pos = pos;
      ++count;
    }
  };
  std::vector<Run> runs(seqs.size());
  for (uint32_t c = 0; c < used_end_; ++c) {
    const Cell& cell = cells_[c];
    if (cell.is_free()) continue;
    const int32_t slot = batch_slot_[static_cast<size_t>(cell.seq)];
    if (slot < 0) continue;
    const auto& p = positions[static_cast<size_t>(slot)];
    if (cell.pos >= p.front() && std::binary_search(p.begin(), p.end(), cell.pos))
      fail(path_, "position " + std::to_string(cell.pos) + " of sequence " + std::to_string(cell.seq) +
                      " is already in the KV cache");
    runs[static_cast<size_t>(slot)].extend(c, cell.pos);
  }

  // The first run of n free cells, else the lowest free cells. With no free cell below
  // used_end_ (the usual case) the first run starts there.
  KvPlacement out;
  out.cell.reserve(n);
  uint32_t end = 0;
  if (n_free_ == n_cells_ - used_end_) {
    end = used_end_ + static_cast<uint32_t>(n);
  } else {
    uint32_t run = 0;
    for (uint32_t c = 0; c < n_cells_; ++c) {
      run = cells_[c].is_free() ? run + 1 : 0;
      if (run == n) {
        end = c + 1;
        break;
      }
    }
  }
  if (end) {
    for (uint32_t c = end - static_cast<uint32_t>(n); c < end; ++c) out.cell.push_back(c);
  } else {
    for (uint32_t c = 0; c < n_cells_ && out.cell.size() < n; ++c)
      if (cells_[c].is_free()) out.cell.push_back(c);
  }

  // Nothing can fail from here on: tag the cells.
  for (size_t i = 0; i < n; ++i) {
    const uint32_t c = out.cell[i];
    cells_[c] = Cell{b.pos[i], b.seq_id[i]};
    runs[slot_of_entry[i]].extend(c, b.pos[i]);
    used_end_ = std::max(used_end_, c + 1);
  }
  n_free_ -= static_cast<uint32_t>(n);

  // The sequences whose cells are not one run in order get a list of them by position.
  out.seq_cells.resize(seqs.size());
  bool any_list = false;
  for (const Run& r : runs) any_list = any_list || !r.in_order;
  if (any_list) {
    for (uint32_t c = 0; c < used_end_; ++c) {
      const Cell& cell = cells_[c];
      if (cell.is_free()) continue;
      const int32_t slot = batch_slot_[static_cast<size_t>(cell.seq)];
      if (slot >= 0 && !runs[static_cast<size_t>(slot)].in_order) out.seq_cells[static_cast<size_t>(slot)].push_back(c);
    }
    const auto by_pos = [this](uint32_t a, uint32_t c) { return cells_[a].pos < cells_[c].pos; };
    for (auto& list : out.seq_cells) std::sort(list.begin(), list.end(), by_pos);
  }

  // A query sees its sequence's cells up to its own position.
  out.visible.resize(n);
  const auto pos_below = [this](int32_t p, uint32_t c) { return p < cells_[c].pos; };
  for (size_t i = 0; i < n; ++i) {
    const size_t s = slot_of_entry[i];
    const Run& r = runs[s];
    CellSpan& span = out.visible[i];
    if (r.in_order) {
      // Positions increase along the run's cells: a binary search over the cell numbers.
      size_t lo = r.first, hi = size_t{r.last} + 1;
      while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (pos_below(b.pos[i], static_cast<uint32_t>(mid))) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      span.first = r.first;
      span.count = static_cast<uint32_t>(lo - r.first);
    } else {
      const auto& list = out.seq_cells[s];
      span.index = list.data();
      span.count = static_cast<uint32_t>(std::upper_bound(list.begin(), list.end(), b.pos[i], pos_below) - list.begin());
    }
  }
  return out;
}

void KvCache::unplace(const KvPlacement& placement) {
  for (uint32_t c : placement.cell) free_cell(c);
  while (used_end_ > 0 && cells_[used_end_ - 1].is_free()) --used_end_;
}

}  // namespace lmforge
