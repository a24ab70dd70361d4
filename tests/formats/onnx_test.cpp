// Unit tests of the ONNX reader and writer on hand-encoded protobuf bytes. The oracle check
// (tests/oracles/check_onnx.py) compares against python3-onnx; these pin the edge cases:
// packed and unpacked repeated fields, every refusal, external data bounds and locations.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/onnx/onnx_proto.h"
#include "formats/onnx/onnx_reader.h"
#include "formats/onnx/onnx_source.h"
#include "formats/onnx/onnx_writer.h"
#include "formats/detect/sniff.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

// Protobuf encoding written out for the tests (field << 3 | wire type; varints LSB first).
std::string varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}
std::string vfield(uint32_t n, uint64_t v) { return varint(n << 3) + varint(v); }
std::string lfield(uint32_t n, const std::string& b) { return varint((n << 3) | 2) + varint(b.size()) + b; }
std::string f32field(uint32_t n, float x) {
  std::string s = varint((n << 3) | 5);
  char b[4];
  std::memcpy(b, &x, 4);
  return s + std::string(b, 4);
}
std::string bytes_of(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }
std::string entry(const std::string& k, const std::string& v) { return lfield(1, k) + lfield(2, v); }

// A TensorProto: dims (unpacked), data_type, name, then `values` (already encoded fields).
std::string tensor(const std::string& name, int32_t type, std::vector<uint64_t> dims, const std::string& values) {
  std::string t;
  for (uint64_t d : dims) t += vfield(1, d);
  return t + vfield(2, static_cast<uint64_t>(type)) + lfield(8, name) + values;
}
std::string model(const std::string& graph_fields) {
  return vfield(1, 8) + lfield(2, "test") + lfield(7, lfield(2, "g") + graph_fields) + lfield(8, vfield(2, 17));
}
std::string init(const std::string& t) { return lfield(5, t); }

class OnnxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge_onnx_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "m");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  static std::vector<uint8_t> read_all(const TensorSource& s, const std::string& name) {
    const auto i = s.find(name);
    EXPECT_GE(i, 0) << name;
    auto b = s.read(static_cast<size_t>(i));
    return {b.data(), b.data() + b.size()};
  }
  void expect_refused(const std::string& bytes, const std::string& needle) {
    const std::string p = write("m/bad.onnx", bytes);
    try {
      auto s = open_onnx(p);
      for (size_t i = 0; i < s->tensors().size(); ++i) (void)s->read(i);
      FAIL() << "accepted; expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
    }
  }
  fs::path dir_;
};

TEST_F(OnnxTest, ReadsRawAndTypedFieldsPackedAndUnpacked) {
  const std::vector<float> f = {1.5f, -2.0f, 3.25f};
  std::string g;
  g += init(tensor("raw", 1, {3}, lfield(9, bytes_of(f))));
  g += init(tensor("packed_float", 1, {3}, lfield(4, bytes_of(f))));
  g += init(tensor("unpacked_float", 1, {3}, f32field(4, 1.5f) + f32field(4, -2.0f) + f32field(4, 3.25f)));
  // FLOAT16 bit patterns in int32_data (1.0 = 0x3C00, -2.0 = 0xC000), split over two fields.
  g += init(tensor("f16", 10, {2}, lfield(5, varint(0x3C00)) + vfield(5, 0xC000)));
  // int64 -1 is ten bytes of varint; int8 -3 travels sign-extended in int32_data.
  g += init(tensor("i64", 7, {2}, lfield(7, varint(~0ull) + varint(5))));
  g += init(tensor("i8", 3, {1}, vfield(5, static_cast<uint64_t>(int64_t{-3}))));
  const std::string p = write("m/a.onnx", model(g));
  EXPECT_TRUE(sniff_onnx(p));
  auto s = open_onnx(p);
  ASSERT_EQ(s->tensors().size(), 6u);
  const auto raw = read_all(*s, "raw");
  EXPECT_EQ(read_all(*s, "packed_float"), raw);
  EXPECT_EQ(read_all(*s, "unpacked_float"), raw);
  EXPECT_EQ(read_all(*s, "f16"), (std::vector<uint8_t>{0x00, 0x3C, 0x00, 0xC0}));
  const auto i64 = read_all(*s, "i64");
  int64_t v[2];
  std::memcpy(v, i64.data(), 16);
  EXPECT_EQ(v[0], -1);
  EXPECT_EQ(v[1], 5);
  EXPECT_EQ(read_all(*s, "i8"), (std::vector<uint8_t>{0xFD}));
}

