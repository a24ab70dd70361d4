#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/safetensors_reader.h"
#include "formats/safetensors_writer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lmforge_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file of: 8-byte little-endian header length, the header text as given, then `data`.
  std::string make(const std::string& header, const std::vector<uint8_t>& data = {},
                   std::optional<uint64_t> declared_len = std::nullopt) {
    const std::string path = (dir_ / ("f" + std::to_string(counter_++) + ".safetensors")).string();
    std::ofstream f(path, std::ios::binary);
    const uint64_t n = declared_len.value_or(header.size());
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return path;
  }

  // Expects open_safetensors to throw an lmforge::Error whose message contains `needle`.
  void expect_error(const std::string& path, const std::string& needle) {
    try {
      open_safetensors(path);
      ADD_FAILURE() << "no error for " << path << ", expected '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(e.file(), path);
      EXPECT_TRUE(e.offset().has_value()) << e.what();
    }
  }

  fs::path dir_;
  int counter_ = 0;
};

const std::vector<uint8_t> k8(8, 0);

TEST_F(SafetensorsTest, ReadsValidFile) {
  std::vector<uint8_t> data(14);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  auto p = make(
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      data);
  auto src = open_safetensors(p);
  EXPECT_EQ(src->format_description(), "safetensors");
  ASSERT_EQ(src->tensors().size(), 2u);
  const auto& a = src->tensors()[0];  // data order
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<uint64_t>{2}));
  EXPECT_EQ(a.nbytes, 8u);
  EXPECT_EQ(a.file, p);
  const uint64_t header_len = fs::file_size(p) - 14 - 8;
  EXPECT_EQ(a.offset, 8 + header_len);
  EXPECT_EQ(src->tensors()[1].offset, 8 + header_len + 8);
  auto b = src->read(1);
  ASSERT_EQ(b.size(), 6u);
  EXPECT_EQ(b.bytes()[0], 8);
  EXPECT_EQ(b.bytes()[5], 13);
  EXPECT_EQ(src->metadata()["__metadata__"]["format"], "pt");
}

TEST_F(SafetensorsTest, AcceptsScalarsEmptyTensorsNullMetadataAndWhitespace) {
  auto p = make(R"( {"__metadata__":null,"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                R"("e":{"dtype":"F32","shape":[0,4],"data_offsets":[8,8]}}   )",
                k8);
  auto src = open_safetensors(p);
  ASSERT_EQ(src->tensors().size(), 2u);
  EXPECT_EQ(src->read(src->find("e")).size(), 0u);
  EXPECT_TRUE(src->tensors()[src->find("s")].shape.empty());
}

TEST_F(SafetensorsTest, RejectsTooSmallFile) {
  const std::string path = (dir_ / "small").string();
  std::ofstream(path, std::ios::binary).write("\x02\0\0\0", 4);
  expect_error(path, "too small");
}

TEST_F(SafetensorsTest, RejectsHugeHeaderLength) {
  expect_error(make("{}", {}, 100'000'001ull), "more than the limit");
  expect_error(make("{}", {}, ~0ull), "more than the limit");
}

TEST_F(SafetensorsTest, RejectsHeaderPastEnd) {
  expect_error(make("{}", {}, 3), "past the end");
}

TEST_F(SafetensorsTest, RejectsInvalidUtf8) {
  expect_error(make("{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", {1}),
               "UTF-8");
  // An overlong encoding of '/' and an encoded surrogate.
  expect_error(make("{\"\xc0\xaf\":{}}"), "UTF-8");
  expect_error(make("{\"\xed\xa0\x80\":{}}"), "UTF-8");
}

TEST_F(SafetensorsTest, RejectsInvalidJson) {
  expect_error(make("{\"a\":"), "invalid JSON");
  expect_error(make("[1,2]"), "not a JSON object");
  expect_error(make("{} {}"), "invalid JSON");
}

TEST_F(SafetensorsTest, RejectsDuplicateKeys) {
  // Identical duplicates would pass every offset rule; they must still be refused.
  const std::string e = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
  expect_error(make("{\"a\":" + e + ",\"a\":" + e + "}", {1}), "duplicate JSON key 'a'");
  expect_error(make(R"({"__metadata__":{},"__metadata__":{}})"), "duplicate JSON key");
  expect_error(make(R"({"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {1}),
               "duplicate JSON key 'dtype'");
}

