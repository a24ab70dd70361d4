#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/half.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge-gguf-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& n) const { return (dir_ / n).string(); }
  fs::path dir_;
};

// Little-endian byte builder for hand-made headers.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    uint8_t x[sizeof(T)];
    std::memcpy(x, &v, sizeof(T));
    b.insert(b.end(), x, x + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(const char* s, size_t n) {
    b.insert(b.end(), s, s + n);
    return *this;
  }
};

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufReader::parse(bytes, "t.gguf", nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TensorBytes f32_bytes(std::vector<float> v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return TensorBytes(std::move(b));
}

TEST_F(GgufTest, WriterOutputReadsBackWithEveryValueType) {
  GgufWriter w;
  GgufValue u8; u8.type = GgufType::UINT8; u8.u = 200;
  GgufValue i8; i8.type = GgufType::INT8; i8.i = -100;
  GgufValue u16; u16.type = GgufType::UINT16; u16.u = 60000;
  GgufValue i16; i16.type = GgufType::INT16; i16.i = -30000;
  GgufValue u64; u64.type = GgufType::UINT64; u64.u = 1ull << 40;
  GgufValue i64; i64.type = GgufType::INT64; i64.i = -(1ll << 40);
  GgufValue f64; f64.type = GgufType::FLOAT64; f64.f = 0.1;
  w.set("a.u8", u8);
  w.set("a.i8", i8);
  w.set("a.u16", u16);
  w.set("a.i16", i16);
  w.set("a.u32", GgufValue::u32(4000000000u));
  w.set("a.i32", GgufValue::i32(-7));
  w.set("a.f32", GgufValue::f32(0.25f));
  w.set("a.bool", GgufValue::boolean(true));
  w.set("a.str", GgufValue::str("h\xC3\xA9llo"));
  w.set("a.u64", u64);
  w.set("a.i64", i64);
  w.set("a.f64", f64);
  w.set("a.strs", GgufValue::string_array({"x", "", "yz"}));
  w.set("a.f32s", GgufValue::f32_array({1.5f, -2.0f}));
  w.add_tensor("w", DType::F32, {2, 3}, [] { return f32_bytes({1, 2, 3, 4, 5, 6}); });
  w.add_tensor("v", DType::F32, {5}, [] { return f32_bytes({7, 8, 9, 10, 11}); });
  w.write(path("a.gguf"), false);

  auto g = GgufReader::open(path("a.gguf"));
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->alignment(), 32u);
  ASSERT_EQ(g->kvs().size(), w.kvs().size());
  for (size_t i = 0; i < w.kvs().size(); ++i) {
    EXPECT_EQ(g->kvs()[i].key, w.kvs()[i].key);
    EXPECT_TRUE(g->kvs()[i].value == w.kvs()[i].value) << w.kvs()[i].key;
  }
  ASSERT_EQ(g->tensors().size(), 2u);
  EXPECT_EQ(g->tensors()[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(g->ggml_ne(0), (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(g->tensors()[0].offset % 32, 0u);
  EXPECT_EQ(g->tensors()[1].offset, g->tensors()[0].offset + 32);  // 24 bytes padded to 32
  auto b = g->read(1);
  float v[5];
  std::memcpy(v, b.data(), 20);
  EXPECT_EQ(v[4], 11.0f);
  EXPECT_TRUE(g->warnings().empty());
}

TEST_F(GgufTest, WriterLeavesNothingWhenAProducerFails) {
  GgufWriter w;
  w.add_tensor("w", DType::F32, {4}, [] { return f32_bytes({1, 2, 3}); });  // 12 bytes, not 16
  EXPECT_THROW(w.write(path("x.gguf"), false), Error);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(GgufTest, WriterRefusesExistingOutputUnlessForced) {
  GgufWriter w;
  w.write(path("e.gguf"), false);
  EXPECT_THROW(w.write(path("e.gguf"), false), Error);
  EXPECT_NO_THROW(w.write(path("e.gguf"), true));
}

Bytes header(uint64_t n_tensors, uint64_t n_kv) {
  Bytes b;
  b.raw("GGUF", 4).put<uint32_t>(3).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  return b;
}

TEST(GgufReaderErrors, RefusesHostileHeaders) {
  EXPECT_NE(parse_error(Bytes().raw("GGUX", 4).put<uint32_t>(3).b).find("wrong magic"), std::string::npos);
  EXPECT_NE(parse_error(Bytes().raw("GGUF", 4).put<uint32_t>(99).put<uint64_t>(0).put<uint64_t>(0).b).find("unsupported GGUF version 99"), std::string::npos);
  EXPECT_NE(parse_error(Bytes().raw("GGU", 3).b).find("truncated"), std::string::npos);
  EXPECT_NE(parse_error(header(1ull << 62, 0).b).find("tensor count"), std::string::npos);
  EXPECT_NE(parse_error(header(0, 1ull << 62).b).find("metadata count"), std::string::npos);
  // A string whose length is larger than the file.
  EXPECT_NE(parse_error(header(0, 1).put<uint64_t>(~0ull).put<uint64_t>(0).put<uint64_t>(0).b).find("has length"), std::string::npos);
  // An array claiming 2^40 elements.
  auto arr = header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 40);
  EXPECT_NE(parse_error(arr.b).find("does not fit"), std::string::npos);
  auto dup = header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2);
  EXPECT_NE(parse_error(dup.b).find("duplicate metadata key 'k'"), std::string::npos);
  auto badtype = header(0, 1).str("k").put<uint32_t>(13);
  EXPECT_NE(parse_error(badtype.b).find("unknown value type 13"), std::string::npos);
  auto badbool = header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
  EXPECT_NE(parse_error(badbool.b).find("boolean"), std::string::npos);
  auto align = header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(3);
  EXPECT_NE(parse_error(align.b).find("power of two"), std::string::npos);
}

TEST(GgufReaderErrors, RefusesBadTensorInfos) {
  auto t = [](uint32_t n_dims, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    auto b = header(1, 0).str("t").put<uint32_t>(n_dims);
    for (auto d : ne) b.put<uint64_t>(d);
    b.put<uint32_t>(type).put<uint64_t>(offset);
    return b;
  };
  EXPECT_NE(parse_error(t(5, {1, 1, 1, 1, 1}, 0, 0).b).find("5 dimensions"), std::string::npos);
  EXPECT_NE(parse_error(t(2, {1ull << 33, 1ull << 33}, 0, 0).b).find("overflows"), std::string::npos);
  EXPECT_NE(parse_error(t(1, {4}, 4, 0).b).find("unknown or unsupported ggml type 4"), std::string::npos);
  EXPECT_NE(parse_error(t(1, {33}, 8, 0).b).find("not a multiple of the Q8_0 block size"), std::string::npos);
  EXPECT_NE(parse_error(t(1, {4}, 0, 3).b).find("not a multiple of the alignment"), std::string::npos);
  auto past = t(1, {1000}, 0, 0);
  past.b.resize(128, 0);
  EXPECT_NE(parse_error(past.b).find("past the end"), std::string::npos);
}

TEST(GgufReaderErrors, TruncationAtEveryByteIsAnErrorNotACrash) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("toks", GgufValue::string_array({"a", "b"}));
  w.add_tensor("w", DType::F32, {3}, [] { return f32_bytes({1, 2, 3}); });
  auto p = fs::temp_directory_path() / ("lmforge-trunc-" + std::to_string(::getpid()) + ".gguf");
  w.write(p.string(), true);
  std::ifstream f(p, std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), {});
  fs::remove(p);
  // Every proper prefix that cuts into the header or the tensor data must fail cleanly.
  const size_t data_end = all.size();
  for (size_t n = 0; n < data_end - 20; ++n) {  // the last 20 bytes are tensor padding
    std::vector<uint8_t> cut(all.begin(), all.begin() + n);
    EXPECT_FALSE(parse_error(cut).empty()) << "prefix of " << n << " bytes was accepted";
  }
}

TEST(GgufReaderErrors, ReadsBigEndianFiles) {
  // Version 3, big-endian: every multi-byte field swapped, magic kept.
  Bytes b;
  b.raw("GGUF", 4).put<uint32_t>(__builtin_bswap32(3)).put<uint64_t>(__builtin_bswap64(1)).put<uint64_t>(__builtin_bswap64(0));
  b.put<uint64_t>(__builtin_bswap64(1)).raw("t", 1).put<uint32_t>(__builtin_bswap32(1)).put<uint64_t>(__builtin_bswap64(2));
  b.put<uint32_t>(0).put<uint64_t>(0);
  b.b.resize(64, 0);
  const uint32_t one = __builtin_bswap32(std::bit_cast<uint32_t>(1.0f)), two = __builtin_bswap32(std::bit_cast<uint32_t>(2.0f));
  b.put<uint32_t>(one).put<uint32_t>(two);
  auto g = GgufReader::parse(b.b, "be.gguf", nullptr);
  EXPECT_TRUE(g->big_endian());
  auto data = g->read(0);
  float v[2];
  std::memcpy(v, data.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.0f);
}

}  // namespace
}  // namespace lmforge
