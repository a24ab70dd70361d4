// The BERT tokenizer folder readers on bad input: each refusal is one lmforge::Error naming the
// file (and, for vocab.txt, the byte), never a crash or a silently different vocabulary.
#include "tokenizer/wordpiece_vocab.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tokenizer/wordpiece_tokenizer.h"
#include "tokenizer/wordpiece_vocab_txt.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

const char* kVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n!\n";

class WordPieceFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge-wordpiece-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // The error load_wordpiece_vocab throws (fails the test when it throws none).
  Error load_error() {
    try {
      load_wordpiece_vocab(dir_.string());
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "the folder was accepted";
    return Error("", "");
  }
  std::string tokenizer_json(const std::string& model, const std::string& extra = "") {
    return R"({"normalizer": {"type": "BertNormalizer", "lowercase": false, "strip_accents": null},)"
           R"( "pre_tokenizer": {"type": "BertPreTokenizer"}, "model": )" + model + extra + "}";
  }
  fs::path dir_;
};

std::string vocab_json() {
  return R"({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",)"
         R"( "max_input_chars_per_word": 100, "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3,)"
         R"( "[MASK]": 4, "hello": 5, "world": 6, "##s": 7, "!": 8}})";
}

TEST(WordPieceVocabTxt, LinesAsPythonReadsThem) {
  const auto t = parse_vocab_txt("a\r\nb\rc\n\nd", "vocab.txt");
  EXPECT_EQ(t, (std::vector<std::string>{"a", "b", "c", "", "d"}));
}

