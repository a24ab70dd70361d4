// GenerationSession and ChatSession on the committed demo model (models/demo, a Hugging Face
// folder converted in memory): greedy generation and its limits, stop tokens and strings,
// cancelling, streamed text, and chat turns that reuse the KV cache yet match a fresh
// evaluation of the whole conversation.
#include "generate/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text_checks.h"
#include "engine/model_loader.h"
#include "generate/chat_session.h"
#include "generate/special_tokens.h"
#include "tokenizer/spm_tokenizer.h"

namespace lmforge {
namespace {

constexpr const char* kPrompt = "Once upon a time";

class GenerationSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      loaded_ = std::make_unique<LoadedModel>(load_model_for_inference(std::string(LMFORGE_SOURCE_DIR) + "/models/demo"));
    } catch (const std::exception& e) {
      load_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { loaded_.reset(); }
  void SetUp() override { ASSERT_TRUE(loaded_) << "cannot load models/demo: " << load_error_; }

  static GenerationSession open(uint32_t n_ctx = 256, float temperature = 0.0f, uint32_t seed = 1) {
    SessionOptions o;
    o.n_ctx = n_ctx;
    o.n_threads = 2;
    o.sampling.temperature = temperature;
    o.sampling.seed = seed;
    return GenerationSession(*loaded_->model, loaded_->tokenizer, o);
  }
  static GenerationParams limit(int64_t n) {
    GenerationParams p;
    p.n_predict = n;
    return p;
  }
  // The text the continuation adds to the prompt, decoded in one go.
  static std::string continuation_text(const GenerationSession& s, const std::vector<int32_t>& prompt,
                                       const std::vector<int32_t>& generated) {
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    const std::string whole = s.tokenizer().decode(all), head = s.tokenizer().decode(prompt);
    EXPECT_EQ(whole.compare(0, head.size(), head), 0);
    return whole.substr(head.size());
  }

  static inline std::unique_ptr<LoadedModel> loaded_;
  static inline std::string load_error_;
};

TEST_F(GenerationSessionTest, GreedyIsDeterministicAndStopsAtNPredict) {
  GenerationSession s = open();
  const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
  ASSERT_EQ(prompt.front(), s.tokenizer().bos_id());
  const GenerationResult a = s.complete(prompt, limit(12), {});
  EXPECT_EQ(a.stop, StopReason::kLimit);
  ASSERT_EQ(a.tokens.size(), 12u);
  EXPECT_EQ(a.prompt_tokens, prompt.size());
  // Each token drawn once; each but the last evaluated (nothing is drawn after it).
  EXPECT_EQ(s.timings().sampled, 12u);
  EXPECT_EQ(s.timings().evals, 11u);
  EXPECT_EQ(s.pos(), prompt.size() + 11);

  // Again on the same session (complete starts from an empty cache) and on a fresh one.
  EXPECT_EQ(s.complete(prompt, limit(12), {}).tokens, a.tokens);
  GenerationSession fresh = open();
  EXPECT_EQ(fresh.complete(prompt, limit(12), {}).tokens, a.tokens);
  // A shorter limit gives a prefix.
  const GenerationResult b = fresh.complete(prompt, limit(5), {});
  EXPECT_EQ(b.tokens, std::vector<int32_t>(a.tokens.begin(), a.tokens.begin() + 5));
  EXPECT_TRUE(fresh.complete(prompt, limit(0), {}).tokens.empty());
}

TEST_F(GenerationSessionTest, StreamedTextConcatenatesToTheDecodedContinuation) {
  for (float temperature : {0.0f, 1.0f}) {
    GenerationSession s = open(256, temperature, 7);
    const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
    std::string streamed;
    std::vector<int32_t> seen;
    GenerationCallbacks cb;
    cb.on_text = [&](std::string_view t) {
      EXPECT_FALSE(t.empty());
      EXPECT_TRUE(is_valid_utf8(t));
      streamed += t;
    };
    cb.on_token = [&](const TokenEvent& e) {
      EXPECT_FALSE(e.end_of_text && temperature == 0.0f);
      EXPECT_EQ(e.logits.size(), s.model().n_vocab());
      EXPECT_EQ(e.piece, s.tokenizer().token_text(e.id));
      if (!e.end_of_text) seen.push_back(e.id);
    };
    const GenerationResult r = s.complete(prompt, limit(60), cb);
    EXPECT_EQ(seen, r.tokens);
    EXPECT_EQ(streamed, r.text);
    EXPECT_EQ(streamed, continuation_text(s, prompt, r.tokens)) << "temperature " << temperature;
    EXPECT_FALSE(streamed.empty());
  }
}

TEST_F(GenerationSessionTest, StopStringStopsAndIsNotEmitted) {
  GenerationSession s = open();
  const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
  const GenerationResult full = s.complete(prompt, limit(40), GenerationCallbacks{.on_text = [](std::string_view) {}});
  ASSERT_EQ(full.tokens.size(), 40u);
  const std::string& text = full.text;
  ASSERT_GT(text.size(), 20u);
  // A stop string taken from the middle of the greedy text (it may span tokens).
  const std::string stop = text.substr(text.size() / 2, 4);
  const size_t at = text.find(stop);
  GenerationParams p = limit(40);
  p.stop_strings = {stop};
  std::string streamed;
  const GenerationResult r = s.complete(prompt, p, GenerationCallbacks{.on_text = [&](std::string_view t) { streamed += t; }});
  EXPECT_EQ(r.stop, StopReason::kStopString);
  EXPECT_EQ(streamed, text.substr(0, at));
  EXPECT_EQ(r.text, streamed);
  EXPECT_LT(r.tokens.size(), full.tokens.size());
  EXPECT_EQ(std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + static_cast<ptrdiff_t>(r.tokens.size())), r.tokens);

