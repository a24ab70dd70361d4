#include "formats/sentencepiece_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/protobuf_wire.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

// --- hand-built protobuf -------------------------------------------------------------------

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
void put_tag(std::vector<uint8_t>& out, uint32_t field, uint32_t wire) {
  put_varint(out, field << 3 | wire);
}
void put_bytes(std::vector<uint8_t>& out, uint32_t field, const std::vector<uint8_t>& b) {
  put_tag(out, field, 2);
  put_varint(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}
void put_string(std::vector<uint8_t>& out, uint32_t field, const std::string& s) {
  put_bytes(out, field, std::vector<uint8_t>(s.begin(), s.end()));
}
void put_float(std::vector<uint8_t>& out, uint32_t field, float f) {
  put_tag(out, field, 5);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(u >> (8 * i)));
}
void put_int(std::vector<uint8_t>& out, uint32_t field, int64_t v) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));  // negative int32 is sign-extended to 10 bytes
}

std::vector<uint8_t> piece(const std::string& text, std::optional<float> score,
                           std::optional<int> type) {
  std::vector<uint8_t> p;
  put_string(p, 1, text);
  if (score) put_float(p, 2, *score);
  if (type) put_int(p, 3, *type);
  return p;
}

std::vector<uint8_t> small_model() {
  std::vector<uint8_t> m;
  put_bytes(m, 1, piece("<unk>", 0, 2));
  put_bytes(m, 1, piece("<s>", 0, 3));
  put_bytes(m, 1, piece("</s>", 0, 3));
  put_bytes(m, 1, piece("\xe2\x96\x81the", -1.5f, std::nullopt));  // type defaults to NORMAL
  std::vector<uint8_t> trainer;
  put_int(trainer, 3, 2);
  put_int(trainer, 4, 4);
  put_int(trainer, 999, 7);  // unknown field: skipped
  put_int(trainer, 43, -1);
  put_int(trainer, 35, 1);
  put_bytes(m, 2, trainer);
  std::vector<uint8_t> norm;
  put_string(norm, 1, "identity");
  put_int(norm, 3, 0);
  put_bytes(m, 3, norm);
  put_float(m, 77, 1.0f);  // unknown fixed32 field
  put_tag(m, 78, 1);       // unknown fixed64 field
  for (int i = 0; i < 8; ++i) m.push_back(0);
  return m;
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    parse_sentencepiece_model(bytes, "t.model");
    ADD_FAILURE() << "no error, expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), "t.model");
  }
}

TEST(SentencePieceModelTest, ParsesHandBuiltModel) {
  auto m = parse_sentencepiece_model(small_model(), "t.model");
  ASSERT_EQ(m.pieces.size(), 4u);
  EXPECT_EQ(m.pieces[0].piece, "<unk>");
  EXPECT_EQ(m.pieces[0].type, 2);
  EXPECT_EQ(m.pieces[1].type, 3);
  EXPECT_EQ(m.pieces[3].piece, "\xe2\x96\x81the");
  EXPECT_EQ(m.pieces[3].score, -1.5f);
  EXPECT_EQ(m.pieces[3].type, 1);
  EXPECT_EQ(m.model_type, 2);
  EXPECT_EQ(m.vocab_size, 4);
  EXPECT_TRUE(m.byte_fallback);
  EXPECT_FALSE(m.split_digits);
  EXPECT_EQ(m.pad_id, -1);
  EXPECT_EQ(m.unk_id, 0);
  EXPECT_EQ(m.bos_id, 1);
  EXPECT_EQ(m.eos_id, 2);
  EXPECT_EQ(m.normalizer_name, "identity");
  EXPECT_FALSE(m.add_dummy_prefix);
  EXPECT_TRUE(m.remove_extra_whitespaces);
}

TEST(SentencePieceModelTest, RejectsMalformedInput) {
  const auto good = small_model();
  // Every proper prefix that cuts a field short must fail cleanly, never read past the end.
  for (size_t n = 1; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<ptrdiff_t>(n));
    try {
      parse_sentencepiece_model(cut, "t.model");
    } catch (const Error&) {
    }
  }
  expect_error({}, "no pieces");
  expect_error({0x0A, 0x05, 0x0A}, "declares 5 bytes");
  expect_error({0x0A}, "truncated");
  expect_error({0x08, 0x80}, "truncated");
  expect_error({0x00, 0x00}, "field number 0");
  expect_error({0x0E}, "wire type 6");
  expect_error({0x0B}, "groups");
  expect_error({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
               "overflows 64 bits");
  std::vector<uint8_t> m;
  put_bytes(m, 1, piece("a", 0, 9));
  expect_error(m, "piece type 9");
  m.clear();
  put_bytes(m, 1, piece("\xff", 0, 1));
  expect_error(m, "not valid UTF-8");
  m.clear();
  std::vector<uint8_t> p;
  put_int(p, 1, 5);  // piece text as a varint
  put_bytes(m, 1, p);
  expect_error(m, "wire type varint, expected length-delimited");
  m.clear();
  put_bytes(m, 1, piece("a", 0, 1));
  std::vector<uint8_t> trainer;
  put_int(trainer, 41, 5);
  put_bytes(m, 2, trainer);
  expect_error(m, "bos_id 5 is outside");
}

