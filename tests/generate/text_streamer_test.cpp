// TextStreamer with the demo model's tokenizer: pieces are whole UTF-8, a character split
// across byte-fallback tokens is held back until complete, and the pieces add up to the text.
#include "generate/text_streamer.h"
#include "tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/text_checks.h"
#include "tokenizer/vocab.h"

namespace lmforge {
namespace {

SpmTokenizer demo_tokenizer() { return SpmTokenizer(load_vocab(std::string(LMFORGE_SOURCE_DIR) + "/models/demo/tokenizer.model")); }

TEST(TextStreamer, HoldsBackASplitMultiByteCharacter) {
  const SpmTokenizer tok = demo_tokenizer();
  // The demo vocabulary has no piece for these: byte fallback writes é as 2 and ☃ as 3 byte tokens.
  const std::vector<int32_t> ids = tok.encode(" café ☃ ok");
  TextStreamer streamer(tok, tok.bos_id());
  std::string out;
  size_t held = 0;
  for (int32_t id : ids) {
    const std::string piece = streamer.push(id);
    EXPECT_TRUE(is_valid_utf8(piece)) << "token " << id;
    if (piece.empty()) ++held;
    out += piece;
  }
  EXPECT_GE(held, 3u) << "expected the leading bytes of é and ☃ to be held back";
  EXPECT_EQ(out, tok.decode(ids));
  EXPECT_EQ(out, streamer.released());
}

TEST(TextStreamer, KeepsTheLeadingSpaceAfterTheContextToken) {
  const SpmTokenizer tok = demo_tokenizer();
  const std::vector<int32_t> prompt = tok.encode("Once upon", true);
  const std::vector<int32_t> more = tok.encode("a time");  // the dummy prefix makes it "▁a"
  ASSERT_EQ(tok.decode(more), "a time");                   // on its own the space is dropped
  TextStreamer streamer(tok, prompt.back());
  std::string out;
  for (int32_t id : more) out += streamer.push(id);
  EXPECT_EQ(out, " a time");
}

}  // namespace
}  // namespace lmforge