TEST(WordPieceVocabTxt, RefusesWithFileAndByte) {
  const auto error_of = [](std::string_view bytes) {
    try {
      parse_vocab_txt(bytes, "vocab.txt");
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "accepted";
    return Error("", "");
  };
  Error dup = error_of("a\nb\na\n");
  EXPECT_EQ(dup.file(), "vocab.txt");
  EXPECT_EQ(dup.offset(), 4u);
  EXPECT_NE(dup.message().find("twice"), std::string::npos);
  Error utf8 = error_of("ok\nbad\xC3(\n");
  EXPECT_EQ(utf8.offset(), 6u);
  EXPECT_TRUE(error_of("").message().find("empty") != std::string::npos);
  EXPECT_NE(error_of(std::string(kMaxWordPieceTokenBytes + 1, 'x')).message().find("longer"), std::string::npos);
}

TEST_F(WordPieceFolder, ReadsVocabTxtAndSettings) {
  write("vocab.txt", kVocab);
  write("tokenizer_config.json", R"({"do_lower_case": false, "model_max_length": 1e30, "never_split": null})");
  const auto v = load_wordpiece_vocab(dir_.string());
  EXPECT_EQ(v.size(), 9u);
  EXPECT_EQ(v.unk_id, 1);
  EXPECT_EQ(v.cls_id, 2);
  EXPECT_EQ(v.sep_id, 3);
  EXPECT_EQ(v.pad_id, 0);
  EXPECT_EQ(v.mask_id, 4);
  EXPECT_FALSE(v.settings.lowercase);
  EXPECT_FALSE(v.settings.strips_accents());
  EXPECT_EQ(v.settings.model_max_length, 512u);  // "unlimited" leaves the BERT default
  EXPECT_EQ(v.added.size(), 5u);
}

TEST_F(WordPieceFolder, ConfigOverridesTheNormalizer) {
  write("tokenizer.json", tokenizer_json(vocab_json()));
  write("tokenizer_config.json", R"({"do_lower_case": true, "strip_accents": false})");
  const auto v = load_wordpiece_vocab(dir_.string());
  EXPECT_TRUE(v.settings.lowercase);
  EXPECT_FALSE(v.settings.strips_accents());
}

TEST_F(WordPieceFolder, MissingSettingsTakeBertTokenizerFastDefaults) {
  // tokenizer.json says cased; BertTokenizerFast's do_lower_case=True default wins over it.
  write("tokenizer.json", tokenizer_json(vocab_json()));
  EXPECT_TRUE(load_wordpiece_vocab(dir_.string()).settings.lowercase);
  write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
  EXPECT_TRUE(load_wordpiece_vocab(dir_.string()).settings.lowercase);
  write("tokenizer_config.json", R"({"tokenizer_class": "PreTrainedTokenizerFast"})");
  EXPECT_FALSE(load_wordpiece_vocab(dir_.string()).settings.lowercase);
}

TEST_F(WordPieceFolder, RefusesMissingFilesAndTokens) {
  EXPECT_NE(load_error().message().find("no vocab.txt"), std::string::npos);
  write("vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  Error e = load_error();
  EXPECT_NE(e.message().find("unknown"), std::string::npos);
  write("vocab.txt", "[UNK]\n[SEP]\nhello\n");
  EXPECT_NE(load_error().message().find("classifier"), std::string::npos);
  write("vocab.txt", "[UNK]\n[CLS]\nhello\n");
  EXPECT_NE(load_error().message().find("separator"), std::string::npos);
  write("vocab.txt", "[UNK]\n[CLS]\n[SEP]\n");
  write("tokenizer_config.json", R"({"unk_token": {"content": "<unk>"}})");
  e = load_error();
  EXPECT_EQ(e.file(), path("tokenizer_config.json"));
  EXPECT_NE(e.message().find("<unk>"), std::string::npos);
}

TEST_F(WordPieceFolder, RefusesHugeFiles) {
  write("vocab.txt", "x");
  fs::resize_file(dir_ / "vocab.txt", kMaxWordPieceFileBytes + 1);
  Error e = load_error();
  EXPECT_EQ(e.file(), path("vocab.txt"));
  EXPECT_NE(e.message().find("larger"), std::string::npos);
}

TEST_F(WordPieceFolder, RefusesBadSettings) {
  write("vocab.txt", kVocab);
  for (const char* bad : {R"({"do_lower_case": "true"})", R"({"strip_accents": 1})", R"({"model_max_length": 0.5})",
                          R"({"model_max_length": -3})", R"({"never_split": "x"})", R"({"cls_token": 7})",
                          R"({"added_tokens_decoder": {"x": {"content": "[CLS]"}}})",
                          R"({"added_tokens_decoder": {"2": {"content": "[SEP]"}}})", R"([1, 2])",
                          R"({"a": 1, "a": 2})"}) {
    write("tokenizer_config.json", bad);
    EXPECT_EQ(load_error().file(), path("tokenizer_config.json")) << bad;
  }
}

TEST_F(WordPieceFolder, RefusesTokenizerJsonThatIsNotBert) {
  const std::string bad_models[] = {
      R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})",
      R"({"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 2, "[SEP]": 3}})",         // id gap
      R"({"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 1}})",         // one id twice
      R"({"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": -1, "[SEP]": 2}})",
      R"({"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1.5, "[SEP]": 2}})",
      R"({"type": "WordPiece", "vocab": {}})",
      R"({"type": "WordPiece", "vocab": ["[UNK]"]})",
      R"({"type": "WordPiece", "max_input_chars_per_word": 0, "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2}})",
  };
  for (const auto& m : bad_models) {
    write("tokenizer.json", tokenizer_json(m));
    EXPECT_EQ(load_error().file(), path("tokenizer.json")) << m;
  }
  write("tokenizer.json", R"({"normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "model": )" +
                              vocab_json() + "}");
  EXPECT_NE(load_error().message().find("Lowercase"), std::string::npos);
  write("tokenizer.json", R"({"normalizer": null, "model": )" + vocab_json() + "}");
  EXPECT_NE(load_error().message().find("pre-tokenizer"), std::string::npos);
  write("tokenizer.json", tokenizer_json(vocab_json(), R"(, "added_tokens": [{"id": 2, "content": "[SEP]", "special": true}])"));
  EXPECT_NE(load_error().message().find("added token"), std::string::npos);
  write("tokenizer.json", tokenizer_json(vocab_json(), R"(, "added_tokens": [{"id": 99, "content": "[NEW]"}])"));
  EXPECT_NE(load_error().message().find("beyond"), std::string::npos);
}