TEST(ProtobufWireTest, ReportsAbsoluteOffsets) {
  std::vector<uint8_t> m;
  put_bytes(m, 1, piece("a", 0, 1));
  std::vector<uint8_t> bad = {0x0A, 0x02, 0x0A, 0x09};  // inner length past the end
  m.insert(m.end(), bad.begin(), bad.end());
  try {
    parse_sentencepiece_model(m, "t.model");
    FAIL();
  } catch (const Error& e) {
    ASSERT_TRUE(e.offset());
    EXPECT_EQ(*e.offset(), m.size() - 2);  // the inner field's tag
  }
}

// --- a real model trained by spm_train, compared with libsentencepiece ----------------------

std::string shell_quote(const std::string& s) {
  return "'" + s + "'";
}

TEST(SentencePieceModelTest, MatchesLibsentencepieceOnTrainedModel) {
  if (std::system("command -v spm_train >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "spm_train not installed";
  if (std::system("/usr/bin/python3 -c 'import sentencepiece' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python sentencepiece not installed";
  const char* corpus = "/usr/share/common-licenses/GPL-3";
  if (!fs::exists(corpus)) GTEST_SKIP() << corpus << " missing";

  const fs::path dir = fs::temp_directory_path() / ("lmforge_spm_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string prefix = (dir / "m").string();
  // LLaMA's tokenizer settings.
  const std::string train = std::string("spm_train --input=") + corpus +
                            " --model_prefix=" + shell_quote(prefix) +
                            " --model_type=bpe --vocab_size=400 --byte_fallback=true"
                            " --split_digits=true --add_dummy_prefix=true"
                            " --normalization_rule_name=identity --character_coverage=1.0"
                            " --minloglevel=2 >/dev/null 2>&1";
  ASSERT_EQ(std::system(train.c_str()), 0);

  const std::string dump = (dir / "dump.json").string();
  const std::string py =
      "import json, sys, sentencepiece as s\n"
      "p = s.SentencePieceProcessor(model_file=sys.argv[1])\n"
      "def t(i):\n"
      "  return 2 if p.is_unknown(i) else 3 if p.is_control(i) else 5 if p.is_unused(i) else 6 if "
      "p.is_byte(i) else 1\n"
      "out = {'pieces': [[p.id_to_piece(i), p.get_score(i), t(i)] for i in "
      "range(p.get_piece_size())],\n"
      "       'unk': p.unk_id(), 'bos': p.bos_id(), 'eos': p.eos_id(), 'pad': p.pad_id()}\n"
      "json.dump(out, open(sys.argv[2], 'w'))\n";
  const std::string pyfile = (dir / "dump.py").string();
  std::ofstream(pyfile) << py;
  ASSERT_EQ(std::system(("/usr/bin/python3 " + shell_quote(pyfile) + " " +
                         shell_quote(prefix + ".model") + " " + shell_quote(dump))
                            .c_str()),
            0);

  auto map = MappedFile::open(prefix + ".model");
  auto m = parse_sentencepiece_model(map->bytes(), map->path());
  std::ifstream f(dump);
  auto want = nlohmann::json::parse(f);
  ASSERT_EQ(m.pieces.size(), want["pieces"].size());
  int bytes = 0;
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const auto& w = want["pieces"][i];
    EXPECT_EQ(m.pieces[i].piece, w[0].get<std::string>()) << i;
    EXPECT_EQ(m.pieces[i].score, static_cast<float>(w[1].get<double>())) << i;
    // libsentencepiece has no is_user_defined; such pieces read as normal there.
    const int type = m.pieces[i].type == 4 ? 1 : m.pieces[i].type;
    EXPECT_EQ(type, w[2].get<int>()) << i << " " << m.pieces[i].piece;
    bytes += m.pieces[i].type == 6;
  }
  EXPECT_EQ(bytes, 256);
  EXPECT_EQ(m.unk_id, want["unk"].get<int>());
  EXPECT_EQ(m.bos_id, want["bos"].get<int>());
  EXPECT_EQ(m.eos_id, want["eos"].get<int>());
  EXPECT_EQ(m.pad_id, want["pad"].get<int>());
  EXPECT_EQ(m.model_type, 2);
  EXPECT_EQ(m.vocab_size, 400);
  EXPECT_TRUE(m.byte_fallback);
  EXPECT_TRUE(m.split_digits);
  EXPECT_EQ(m.normalizer_name, "identity");
  EXPECT_TRUE(m.add_dummy_prefix);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