  // A stop string whose beginning ends the text is held back, then shown when the limit ends it.
  GenerationParams q = limit(40);
  q.stop_strings = {text.substr(text.size() - 2) + "\x01"};
  const GenerationResult tail = s.complete(prompt, q, GenerationCallbacks{.on_text = [](std::string_view) {}});
  EXPECT_EQ(tail.stop, StopReason::kLimit);
  EXPECT_EQ(tail.text, text);
}

TEST_F(GenerationSessionTest, StopTokenEndsTheTextAndIsReported) {
  GenerationSession s = open();
  const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
  const GenerationResult full = s.complete(prompt, limit(12), {});
  ASSERT_EQ(full.tokens.size(), 12u);
  // The first token that does not occur before position 4 ends the text there.
  size_t k = 4;
  while (k < 12 && std::find(full.tokens.begin(), full.tokens.begin() + static_cast<ptrdiff_t>(k), full.tokens[k]) !=
                       full.tokens.begin() + static_cast<ptrdiff_t>(k))
    ++k;
  ASSERT_LT(k, 12u);
  GenerationParams p = limit(12);
  p.stop_tokens = {full.tokens[k]};
  int ends = 0;
  const GenerationResult r = s.complete(prompt, p, GenerationCallbacks{.on_token = [&](const TokenEvent& e) {
                                          if (e.end_of_text) {
                                            ++ends;
                                            EXPECT_EQ(e.id, full.tokens[k]);
                                          }
                                        }});
  EXPECT_EQ(r.stop, StopReason::kEndOfText);
  EXPECT_EQ(ends, 1);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + static_cast<ptrdiff_t>(k)));
}

// Llama 3 lists several end-of-generation ids (<|end_of_text|>, <|eot_id|>): drawing any of
// the vocabulary's eog_ids ends the text, and --ignore-eos makes every one of them impossible.
TEST_F(GenerationSessionTest, EveryEndOfGenerationIdEndsTheText) {
  GenerationSession s = open();
  const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
  const GenerationResult full = s.complete(prompt, limit(12), {});
  ASSERT_EQ(full.tokens.size(), 12u);
  size_t k = 4;
  while (k < 12 && std::find(full.tokens.begin(), full.tokens.begin() + static_cast<ptrdiff_t>(k), full.tokens[k]) !=
                       full.tokens.begin() + static_cast<ptrdiff_t>(k))
    ++k;
  ASSERT_LT(k, 12u);
  const auto* spm = dynamic_cast<const SpmTokenizer*>(loaded_->tokenizer.get());
  ASSERT_TRUE(spm) << "models/demo has a SentencePiece vocabulary";
  Vocab vocab = spm->vocab();
  vocab.eog_ids = {vocab.eos_id, full.tokens[k]};
  std::sort(vocab.eog_ids.begin(), vocab.eog_ids.end());
  SessionOptions o;
  o.n_ctx = 256;
  o.n_threads = 2;
  o.sampling.temperature = 0.0f;  // greedy, as open() gives
  GenerationSession two_eos(*loaded_->model, std::make_shared<const SpmTokenizer>(vocab), o);
  const GenerationResult r = two_eos.complete(prompt, limit(12), {});
  EXPECT_EQ(r.stop, StopReason::kEndOfText);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + static_cast<ptrdiff_t>(k)));

  GenerationParams p = limit(12);
  p.ignore_eos = true;
  const GenerationResult ignored = two_eos.complete(prompt, p, {});
  EXPECT_EQ(ignored.stop, StopReason::kLimit);
  EXPECT_EQ(std::count(ignored.tokens.begin(), ignored.tokens.end(), full.tokens[k]), 0);
}