TEST_F(SafetensorsTest, RejectsWrongEntrySchema) {
  expect_error(make(R"({"a":{"dtype":"U8","shape":[1]}})", {1}), "missing 'data_offsets'");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}})", {1}),
               "unexpected field 'x'");
  expect_error(make(R"({"a":[1]})"), "not a JSON object");
  expect_error(make(R"({"a":{"dtype":1,"shape":[1],"data_offsets":[0,1]}})", {1}), "not a string");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", {1}),
               "non-negative");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}})", {1}),
               "non-negative");
  expect_error(make(R"({"a":{"dtype":"U8","shape":"1","data_offsets":[0,1]}})", {1}),
               "not an array");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", {1}),
               "two non-negative");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,"1"]}})", {1}),
               "two non-negative");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", {1}),
               "two non-negative");
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  expect_error(make(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", {1}),
               "unknown dtype 'Q4'");
  expect_error(make(R"({"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", {1}),
               "does not support");
}

TEST_F(SafetensorsTest, RejectsSizeMismatchAndOverflow) {
  expect_error(make(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", k8),
               "tensor 'a' has shape [3]");
  expect_error(
      make(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", k8),
      "overflows");
  expect_error(
      make(R"({"a":{"dtype":"F64","shape":[1152921504606846976,2],"data_offsets":[0,8]}})", k8),
      "overflows");
  expect_error(make(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}})"),
               "end before they begin");
}

TEST_F(SafetensorsTest, RejectsGapsOverlapsAndNonZeroStart) {
  const auto u8 = [](int b, int e) {
    return R"({"dtype":"U8","shape":[)" + std::to_string(e - b) + R"(],"data_offsets":[)" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  expect_error(make("{\"a\":" + u8(1, 2) + "}", {0, 0}), "tensor 'a' data_offsets begin at 1");
  expect_error(make("{\"a\":" + u8(0, 2) + ",\"b\":" + u8(3, 4) + "}", {0, 0, 0, 0}), "contiguous");
  expect_error(make("{\"a\":" + u8(0, 4) + ",\"b\":" + u8(2, 4) + "}", {0, 0, 0, 0}), "contiguous");
  // Two names aliasing the same bytes.
  expect_error(make("{\"a\":" + u8(0, 4) + ",\"b\":" + u8(0, 4) + "}", {0, 0, 0, 0}), "contiguous");
}

TEST_F(SafetensorsTest, RejectsTrailingAndMissingBytes) {
  const std::string h = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
  expect_error(make(h, {1, 2, 3}), "no trailing bytes");
  expect_error(make(h, {1}), "past the end");
  expect_error(make("{}", {1}), "no trailing bytes");
}

TEST_F(SafetensorsTest, RejectsBadMetadata) {
  expect_error(make(R"({"__metadata__":{"a":1}})"), "not a string");
  expect_error(make(R"({"__metadata__":{"a":{"b":"c"}}})"), "not a string");
  expect_error(make(R"({"__metadata__":[]})"), "not a JSON object");
}

TEST_F(SafetensorsTest, RejectsControlCharactersAndEmptyNames) {
  expect_error(
      make("{\"a\\u0000hidden\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", {1}),
      "control character");
  expect_error(make("{\"a\\nb\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", {1}),
               "control character");
  expect_error(make(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {1}), "empty");
}

TEST_F(SafetensorsTest, RejectsDeepNestingAndHighRank) {
  expect_error(make(R"({"__metadata__":{"a":[[[[[[[[[[[[1]]]]]]]]]]]]}})"), "nesting");
  expect_error(
      make(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", {1}),
      "rank 9");
}

TensorToWrite make_tensor(const std::string& name, DType dt, std::vector<uint64_t> shape,
                          uint8_t fill) {
  TensorToWrite t;
  t.info.name = name;
  t.info.dtype = dt;
  t.info.shape = std::move(shape);
  t.info.nbytes = *dtype_nbytes(dt, t.info.numel());
  const uint64_t n = t.info.nbytes;
  t.produce = [n, fill] {
    std::vector<uint8_t> v(n);
    for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(fill + i);
    return TensorBytes(std::move(v));
  };
  return t;
}

TEST_F(SafetensorsTest, WriterRoundTrip) {
  std::vector<TensorToWrite> ts = {
      make_tensor("z.weight", DType::F16, {3}, 1), make_tensor("a.weight", DType::F32, {2, 3}, 50),
      make_tensor("scalar", DType::BF16, {}, 7), make_tensor("empty", DType::F32, {0}, 0)};
  const std::string p = (dir_ / "out.safetensors").string();
  write_safetensors(p, ts, {{"format", "pt"}}, false);

  // Header starts with '{' and data starts 8-aligned.
  std::ifstream f(p, std::ios::binary);
  uint8_t len[9];
  f.read(reinterpret_cast<char*>(len), 9);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | len[i];
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(len[8], '{');

  auto src = open_safetensors(p);
  ASSERT_EQ(src->tensors().size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = src->tensors()[i];  // the writer keeps the given order
    EXPECT_EQ(t.name, ts[i].info.name);
    EXPECT_EQ(t.dtype, ts[i].info.dtype);
    EXPECT_EQ(t.shape, ts[i].info.shape);
    EXPECT_EQ(t.offset % 2, 0u);
    auto want = ts[i].produce();
    auto got = src->read(i);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_TRUE(std::equal(got.bytes().begin(), got.bytes().end(), want.bytes().begin()));
  }
  EXPECT_EQ(src->metadata()["__metadata__"]["format"], "pt");

  // Refuses to overwrite unless asked.
  EXPECT_THROW(write_safetensors(p, ts, {}, false), Error);
  write_safetensors(p, ts, {}, true);
  EXPECT_EQ(open_safetensors(p)->metadata()["__metadata__"].size(), 0u);
}

TEST_F(SafetensorsTest, WriterRejectsBadInput) {
  const std::string p = (dir_ / "bad.safetensors").string();
  auto t = make_tensor("a", DType::F32, {2}, 0);
  EXPECT_THROW(write_safetensors(p, {t, t}, {}, false), Error);  // duplicate name
  auto wrong = t;
  wrong.info.nbytes = 7;
  EXPECT_THROW(write_safetensors(p, {wrong}, {}, false), Error);
  auto q = make_tensor("q", DType::Q8_0, {32}, 0);
  EXPECT_THROW(write_safetensors(p, {q}, {}, false), Error);  // no safetensors dtype
  auto short_producer = t;
  short_producer.produce = [] { return TensorBytes(std::vector<uint8_t>(3)); };
  EXPECT_THROW(write_safetensors(p, {short_producer}, {}, false), Error);
  EXPECT_FALSE(fs::exists(p));  // nothing half-written is left behind
  auto ctl = make_tensor(std::string("a\0b", 3), DType::F32, {1}, 0);
  EXPECT_THROW(write_safetensors(p, {ctl}, {}, false), Error);
}

TEST_F(SafetensorsTest, ShardedWriter) {
  std::vector<TensorToWrite> ts;
  for (int i = 0; i < 5; ++i)
    ts.push_back(make_tensor("t" + std::to_string(i), DType::F32, {4}, static_cast<uint8_t>(i)));
  auto names = write_safetensors_sharded(dir_.string(), ts, {{"format", "pt"}}, 40, false);
  ASSERT_EQ(names.size(), 4u);  // 16+16 | 16+16 | 16, then the index
  EXPECT_EQ(names[0], "model-00001-of-00003.safetensors");
  EXPECT_EQ(names[2], "model-00003-of-00003.safetensors");
  EXPECT_EQ(names[3], "model.safetensors.index.json");
  std::ifstream f(dir_ / names[3]);
  auto index = nlohmann::json::parse(f);
  EXPECT_EQ(index["metadata"]["total_size"], 80);
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00003.safetensors");
  EXPECT_EQ(open_safetensors((dir_ / names[1]).string())->tensors().size(), 2u);
  EXPECT_THROW(write_safetensors_sharded(dir_.string(), ts, {}, 40, false), Error);

  fs::path single = dir_ / "single";
  fs::create_directories(single);
  names = write_safetensors_sharded(single.string(), ts, {}, 1000, false);
  ASSERT_EQ(names, std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(open_safetensors((single / names[0]).string())->tensors().size(), 5u);
}

}  // namespace
}  // namespace lmforge
