// ONNX llama sources: a single .onnx file with tokenizer.model beside it, and an export folder
// as optimum writes it (model.onnx, config.json, tokenizer files) taken as a whole model.
#include "convert/sources/onnx_llama_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "arch/llama/llama_config_json.h"
#include "convert/sinks/gguf_sink.h"
#include "convert/sinks/onnx_sink.h"
#include "convert/sources/open_llama_model_source.h"
#include "convert/tiny_llama.h"
#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/sentencepiece_model_writer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

class OnnxLlamaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge_onnx_llama_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "export");
    // The tiny llama as lmforge writes it to ONNX (GGUF names, config in the metadata), plus
    // an optimum-like folder around the same model file.
    LlamaModelSource m = tiny_llama_model();
    config_ = m.config;
    ConvertOptions opt;
    opt.quiet = true;
    opt.outtype = DType::F32;
    gguf_ = (dir_ / "tiny.gguf").string();
    write_llama_gguf(m, gguf_, opt);
    opt.outtype.reset();
    convert_to_onnx(gguf_, (dir_ / "export" / "model.onnx").string(), opt, OnnxWriteOptions{});
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / "export" / name, std::ios::binary) << text; }
  void write_tokenizer_model() {
    SentencePieceModel spm;
    spm.pieces = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}, {"\xE2\x96\x81hi", -1.5f, 1}};
    const auto bytes = serialize_sentencepiece_model(spm);
    write("tokenizer.model", std::string(bytes.begin(), bytes.end()));
  }
  static std::optional<uint64_t> kv_u32(const LlamaModelSource& m, const std::string& key) {
    for (const auto& kv : m.tokenizer_kvs)
      if (kv.key == key) return kv.value.as_uint();
    return std::nullopt;
  }

  fs::path dir_;
  std::string gguf_;
  LlamaConfig config_;
};

TEST_F(OnnxLlamaSourceTest, ExportFolderIsAWholeModel) {
  write("config.json", llama_config_to_json(config_).dump(2));
  write_tokenizer_model();
  // The folder's tokenizer_config.json names the special tokens: here an unusual eos, to see
  // that it is read (tokenizer.model alone says eos is id 2).
  write("tokenizer_config.json", R"({"bos_token": "<s>", "eos_token": "\u2581hi"})");
  write("tokenizer.json", "{}");  // optimum writes it too; tokenizer.model is what is read

  LlamaModelSource m = open_llama_model_source((dir_ / "export").string());
  EXPECT_EQ(m.naming, LlamaNaming::kGguf);  // lmforge wrote GGUF names
  EXPECT_EQ(m.config.num_key_value_heads, 1u);
  EXPECT_EQ(m.config.head_dim, 16u);
  EXPECT_EQ(m.name, "export");
  ASSERT_TRUE(m.spm);
  EXPECT_EQ(kv_u32(m, "tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(kv_u32(m, "tokenizer.ggml.eos_token_id"), 3u);

  // Converted again, it holds the tensors of the GGUF it came from.
  ConvertOptions opt;
  opt.quiet = true;
  opt.outtype = DType::F32;
  const std::string again = (dir_ / "again.gguf").string();
  write_llama_gguf(m, again, opt);
  auto a = GgufReader::open(gguf_), b = GgufReader::open(again);
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    EXPECT_EQ(a->tensors()[i].name, b->tensors()[i].name);
    const TensorBytes x = a->read(i), y = b->read(i);
    EXPECT_EQ(std::vector<uint8_t>(x.data(), x.data() + x.size()), std::vector<uint8_t>(y.data(), y.data() + y.size())) << a->tensors()[i].name;
  }
}

TEST_F(OnnxLlamaSourceTest, ExportFolderSaysWhatIsMissing) {
  const std::string d = (dir_ / "export").string();
  auto error_of = [&] {
    try {
      (void)open_onnx_llama_folder(d);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of().find("no config.json"), std::string::npos) << error_of();
  write("config.json", llama_config_to_json(config_).dump(2));
  EXPECT_NE(error_of().find("no tokenizer.model"), std::string::npos) << error_of();
  write("tokenizer.json", "{}");
  EXPECT_NE(error_of().find("has tokenizer.json but no tokenizer.model"), std::string::npos) << error_of();
  write_tokenizer_model();
  EXPECT_EQ(error_of(), "no error");
}

TEST_F(OnnxLlamaSourceTest, SingleFileTakesTheTokenizerBesideIt) {
  write_tokenizer_model();
  write("tokenizer_config.json", R"({"eos_token": "\u2581hi"})");  // a folder's file: not read for a single .onnx
  LlamaModelSource m = open_llama_model_source((dir_ / "export" / "model.onnx").string());
  EXPECT_EQ(m.name, "model");
  EXPECT_EQ(m.config.num_key_value_heads, 1u);  // from lmforge's metadata entry
  EXPECT_EQ(kv_u32(m, "tokenizer.ggml.eos_token_id"), 2u);
}

}  // namespace
}  // namespace lmforge
