// The ONNX sink: any tensor source -> a weights-only ONNX file, inline or with external data,
// with the llama config stored as metadata when the source is a whole llama.
#include "convert/sinks/onnx_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "convert/sinks/gguf_sink.h"
#include "convert/tiny_llama.h"
#include "formats/onnx/onnx_reader.h"
#include "formats/onnx/onnx_source.h"
#include "formats/safetensors_writer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

class OnnxSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge_onnx_sink_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::vector<uint8_t> read_all(const TensorSource& s, const std::string& name) {
    const auto i = s.find(name);
    EXPECT_GE(i, 0) << name;
    auto b = s.read(static_cast<size_t>(i));
    return {b.data(), b.data() + b.size()};
  }
  fs::path dir_;
};

TEST_F(OnnxSinkTest, SafetensorsRoundTripInlineAndExternal) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<uint8_t> a_bytes(reinterpret_cast<const uint8_t*>(a.data()), reinterpret_cast<const uint8_t*>(a.data()) + 24);
  std::vector<TensorToWrite> ts(2);
  ts[0].info.name = "a";
  ts[0].info.dtype = DType::F32;
  ts[0].info.shape = {2, 3};
  ts[0].info.nbytes = 24;
  ts[0].produce = [&] { return TensorBytes(a_bytes); };
  ts[1].info.name = "b";
  ts[1].info.dtype = DType::I64;
  ts[1].info.shape = {1};
  ts[1].info.nbytes = 8;
  ts[1].produce = [] { return TensorBytes(std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 0}); };
  const std::string src = (dir_ / "src.safetensors").string();
  write_safetensors(src, ts, {}, false);
  ConvertOptions opt;
  opt.quiet = true;
  for (uint64_t threshold : {uint64_t{2147483647}, uint64_t{0}}) {
    const std::string dst = (dir_ / ("out" + std::to_string(threshold) + ".onnx")).string();
    const ConvertReport rep = convert_to_onnx(src, dst, opt, OnnxWriteOptions{threshold});
    EXPECT_EQ(rep.tensors, 2u);
    EXPECT_EQ(rep.bytes_read, 32u);
    EXPECT_EQ(rep.bytes_written, fs::file_size(dst) + (threshold == 0 ? fs::file_size(dst + ".data") : 0));
    auto s = OnnxSource::open(dst);
    ASSERT_EQ(s->tensors().size(), 2u);
    EXPECT_EQ(read_all(*s, "a"), a_bytes);
    EXPECT_EQ(read_all(*s, "b"), (std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(fs::exists(dst + ".data"), threshold == 0);
    EXPECT_EQ(s->metadata_value(std::string(kOnnxLlamaConfigKey)), nullptr);  // not a llama
  }
  opt.outtype = DType::F16;
  convert_to_onnx(src, (dir_ / "f16.onnx").string(), opt, OnnxWriteOptions{});
  auto h = OnnxSource::open((dir_ / "f16.onnx").string());
  EXPECT_EQ(h->tensors()[static_cast<size_t>(h->find("a"))].dtype, DType::F16);
  EXPECT_EQ(h->tensors()[static_cast<size_t>(h->find("b"))].dtype, DType::I64);  // not a float: kept
}

TEST_F(OnnxSinkTest, LlamaGgufCarriesItsConfig) {
  LlamaModelSource m = tiny_llama_model();
  ConvertOptions opt;
  opt.quiet = true;
  opt.outtype = DType::F32;
  const std::string gguf = (dir_ / "tiny.gguf").string();
  write_llama_gguf(m, gguf, opt);
  opt.outtype.reset();
  convert_to_onnx(gguf, (dir_ / "tiny.onnx").string(), opt, OnnxWriteOptions{});
  auto s = OnnxSource::open((dir_ / "tiny.onnx").string());
  const std::string* config = s->metadata_value(std::string(kOnnxLlamaConfigKey));
  ASSERT_NE(config, nullptr);
  EXPECT_NE(config->find("\"num_key_value_heads\": 1"), std::string::npos) << *config;
  EXPECT_GE(s->find("blk.0.attn_q.weight"), 0);
}

}  // namespace
}  // namespace lmforge
