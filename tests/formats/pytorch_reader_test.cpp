#include "formats/pytorch_reader.h"

#include <gtest/gtest.h>

#include "formats/torch_fixture_suite.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

// Fixtures are written at test time by Debian's torch 1.13 (/usr/bin/python3); the whole suite
// is skipped where that python cannot import torch.
constexpr const char* kGenerator = R"PY(
import sys, os, io, zipfile, torch, collections
out = sys.argv[1]
torch.manual_seed(0)
a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
sd = collections.OrderedDict()
sd["a"] = a
sd["at"] = a.t()                      # non-contiguous view of a's storage
sd["row"] = a[1]                      # shares a's storage at offset 3
sd["h"] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16)
sd["b"] = torch.tensor([1.0, 3.0], dtype=torch.bfloat16)
sd["l"] = torch.tensor([[1, -2], [3, 1 << 40]], dtype=torch.int64)
sd["s"] = torch.tensor(7.0)           # a scalar (rank 0)
sd["p"] = torch.nn.Parameter(torch.full((2, 2), 0.25))
sd["e"] = torch.zeros(0, 4)
torch.save(sd, os.path.join(out, "zip.pt"))
torch.save(sd, os.path.join(out, "legacy.pt"), _use_new_zipfile_serialization=False)
torch.save({"state_dict": {"layer": {"w": a}}, "epoch": 3, "lr": 0.5, "name": "run-1",
            "hist": [1, 2], "opt": [torch.ones(2)]}, os.path.join(out, "nested.pt"))

class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))
torch.save({"x": Evil()}, os.path.join(out, "evil.pt"))

class M(torch.nn.Module):
    def forward(self, x):
        return x + 1
torch.jit.save(torch.jit.script(M()), os.path.join(out, "script.pt"))

# Rewrites zip.pt through zipfile (stored entries) with a change.
def rewrite(dst, drop=None, add=None, replace=None):
    with zipfile.ZipFile(os.path.join(out, "zip.pt")) as zin, zipfile.ZipFile(os.path.join(out, dst), "w") as zout:
        for info in zin.infolist():
            if drop and info.filename.endswith(drop):
                continue
            data = zin.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            zout.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
        if add:
            zout.writestr(add[0], add[1], compress_type=zipfile.ZIP_STORED)
rewrite("big.pt", add=("zip/byteorder", b"big"))
rewrite("little.pt", add=("zip/byteorder", b"little"))
rewrite("missing.pt", drop="data/1")
rewrite("short.pt", replace=("data/0", b"\0" * 8))
rewrite("outside.pt", add=("other/x", b"1"))
with zipfile.ZipFile(os.path.join(out, "zip.pt")) as zin, zipfile.ZipFile(os.path.join(out, "deflated.pt"), "w") as zout:
    for info in zin.infolist():
        zout.writestr(info.filename, zin.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
)PY";

class PytorchReader : public TorchFixtureSuite<PytorchReader> {
 public:
  static constexpr const char* kTag = "pt";
  static constexpr const char* kScript = kGenerator;

 protected:

