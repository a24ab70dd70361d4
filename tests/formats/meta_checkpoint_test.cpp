// The container side of Meta's layout: shard files in rank order, and shards merged along
// the dimension the caller gives each tensor.
#include "formats/meta_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "core/error.h"
#include "formats/meta_shards_fixture.h"
#include "formats/pytorch_reader.h"

namespace lmforge {
namespace {

class MetaShardFiles : public TorchFixtureSuite<MetaShardFiles> {
 public:
  static constexpr const char* kTag = "meta_files";
  static constexpr const char* kScript = testing_meta::kGenerator;

 protected:
  // How the generator cut each tensor, told by name as a caller that knows the model would.
  static ShardSplit split_by_name(const TensorInfo& piece, size_t) {
    static const std::map<std::string, ShardSplit> split = {
        {"tok_embeddings.weight", ShardSplit::kCols},           {"output.weight", ShardSplit::kRows},
        {"layers.0.attention.wq.weight", ShardSplit::kRows},    {"layers.0.attention.wk.weight", ShardSplit::kRows},
        {"layers.0.attention.wv.weight", ShardSplit::kRows},    {"layers.0.attention.wo.weight", ShardSplit::kCols},
        {"layers.0.feed_forward.w1.weight", ShardSplit::kRows}, {"layers.0.feed_forward.w2.weight", ShardSplit::kCols},
        {"layers.0.feed_forward.w3.weight", ShardSplit::kRows}};
    const auto it = split.find(piece.name);
    return it == split.end() ? ShardSplit::kReplicated : it->second;
  }
};

TEST_F(MetaShardFiles, ShardsMergeAlongTheGivenDimension) {
  EXPECT_TRUE(is_meta_checkpoint_dir(path("meta")));
  EXPECT_FALSE(is_meta_checkpoint_dir(path("expected.pt")));
  const auto paths = meta_shard_paths(path("meta"));
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_TRUE(paths[0].ends_with("consolidated.00.pth"));
  auto merged = open_model_parallel_shards(path("meta"), paths, split_by_name);
  EXPECT_EQ(merged->shard_files(), (std::vector<std::string>{"consolidated.00.pth", "consolidated.01.pth"}));
  auto expected = open_pytorch_checkpoint(path("expected.pt"));
  ASSERT_EQ(merged->tensors().size(), expected->tensors().size());
  for (size_t i = 0; i < expected->tensors().size(); ++i) {
    const TensorInfo& want = expected->tensors()[i];
    const ptrdiff_t j = merged->find(want.name);
    ASSERT_GE(j, 0) << want.name;
    EXPECT_EQ(merged->tensors()[static_cast<size_t>(j)].shape, want.shape) << want.name;
    auto a = merged->read(static_cast<size_t>(j));
    auto b = expected->read(i);
    ASSERT_EQ(a.size(), b.size()) << want.name;
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size())) << want.name;
  }
  // Merged along the wrong dimension, a tensor comes out with another shape; a vector cannot
  // be split at all.
  auto wrong = open_model_parallel_shards(path("meta"), paths, [](const TensorInfo& piece, size_t n) {
    return piece.name == "layers.0.attention.wo.weight" ? ShardSplit::kRows : split_by_name(piece, n);
  });
  EXPECT_EQ(wrong->tensors()[static_cast<size_t>(wrong->find("layers.0.attention.wo.weight"))].shape, (std::vector<uint64_t>{16, 4}));
  EXPECT_THROW(open_model_parallel_shards(path("meta"), paths, [](const TensorInfo&, size_t) { return ShardSplit::kRows; }), Error);
}

TEST_F(MetaShardFiles, GapsAndDisagreeingShardsAreRefused) {
  try {
    (void)meta_shard_paths(path("gap"));
    ADD_FAILURE() << "a gap in the shard numbers was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("consolidated.03.pth"), std::string::npos) << e.what();
  }
  try {
    (void)open_model_parallel_shards(path("bad"), meta_shard_paths(path("bad")), split_by_name);
    ADD_FAILURE() << "shards with different piece shapes were merged";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers.0.feed_forward.w2.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lmforge
