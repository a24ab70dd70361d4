#include "formats/training_checkpoint.h"

#include <gtest/gtest.h>

#include "formats/torch_fixture_suite.h"
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "formats/pytorch_reader.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

// Checkpoints written by Debian's torch 1.13 after two Adam steps; skipped without torch.
constexpr const char* kGenerator = R"PY(
import sys, os, torch
out = sys.argv[1]
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
opt = torch.optim.Adam(m.parameters(), lr=0.01)
for _ in range(2):
    opt.zero_grad(); m(torch.randn(2, 4)).sum().backward(); opt.step()
sd = m.state_dict()
torch.save({"epoch": 2, "global_step": 40, "pytorch-lightning_version": "2.0.0",
            "state_dict": {"model." + k: v for k, v in sd.items()}, "optimizer_states": [opt.state_dict()],
            "lr_schedulers": [], "hyper_parameters": {"width": 3}}, os.path.join(out, "l.ckpt"))
torch.save({"model": {"_orig_mod." + k: v for k, v in sd.items()}, "optimizer": opt.state_dict(), "step": 9},
           os.path.join(out, "plain.pt"))
torch.save({"model." + k: v for k, v in sd.items()}, os.path.join(out, "bare.pt"))
)PY";

class TrainingCheckpoint : public TorchFixtureSuite<TrainingCheckpoint> {
 public:
  static constexpr const char* kTag = "ckpt";
  static constexpr const char* kScript = kGenerator;

 protected:
  static std::set<std::string> names(const TensorSource& s) {
    std::set<std::string> out;
    for (const auto& t : s.tensors()) out.insert(t.name);
    return out;
  }
};

const std::set<std::string> kWeights = {"0.weight", "0.bias", "1.weight", "1.bias"};

TEST_F(TrainingCheckpoint, Lightning) {
  auto src = open_pytorch_checkpoint(path("l.ckpt"));
  const nlohmann::json d = describe_training_checkpoint(*src);
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["kind"], "lightning");
  EXPECT_EQ(d["weights"]["tensors"], 4);
  EXPECT_EQ(d["weights"]["parameters"], 4 * 3 + 3 + 3 + 3);
  EXPECT_EQ(d["weights"]["prefix_stripped"], "model.");
  EXPECT_EQ(d["optimizer"]["parameters_with_state"], 4);
  EXPECT_EQ(d["optimizer"]["moments"]["exp_avg"], 4);
  EXPECT_EQ(d["optimizer"]["moments"]["exp_avg_sq"], 4);
  EXPECT_EQ(d["counters"]["epoch"], 2);
  EXPECT_EQ(d["counters"]["global_step"], 40);
  EXPECT_EQ(d["hyper_parameters"]["width"], 3);
  auto w = training_checkpoint_weights(std::move(src));
  EXPECT_EQ(names(*w), kWeights);
}

TEST_F(TrainingCheckpoint, PlainDictWithCompilePrefix) {
  auto src = open_pytorch_checkpoint(path("plain.pt"));
  const nlohmann::json d = describe_training_checkpoint(*src);
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["kind"], "model+optimizer");
  EXPECT_EQ(d["weights"]["prefix_stripped"], "_orig_mod.");
  EXPECT_EQ(d["counters"]["step"], 9);
  auto w = training_checkpoint_weights(std::move(src));
  EXPECT_EQ(names(*w), kWeights);
  // the renamed view reads the same bytes as the original tensor
  auto orig = open_pytorch_checkpoint(path("plain.pt"));
  auto a = w->read(static_cast<size_t>(w->find("0.weight")));
  auto b = orig->read(static_cast<size_t>(orig->find("model._orig_mod.0.weight")));
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size()));
}

TEST_F(TrainingCheckpoint, BareStateDictIsLeftAlone) {
  // "model." without training state is part of the names (Hugging Face), not a wrapper.
  auto src = open_pytorch_checkpoint(path("bare.pt"));
  EXPECT_TRUE(describe_training_checkpoint(*src).is_null());
  auto w = training_checkpoint_weights(std::move(src));
  EXPECT_EQ(w->tensors().size(), 4u);
  EXPECT_GE(w->find("model.0.weight"), 0);
}

}  // namespace
}  // namespace lmforge