  static std::vector<float> f32(const TensorSource& s, const std::string& name) {
    const auto i = s.find(name);
    EXPECT_GE(i, 0) << name;
    if (i < 0) return {};
    auto b = s.read(static_cast<size_t>(i));
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
  }
  static std::string error_of(const std::string& p) {
    try {
      open_pytorch_checkpoint(p);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << p << " loaded but should have been refused";
    return "";
  }

};

void check_state_dict(const TensorSource& s) {
  using V = std::vector<float>;
  auto f32 = [&](const char* n) {
    auto b = s.read(static_cast<size_t>(s.find(n)));
    V v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
  };
  ASSERT_EQ(s.tensors().size(), 9u);
  const auto& a = s.tensors()[s.find("a")];
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a.nbytes, 24u);
  EXPECT_EQ(f32("a"), (V{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(s.tensors()[s.find("at")].shape, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(f32("at"), (V{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(f32("row"), (V{3, 4, 5}));
  EXPECT_EQ(s.tensors()[s.find("row")].offset, a.offset + 12);
  EXPECT_EQ(f32("p"), (V{0.25f, 0.25f, 0.25f, 0.25f}));
  EXPECT_EQ(f32("s"), (V{7}));
  EXPECT_TRUE(s.tensors()[s.find("s")].shape.empty());
  EXPECT_EQ(s.tensors()[s.find("e")].nbytes, 0u);
  EXPECT_EQ(s.read(s.find("e")).size(), 0u);

  const auto hb = s.read(s.find("h"));
  ASSERT_EQ(hb.size(), 6u);
  uint16_t h[3];
  std::memcpy(h, hb.data(), 6);
  EXPECT_EQ(s.tensors()[s.find("h")].dtype, DType::F16);
  EXPECT_EQ(fp16_to_fp32(h[0]), 1.0f);
  EXPECT_EQ(fp16_to_fp32(h[1]), -2.0f);
  EXPECT_EQ(fp16_to_fp32(h[2]), 0.5f);

  const auto bb = s.read(s.find("b"));
  ASSERT_EQ(bb.size(), 4u);
  uint16_t b[2];
  std::memcpy(b, bb.data(), 4);
  EXPECT_EQ(s.tensors()[s.find("b")].dtype, DType::BF16);
  EXPECT_EQ(b[0], 0x3F80);  // 1.0
  EXPECT_EQ(b[1], 0x4040);  // 3.0

  const auto lb = s.read(s.find("l"));
  ASSERT_EQ(lb.size(), 32u);
  int64_t l[4];
  std::memcpy(l, lb.data(), 32);
  EXPECT_EQ(s.tensors()[s.find("l")].dtype, DType::I64);
  EXPECT_EQ(l[1], -2);
  EXPECT_EQ(l[3], int64_t{1} << 40);
}

TEST_F(PytorchReader, ReadsZipCheckpoint) {
  auto s = open_pytorch_checkpoint(path("zip.pt"));
  EXPECT_EQ(s->format_description(), "PyTorch zip checkpoint (torch.save >= 1.6)");
  check_state_dict(*s);
  // Contiguous tensors are views into the file at 64-byte aligned records.
  EXPECT_EQ(s->tensors()[s->find("a")].offset % 64, 0u);
  EXPECT_EQ(s->metadata()["archive_name"], "zip");
  EXPECT_EQ(s->metadata()["format"], "pytorch-zip");
}

TEST_F(PytorchReader, ReadsLegacyCheckpoint) {
  auto s = open_pytorch_checkpoint(path("legacy.pt"));
  EXPECT_EQ(s->format_description(), "PyTorch legacy checkpoint (torch.save < 1.6)");
  check_state_dict(*s);
  EXPECT_TRUE(s->warnings().empty());
}

TEST_F(PytorchReader, FlattensNestedCheckpoints) {
  auto s = open_pytorch_checkpoint(path("nested.pt"));
  ASSERT_EQ(s->tensors().size(), 2u);
  EXPECT_EQ(s->tensors()[0].name, "state_dict.layer.w");
  EXPECT_EQ(s->tensors()[1].name, "opt.0");
  EXPECT_EQ(f32(*s, "opt.0"), (std::vector<float>{1, 1}));
  const auto v = s->metadata()["values"];
  EXPECT_EQ(v["epoch"], 3);
  EXPECT_EQ(v["lr"], 0.5);
  EXPECT_EQ(v["name"], "run-1");
  EXPECT_EQ(v["hist.1"], 2);
}

TEST_F(PytorchReader, AcceptsLittleByteorderRecord) {
  auto s = open_pytorch_checkpoint(path("little.pt"));
  check_state_dict(*s);
}

TEST_F(PytorchReader, RefusesHostileAndBrokenFiles) {
  EXPECT_NE(error_of(path("evil.pt")).find("refusing to load: the pickle references 'posix.system', which is not an allowed global"), std::string::npos);
  EXPECT_NE(error_of(path("script.pt")).find("TorchScript"), std::string::npos);
  EXPECT_NE(error_of(path("big.pt")).find("big-endian"), std::string::npos);
  EXPECT_NE(error_of(path("missing.pt")).find("has no record 'zip/data/1'"), std::string::npos);
  EXPECT_NE(error_of(path("short.pt")).find("declares 24 bytes but its record has 8"), std::string::npos);
  EXPECT_NE(error_of(path("outside.pt")).find("outside the archive folder"), std::string::npos);
  EXPECT_NE(error_of(path("deflated.pt")).find("is compressed (method 8); only stored entries are supported"), std::string::npos);
}

TEST_F(PytorchReader, TruncatedFilesFailCleanly) {
  for (const char* name : {"zip.pt", "legacy.pt"}) {
    std::ifstream in(path(name), std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), {});
    const std::string cut = path("cut.pt");
    for (size_t n = 0; n < all.size(); n += (n < 64 ? 1 : 7)) {
      std::ofstream(cut, std::ios::binary | std::ios::trunc).write(all.data(), static_cast<std::streamsize>(n));
      EXPECT_THROW(open_pytorch_checkpoint(cut), Error) << name << " cut at " << n;
    }
  }
}

}  // namespace
}  // namespace lmforge