TEST_F(OnnxTest, SniffRejectsOtherProtobufs) {
  // SentencePiece ModelProto: field 1 is a repeated message (pieces).
  EXPECT_FALSE(sniff_onnx(write("spm.model", lfield(1, lfield(1, "a") + f32field(2, 0.f)) + lfield(2, vfield(3, 1)))));
  // An ONNX TensorProto (test_data_set input_0.pb): dims then data_type varint.
  EXPECT_FALSE(sniff_onnx(write("t.pb", tensor("x", 1, {1}, lfield(9, bytes_of({1.f}))))));
  // A GraphDef: field 1 = node messages.
  EXPECT_FALSE(sniff_onnx(write("g.pb", lfield(1, lfield(1, "n") + lfield(2, "Const")))));
  // No graph.
  EXPECT_FALSE(sniff_onnx(write("nograph.onnx", vfield(1, 8) + lfield(2, "x"))));
  EXPECT_FALSE(sniff_onnx(write("empty.onnx", "")));
}

TEST_F(OnnxTest, RefusesInconsistentTensors) {
  const std::string four = bytes_of({1, 2, 3, 4});
  expect_refused(model(init(tensor("w", 1, {3}, lfield(9, four)))), "raw_data holds 16 bytes");
  expect_refused(model(init(tensor("w", 1, {4}, lfield(9, four) + lfield(4, four)))), "both");
  expect_refused(model(init(tensor("w", 1, {5}, lfield(4, four)))), "has 4 values");
  expect_refused(model(init(tensor("w", 1, {}, "") + vfield(1, static_cast<uint64_t>(int64_t{-1})))), "negative");
  expect_refused(model(init(tensor("w", 1, {4}, lfield(9, four))) + init(tensor("w", 1, {4}, lfield(9, four)))), "two tensors");
  expect_refused(model(init(tensor("w", 1, {4}, lfield(5, varint(1) + varint(2) + varint(3) + varint(4))))), "cannot use int32_data");
  expect_refused(model(init(tensor("w", 3, {1}, vfield(5, 300)))), "does not fit");
  expect_refused(model(init(tensor("w", 1, {1ull << 62, 1ull << 62}, ""))), "overflow");
  expect_refused(model(init(tensor("w", 1, {4}, lfield(9, four) + vfield(14, 1) + lfield(13, entry("location", "d.bin"))))), "EXTERNAL but");
  expect_refused(model(init(tensor("w", 1, {4}, vfield(14, 1) + lfield(13, entry("location", "d.bin")) + lfield(13, entry("evil", "1"))))),
                 "unknown external_data key");
  const std::string m = model(init(tensor("w", 1, {4}, lfield(9, four))));
  expect_refused(m.substr(0, m.size() - 10), "");  // truncated: any clean error
}

TEST_F(OnnxTest, LimitsSubgraphDepth) {
  // Nodes whose attribute holds a graph holding such a node, nested too deep.
  std::string g = init(tensor("w", 1, {1}, lfield(9, bytes_of({1.f}))));
  for (int i = 0; i < onnx::kMaxGraphDepth + 2; ++i) g = lfield(1, lfield(4, "If") + lfield(5, lfield(1, "then_branch") + lfield(6, g)));
  expect_refused(model(g), "nested");
}

TEST_F(OnnxTest, ExternalDataLocationsAndBounds) {
  const std::vector<float> vals = {1, 2, 3, 4};
  write("m/d.bin", bytes_of(vals) + bytes_of(vals));
  write("secret.bin", bytes_of(vals));
  fs::create_symlink(dir_ / "secret.bin", dir_ / "m" / "link.bin");
  fs::create_symlink(dir_ / "m" / "d.bin", dir_ / "m" / "inner_link.bin");
  auto ext = [&](const std::string& loc, std::optional<uint64_t> off, std::optional<uint64_t> len) {
    std::string v = vfield(14, 1) + lfield(13, entry("location", loc));
    if (off) v += lfield(13, entry("offset", std::to_string(*off)));
    if (len) v += lfield(13, entry("length", std::to_string(*len)));
    return model(init(tensor("w", 1, {4}, v)));
  };
  auto s = open_onnx(write("m/ok.onnx", ext("d.bin", 16, 16)));
  EXPECT_EQ(read_all(*s, "w"), std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(vals.data()), reinterpret_cast<const uint8_t*>(vals.data()) + 16));
  EXPECT_NO_THROW(open_onnx(write("m/ok2.onnx", ext("inner_link.bin", 0, 16))));  // a symlink that stays inside
  expect_refused(ext("../secret.bin", 0, 16), "'..'");
  expect_refused(ext("x/../../secret.bin", 0, 16), "'..'");
  expect_refused(ext((dir_ / "secret.bin").string(), 0, 16), "absolute");
  expect_refused(ext("link.bin", 0, 16), "outside the model's folder");
  expect_refused(ext("", 0, 16), "empty location");
  expect_refused(ext("#x", 0, 16), "'#'");
  expect_refused(ext("d.bin", 33, std::nullopt), "past the end");
  expect_refused(ext("d.bin", 24, 16), "past the end");
  expect_refused(ext("d.bin", 0, 12), "length 12");
  EXPECT_NO_THROW(open_onnx(write("m/rest.onnx", ext("d.bin", 16, std::nullopt))));  // no length: the rest of the file
  expect_refused(ext("d.bin", 0, std::nullopt), "length 32");
}

