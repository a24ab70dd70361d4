// Meta's consolidated checkpoint folder read as a llama: shards merged along the llama table's
// split dimensions, params.json checked against the tensors.
#include "convert/sources/meta_llama_source.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "formats/meta_checkpoint.h"
#include "formats/meta_shards_fixture.h"
#include "formats/pytorch_reader.h"

namespace lmforge {
namespace {

class MetaShards : public TorchFixtureSuite<MetaShards> {
 public:
  static constexpr const char* kTag = "meta";
  static constexpr const char* kScript = testing_meta::kGenerator;

 protected:
  static std::string error_of(const char* name) {
    try {
      open_meta_llama(path(name));
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << name << " opened but should have been refused";
    return "";
  }
};

TEST_F(MetaShards, MergedTensorsEqualTorchCat) {
  EXPECT_TRUE(is_meta_checkpoint_dir(path("meta")));
  EXPECT_FALSE(is_meta_checkpoint_dir(path("expected.pt")));
  LlamaModelSource m = open_meta_llama(path("meta"));
  EXPECT_EQ(m.naming, LlamaNaming::kMeta);
  EXPECT_EQ(m.config.vocab_size, 6u);
  EXPECT_EQ(m.config.intermediate_size, 24u);
  auto expected = open_pytorch_checkpoint(path("expected.pt"));
  ASSERT_EQ(m.weights->tensors().size(), expected->tensors().size());
  for (size_t i = 0; i < expected->tensors().size(); ++i) {
    const TensorInfo& want = expected->tensors()[i];
    const ptrdiff_t j = m.weights->find(want.name);
    ASSERT_GE(j, 0) << want.name;
    EXPECT_EQ(m.weights->tensors()[static_cast<size_t>(j)].shape, want.shape) << want.name;
    auto a = m.weights->read(static_cast<size_t>(j));
    auto b = expected->read(i);
    ASSERT_EQ(a.size(), b.size()) << want.name;
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size())) << want.name;
  }
}

TEST_F(MetaShards, BadFoldersAreRefused) {
  EXPECT_NE(error_of("gap").find("consolidated.03.pth"), std::string::npos);
  EXPECT_NE(error_of("bad").find("layers.0.feed_forward.w2.weight"), std::string::npos);
  EXPECT_NE(error_of("lie").find("params.json"), std::string::npos);
}

}  // namespace
}  // namespace lmforge