TEST_F(GenerationSessionTest, CancelStops) {
  GenerationSession s = open();
  const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
  size_t drawn = 0;
  GenerationCallbacks cb;
  cb.on_token = [&](const TokenEvent&) { ++drawn; };
  cb.cancelled = [&] { return drawn >= 5; };
  const GenerationResult r = s.complete(prompt, limit(-1), cb);
  EXPECT_EQ(r.stop, StopReason::kCancelled);
  EXPECT_EQ(stop_reason_name(r.stop), "cancelled");
  EXPECT_EQ(r.tokens.size(), 5u);
  EXPECT_EQ(s.timings().sampled, 5u);
}

TEST_F(GenerationSessionTest, StopsAtTheEndOfTheContext) {
  GenerationSession s = open(16);
  const std::vector<int32_t> prompt = s.tokenize_prompt(kPrompt);
  GenerationParams p = limit(-1);
  p.ignore_eos = true;
  // One continuation: the token drawn at the last position is shown, though never evaluated.
  const GenerationResult r = s.complete(prompt, p, {});
  EXPECT_EQ(r.stop, StopReason::kContextFull);
  EXPECT_EQ(r.tokens.size(), 16 - prompt.size() + 1);
  EXPECT_EQ(s.pos(), 16u);
  // Extending (chat): every shown token is in the cache, so one fewer fits.
  s.reset();
  const GenerationResult e = s.extend(prompt, kPrompt, p, {});
  EXPECT_EQ(e.stop, StopReason::kContextFull);
  EXPECT_EQ(e.tokens.size(), 16 - prompt.size());
  EXPECT_EQ(s.pos(), 16u);
  // Nothing more can be fed.
  const std::vector<int32_t> more = {prompt.back()};
  EXPECT_EQ(s.extend(more, "", p, {}).stop, StopReason::kPromptTooLong);
  EXPECT_EQ(s.pos(), 16u);
}

TEST_F(GenerationSessionTest, TruncationKeepsBosAndTheEnd) {
  GenerationSession s = open(8);
  std::vector<int32_t> prompt = s.tokenize_prompt("Once upon a time there was a little girl named Lily who liked the park");
  const std::vector<int32_t> original = prompt;
  ASSERT_FALSE(s.prompt_fits(prompt.size()));
  EXPECT_THROW(s.complete(prompt, limit(1), {}), UsageError);
  const size_t dropped = s.truncate_prompt(prompt);
  ASSERT_EQ(prompt.size(), 7u);
  EXPECT_EQ(dropped, original.size() - 7);
  EXPECT_EQ(prompt.front(), s.tokenizer().bos_id());
  EXPECT_EQ(std::vector<int32_t>(prompt.begin() + 1, prompt.end()), std::vector<int32_t>(original.end() - 6, original.end()));
  EXPECT_EQ(s.complete(prompt, limit(1), {}).tokens.size(), 1u);
}