TEST_F(OnnxTest, InitializerWriterRoundTripsInlineAndExternal) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<TensorToWrite> ts(2);
  ts[0].info.name = "a";
  ts[0].info.dtype = DType::F32;
  ts[0].info.shape = {2, 3};
  ts[0].info.nbytes = 24;
  ts[0].produce = [&] { return TensorBytes(std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(a.data()), reinterpret_cast<const uint8_t*>(a.data()) + 24)); };
  ts[1].info.name = "b";
  ts[1].info.dtype = DType::I64;
  ts[1].info.shape = {1};
  ts[1].info.nbytes = 8;
  ts[1].produce = [] { return TensorBytes(std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 0}); };
  for (uint64_t threshold : {uint64_t{2147483647}, uint64_t{0}}) {
    const std::string dst = (dir_ / ("out" + std::to_string(threshold) + ".onnx")).string();
    const std::string data = write_onnx_initializers(dst, ts, {{"k", "v"}}, OnnxWriteOptions{threshold}, false);
    EXPECT_EQ(data, threshold == 0 ? dst + ".data" : "");
    EXPECT_TRUE(sniff_onnx(dst));
    auto src = OnnxSource::open(dst);
    ASSERT_NE(src->metadata_value("k"), nullptr);
    EXPECT_EQ(*src->metadata_value("k"), "v");
    EXPECT_EQ(src->metadata_value("lmforge.llama_config"), nullptr);  // the container adds nothing of its own
    auto s = open_onnx(dst);
    ASSERT_EQ(s->tensors().size(), 2u);
    EXPECT_EQ(s->tensors()[0].shape, (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(read_all(*s, "a"), std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(a.data()), reinterpret_cast<const uint8_t*>(a.data()) + 24));
    EXPECT_EQ(read_all(*s, "b"), (std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(fs::exists(dst + ".data"), threshold == 0);
    if (threshold == 0) {
      EXPECT_EQ(s->tensors()[1].offset % 4096, 0u);
      EXPECT_GT(s->tensors()[1].offset, 0u);
    }
  }
}

TEST_F(OnnxTest, ExportFolderIsSniffedByItsFiles) {
  // An optimum-like folder: model.onnx beside config.json and tokenizer files, no HF weights.
  const fs::path d = dir_ / "export";
  fs::create_directories(d);
  std::ofstream(d / "config.json") << "{}";
  std::ofstream(d / "tokenizer.json") << "{}";
  EXPECT_EQ(onnx_folder_model(d.string()), std::nullopt);
  EXPECT_EQ(sniff_format(d.string()), FileFormat::kHfFolder);  // says "no weights found" when opened
  const std::string onnx = model(init(tensor("w", 1, {2}, lfield(9, bytes_of({1, 2})))));
  std::ofstream((d / "model.onnx").string(), std::ios::binary) << onnx;
  EXPECT_EQ(onnx_folder_model(d.string()), (d / "model.onnx").string());
  EXPECT_EQ(sniff_format(d.string()), FileFormat::kOnnxFolder);
  EXPECT_EQ(file_format_name(FileFormat::kOnnxFolder), "onnx-folder");
  // Safetensors weights beside it make it a Hugging Face folder again.
  std::ofstream(d / "model.safetensors") << "x";
  EXPECT_EQ(sniff_format(d.string()), FileFormat::kHfFolder);
  fs::remove(d / "model.safetensors");
  // A file named model.onnx that is not ONNX does not make an export folder.
  std::ofstream(d / "model.onnx", std::ios::trunc) << "not protobuf";
  EXPECT_EQ(sniff_format(d.string()), FileFormat::kHfFolder);
  // Older optimum exports name the decoder.
  std::ofstream((d / "decoder_model_merged.onnx").string(), std::ios::binary) << onnx;
  EXPECT_EQ(onnx_folder_model(d.string()), (d / "decoder_model_merged.onnx").string());
}

}  // namespace
}  // namespace lmforge
