// The container side of Meta's original LLaMA release layout: a folder with params.json,
// consolidated.NN.pth (one per model-parallel rank) and tokenizer.model.
//
// Each rank's file holds its slice of every tensor. The merged source puts the slices back
// together one tensor at a time, along the dimension the caller names per tensor (which
// dimension is a fact of the model, asked of arch/llama's tensor table by
// convert/sources/meta_llama_source).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lmforge {

// True when `dir` is a folder holding params.json and consolidated.00.pth.
bool is_meta_checkpoint_dir(const std::string& dir);

// The consolidated.NN.pth files of `dir`, in rank order; refuses gaps in the numbering.
std::vector<std::string> meta_shard_paths(const std::string& dir);

// How a tensor was cut across ranks: not at all (each rank holds it whole), by rows (dim 0)
// or by columns (dim 1).
enum class ShardSplit { kReplicated, kRows, kCols };
// Asked once per tensor with the first shard's piece and the number of shards; throws for a
// tensor the caller does not know.
using ShardSplitOf = std::function<ShardSplit(const TensorInfo& piece, size_t n_shards)>;

// The shards seen as one source: read(i) builds tensor i from every shard's piece, so at
// most one whole tensor is in memory at a time.
class MergedShardsSource : public TensorSource {
 public:
  virtual const std::vector<std::string>& shard_files() const = 0;  // file names, rank order
  virtual void set_metadata(nlohmann::json metadata) = 0;          // what metadata() returns
};

// Opens `paths` (torch.save files, rank order) and checks that every shard holds the same
// names with the same piece shapes and types; split pieces must be float matrices.
std::unique_ptr<MergedShardsSource> open_model_parallel_shards(const std::string& dir, const std::vector<std::string>& paths,
                                                              const ShardSplitOf& split_of);

}  // namespace lmforge