TEST_F(GenerationSessionTest, ChatTurnsReuseTheCacheAndMatchAFreshEvaluation) {
  GenerationSession s = open();
  ChatSession chat(s, ChatFormat::kChatml, "Be nice");
  const GenerationParams p = limit(8);
  const ChatTurn t1 = chat.answer("Hello there", p, {});
  ASSERT_NE(t1.reply.stop, StopReason::kPromptTooLong);
  const size_t prompt_after_1 = s.timings().prompt_tokens;
  EXPECT_EQ(prompt_after_1, t1.fed.size());
  EXPECT_EQ(t1.fed.front(), s.tokenizer().bos_id());
  EXPECT_EQ(s.pos(), t1.fed.size() + t1.reply.tokens.size());

  std::vector<int32_t> fed2;
  std::string text2;
  GenerationCallbacks cb;
  cb.on_prompt = [&](std::string_view text, std::span<const int32_t> ids) {
    text2 = text;
    fed2.assign(ids.begin(), ids.end());
  };
  std::vector<float> first_logits;
  cb.on_token = [&](const TokenEvent& e) {
    if (first_logits.empty()) first_logits.assign(e.logits.begin(), e.logits.end());
  };
  const ChatTurn t2 = chat.answer("Tell me a story", p, cb);
  ASSERT_NE(t2.reply.stop, StopReason::kPromptTooLong);
  // The second turn feeds only what follows the cached reply: no BOS, no first turn.
  EXPECT_EQ(fed2, t2.fed);
  EXPECT_NE(t2.fed.front(), s.tokenizer().bos_id());
  EXPECT_EQ(s.timings().prompt_tokens - prompt_after_1, t2.fed.size());
  EXPECT_EQ(t2.reply.prompt_tokens, t2.fed.size());
  const size_t before_reply_2 = t1.fed.size() + t1.reply.tokens.size() + t2.fed.size();
  EXPECT_EQ(s.pos(), before_reply_2 + t2.reply.tokens.size());
  ASSERT_EQ(chat.messages().size(), 5u);  // system, user, assistant, user, assistant
  // What was fed is the template's rendering of the conversation, the reply as its tokens' text.
  EXPECT_EQ(text2.find("Hello there"), std::string::npos);
  EXPECT_TRUE(text2.starts_with("<|im_end|>\n<|im_start|>user\nTell me a story<|im_end|>\n")) << text2;
  std::string reply1;
  for (int32_t id : t1.reply.tokens) reply1 += s.tokenizer().token_text(id);
  const std::vector<ChatMessage> conversation(chat.messages().begin(), chat.messages().begin() + 4);
  EXPECT_EQ(render_chat(ChatFormat::kChatml, std::vector<ChatMessage>(conversation.begin(), conversation.begin() + 2), true) + reply1 + text2,
            render_chat(ChatFormat::kChatml, conversation, true));

  // The whole conversation evaluated at once from an empty cache gives the same reply.
  std::vector<int32_t> whole = t1.fed;
  whole.insert(whole.end(), t1.reply.tokens.begin(), t1.reply.tokens.end());
  whole.insert(whole.end(), t2.fed.begin(), t2.fed.end());
  GenerationSession fresh = open();
  GenerationParams fp = limit(static_cast<int64_t>(t2.reply.tokens.size()));
  const int32_t end_marker = special_token_id(fresh.tokenizer(), chat_end_marker(ChatFormat::kChatml));
  if (end_marker >= 0) fp.stop_tokens = {end_marker};
  std::vector<float> fresh_logits;
  const GenerationResult r = fresh.complete(whole, fp, GenerationCallbacks{.on_token = [&](const TokenEvent& e) {
                                              if (fresh_logits.empty()) fresh_logits.assign(e.logits.begin(), e.logits.end());
                                            }});
  EXPECT_EQ(r.tokens, t2.reply.tokens);
  ASSERT_EQ(fresh_logits.size(), first_logits.size());
  for (size_t i = 0; i < first_logits.size(); ++i) ASSERT_NEAR(fresh_logits[i], first_logits[i], 1e-3f) << "logit " << i;
}

TEST_F(GenerationSessionTest, ChatTurnThatDoesNotFitIsRefusedWhole) {
  GenerationSession s = open(40);
  ChatSession chat(s, ChatFormat::kChatml);
  const ChatTurn t1 = chat.answer("Hi", limit(4), {});
  ASSERT_NE(t1.reply.stop, StopReason::kPromptTooLong);
  const uint32_t pos = s.pos();
  const ChatTurn t2 = chat.answer("this is a long line that will not fit in the context at all, not at all", limit(4), {});
  EXPECT_EQ(t2.reply.stop, StopReason::kPromptTooLong);
  EXPECT_GE(pos + t2.fed.size(), 40u);
  EXPECT_EQ(s.pos(), pos);
  EXPECT_EQ(chat.messages().size(), 2u);  // the refused message is not kept
}

}  // namespace
}  // namespace lmforge