TEST_F(WordPieceFolder, VocabTxtMustAgreeWithTokenizerJson) {
  write("tokenizer.json", tokenizer_json(vocab_json()));
  write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworlds\n##s\n!\n");
  Error e = load_error();
  EXPECT_EQ(e.file(), path("vocab.txt"));
  EXPECT_NE(e.message().find("token 6"), std::string::npos);
}

TEST_F(WordPieceFolder, EncodesWithTheModelLimit) {
  write("vocab.txt", kVocab);
  write("tokenizer_config.json", R"({"model_max_length": 6})");
  const WordPieceTokenizer tok(load_wordpiece_vocab(dir_.string()));
  EXPECT_EQ(tok.encode("Hello worlds!"), (std::vector<int32_t>{5, 6, 7, 8}));
  EXPECT_EQ(tok.encode_for_model("", false), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(tok.encode_for_model("hello worlds!", false), (std::vector<int32_t>{2, 5, 6, 7, 8, 3}));
  try {
    tok.encode_for_model("hello worlds! hello", false, "prompt.txt");
    ADD_FAILURE() << "over the limit without --truncate";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "prompt.txt");
    EXPECT_NE(e.message().find("7 tokens"), std::string::npos);
    EXPECT_NE(e.message().find("at most 6"), std::string::npos);
  }
  EXPECT_EQ(tok.encode_for_model("hello worlds! hello", true), (std::vector<int32_t>{2, 5, 6, 7, 8, 3}));
  EXPECT_EQ(tok.encode("hellos helloz [MASK]x"), (std::vector<int32_t>{5, 7, 1, 4, 1}));
  EXPECT_EQ(tok.decode(std::vector<int32_t>{2, 5, 6, 7, 8, 3}), "[CLS] hello worlds! [SEP]");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{2, 5, 6, 7, 8, 3}, true), "hello worlds!");
  EXPECT_THROW(tok.decode(std::vector<int32_t>{9}), Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), Error);
}

TEST_F(WordPieceFolder, VeryLongWordsWhenTheModelAllowsThem) {
  // Candidates are bounded by the longest token, so a 200000-character word costs
  // 200000 short look-ups, not 200000^2 / 2.
  std::string model = vocab_json();
  model.replace(model.find("100"), 3, "1048576");
  write("tokenizer.json", tokenizer_json(model));
  const WordPieceTokenizer tok(load_wordpiece_vocab(dir_.string()));
  const auto ids = tok.encode("hello" + std::string(200000, 's') + " world");
  ASSERT_EQ(ids.size(), 200002u);
  EXPECT_EQ(ids.front(), 5);
  EXPECT_EQ(ids[1], 7);
  EXPECT_EQ(ids[200000], 7);
  EXPECT_EQ(ids.back(), 6);
}

TEST_F(WordPieceFolder, AddedTokensSwallowWhitespaceWhenTheySaySo) {
  write("tokenizer.json",
        tokenizer_json(vocab_json(), R"(, "added_tokens": [{"id": 4, "content": "[MASK]", "special": true, "lstrip": true, "rstrip": true}])"));
  const WordPieceTokenizer tok(load_wordpiece_vocab(dir_.string()));
  EXPECT_EQ(tok.encode("hello  [MASK]  world"), (std::vector<int32_t>{5, 4, 6}));
  EXPECT_EQ(tok.encode("[CLS]"), (std::vector<int32_t>{1, 1, 1}));  // only added tokens are matched
}

}  // namespace
}  // namespace lmforge
