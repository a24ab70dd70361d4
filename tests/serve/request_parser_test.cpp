// The request parsers (serve/requests.h): every malformed, mistyped or out-of-range field is
// an ApiException with status 400 naming the field; valid requests come out as the structs the
// handlers use, with OpenAI's defaults; unknown fields and nulls are ignored.
#include <gtest/gtest.h>

#include <string>

#include "serve/api_error.h"
#include "serve/generation_runner.h"
#include "serve/requests.h"

namespace lmforge::serve {
namespace {

// The ApiError a parse throws (status 0 when it does not throw).
template <typename F>
ApiError error_of(F&& parse) {
  try {
    parse();
  } catch (const ApiException& e) {
    return e.error();
  }
  return ApiError{0, "", "", "", ""};
}

constexpr size_t kVocab = 4000;

TEST(ChatRequestParser, ReadsAFullRequest) {
  const ChatRequest r = parse_chat_request(R"({"model": "demo", "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": null}],
    "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 12, "temperature": 0,
    "top_p": 0.5, "seed": 7, "stop": ["\n\n", ""], "presence_penalty": 1.5, "frequency_penalty": -0.5,
    "logprobs": true, "top_logprobs": 3, "n": 1, "response_format": {"type": "text"},
    "some_langchain_field": {"anything": [1, 2]}, "user": null})");
  EXPECT_EQ(r.model, "demo");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Hello there");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.max_tokens, 12);
  EXPECT_EQ(r.sampling.temperature, 0.0);
  EXPECT_EQ(r.sampling.top_p, 0.5);
  EXPECT_EQ(r.sampling.seed, 7u);
  ASSERT_EQ(r.stop.size(), 1u);  // the empty stop string is dropped
  EXPECT_EQ(r.stop[0], "\n\n");
  EXPECT_EQ(r.sampling.presence_penalty, 1.5);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
}

TEST(ChatRequestParser, DefaultsAreOpenAIs) {
  const ChatRequest r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                              "max_tokens": null, "stop": null, "temperature": null})");
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.sampling.temperature, 1.0);
  EXPECT_EQ(r.sampling.top_p, 1.0);
  EXPECT_FALSE(r.sampling.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
}

TEST(ChatRequestParser, MaxCompletionTokensWins) {
  const ChatRequest r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                              "max_tokens": 5, "max_completion_tokens": 9})");
  EXPECT_EQ(r.max_tokens, 9);
}

TEST(ChatRequestParser, StopAsOneString) {
  const ChatRequest r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": "END"})");
  ASSERT_EQ(r.stop.size(), 1u);
  EXPECT_EQ(r.stop[0], "END");
}

TEST(ChatRequestParser, DeveloperRoleIsSystem) {
  const ChatRequest r = parse_chat_request(R"({"model": "m", "messages": [{"role": "developer", "content": "x"}]})");
  EXPECT_EQ(r.messages[0].role, "system");
}

struct BadCase {
  const char* body;
  const char* param;  // expected `param`, "" for null
};

class ChatRequestRefuses : public testing::TestWithParam<BadCase> {};

TEST_P(ChatRequestRefuses, With400NamingTheField) {
  const ApiError e = error_of([&] { parse_chat_request(GetParam().body); });
  EXPECT_EQ(e.status, 400) << GetParam().body;
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.param, GetParam().param) << e.message;
  EXPECT_FALSE(e.message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ChatRequestRefuses,
    testing::Values(
        BadCase{"", ""}, BadCase{"{", ""}, BadCase{"[1, 2]", ""}, BadCase{"\"text\"", ""}, BadCase{"{\"model\": \"m\",}", ""},
        BadCase{R"({"messages": [{"role": "user", "content": "x"}]})", "model"},
        BadCase{R"({"model": 5, "messages": [{"role": "user", "content": "x"}]})", "model"},
        BadCase{R"({"model": "m"})", "messages"},
        BadCase{R"({"model": "m", "messages": []})", "messages"},
        BadCase{R"({"model": "m", "messages": "hi"})", "messages"},
        BadCase{R"({"model": "m", "messages": [5]})", "messages[0]"},
        BadCase{R"({"model": "m", "messages": [{"content": "x"}]})", "messages[0].role"},
        BadCase{R"({"model": "m", "messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role"},
        BadCase{R"({"model": "m", "messages": [{"role": "user"}]})", "messages[0].content"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": 3}]})", "messages[0].content"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})",
                "messages[0].content[0].type"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1})", "max_tokens"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e300})", "max_tokens"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999999999999999})", "max_tokens"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2.5})", "max_tokens"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "10"})", "max_tokens"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": -0.1})", "temperature"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 2.5})", "temperature"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 1.01})", "top_p"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1.5})", "seed"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2})", "n"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})",
                "stream_options"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop[0]"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e"]})", "stop"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "presence_penalty": 3})", "presence_penalty"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", "top_logprobs"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 21})",
                "top_logprobs"},
        BadCase{R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}})",
                "response_format.type"}));

TEST(RequestBody, InvalidUtf8Is400) {
  const std::string body = std::string(R"({"model": "m", "messages": [{"role": "user", "content": ")") + "\xC3\x28" + "\"}]}";
  const ApiError e = error_of([&] { parse_chat_request(body); });
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("UTF-8"), std::string::npos);
}

TEST(RequestBody, LoneSurrogateEscapeIs400) {
  const ApiError e = error_of([] { parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "\ud800"}]})"); });
  EXPECT_EQ(e.status, 400);
}

TEST(RequestBody, DeepNestingIs400) {
  const std::string body = "{\"model\": \"m\", \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  const ApiError e = error_of([&] { parse_chat_request(body); });
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("deeper"), std::string::npos);
}

TEST(RequestBody, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string body = R"({"model": "m", "messages": [{"role": "user", "content": ")" + std::string(1000, '[') + "\\\"\"}]}";
  EXPECT_EQ(parse_chat_request(body).messages[0].content, std::string(1000, '[') + "\"");
}

TEST(CompletionRequestParser, PromptForms) {
  EXPECT_EQ(parse_completion_request(R"({"model": "m", "prompt": "Once"})", kVocab).prompt_text, "Once");
  EXPECT_EQ(parse_completion_request(R"({"model": "m", "prompt": ["Once"]})", kVocab).prompt_text, "Once");
  const CompletionRequest ids = parse_completion_request(R"({"model": "m", "prompt": [1, 2, 3999]})", kVocab);
  EXPECT_EQ(ids.prompt_tokens, (std::vector<int32_t>{1, 2, 3999}));
  EXPECT_EQ(parse_completion_request(R"({"model": "m", "prompt": [[5, 6]]})", kVocab).prompt_tokens, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(parse_completion_request(R"({"model": "m", "prompt": "x"})", kVocab).max_tokens, 16);  // OpenAI's default
}

TEST(CompletionRequestParser, Refusals) {
  for (const char* body : {R"({"model": "m"})", R"({"model": "m", "prompt": 5})", R"({"model": "m", "prompt": [4000]})",
                           R"({"model": "m", "prompt": [-1]})", R"({"model": "m", "prompt": [1.5]})", R"({"model": "m", "prompt": []})",
                           R"({"model": "m", "prompt": ["a", "b"]})", R"({"model": "m", "prompt": "x", "logprobs": 6})",
                           R"({"model": "m", "prompt": "x", "echo": true, "logprobs": 2})",
                           R"({"model": "m", "prompt": "x", "suffix": "tail"})"}) {
    const ApiError e = error_of([&] { parse_completion_request(body, kVocab); });
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_FALSE(e.param.empty()) << body;
  }
}

// llama-server's `ignore_eos` reaches the scheduler (the engine side is tested in generate/);
// the demo model never draws EOS greedily, so a live test could not tell it from no-op.
TEST(CompletionRequestParser, IgnoreEosReachesTheScheduledRequest) {
  const CompletionRequest on = parse_completion_request(R"({"model": "m", "prompt": "x", "ignore_eos": true})", kVocab);
  EXPECT_TRUE(scheduled_request(on, {1, 2}).generation.ignore_eos);
  const CompletionRequest off = parse_completion_request(R"({"model": "m", "prompt": "x"})", kVocab);
  EXPECT_FALSE(scheduled_request(off, {1, 2}).generation.ignore_eos);
  const ChatRequest chat = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "ignore_eos": true})");
  EXPECT_TRUE(scheduled_request(chat, {1}).generation.ignore_eos);
  const ApiError e = error_of([] { parse_completion_request(R"({"model": "m", "prompt": "x", "ignore_eos": 1})", kVocab); });
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "ignore_eos");
}

TEST(EmbeddingRequestParser, InputForms) {
  EXPECT_EQ(parse_embedding_request(R"({"model": "m", "input": "a"})", kVocab).texts.size(), 1u);
  const EmbeddingRequest two = parse_embedding_request(R"({"model": "m", "input": ["a", "b"], "encoding_format": "base64"})", kVocab);
  EXPECT_EQ(two.texts.size(), 2u);
  EXPECT_TRUE(two.base64);
  EXPECT_EQ(parse_embedding_request(R"({"model": "m", "input": [1, 2]})", kVocab).token_inputs.size(), 1u);
  EXPECT_EQ(parse_embedding_request(R"({"model": "m", "input": [[1], [2, 3]]})", kVocab).token_inputs.size(), 2u);
  for (const char* body : {R"({"model": "m"})", R"({"input": "a"})", R"({"model": "m", "input": []})",
                           R"({"model": "m", "input": ["a", 1]})", R"({"model": "m", "input": [[1], "a"]})",
                           R"({"model": "m", "input": "a", "encoding_format": "int8"})", R"({"model": "m", "input": [99999]})"}) {
    EXPECT_EQ(error_of([&] { parse_embedding_request(body, kVocab); }).status, 400) << body;
  }
}

TEST(TokenizeRequestParser, Shapes) {
  const TokenizeRequest t = parse_tokenize_request(R"({"content": "hi", "add_special": true, "with_pieces": true})");
  EXPECT_EQ(t.content, "hi");
  EXPECT_TRUE(t.add_special);
  EXPECT_TRUE(t.with_pieces);
  EXPECT_EQ(parse_detokenize_request(R"({"tokens": [1, 2]})", kVocab).tokens.size(), 2u);
  EXPECT_EQ(error_of([] { parse_tokenize_request(R"({"content": 1})"); }).status, 400);
  EXPECT_EQ(error_of([] { parse_detokenize_request(R"({"tokens": [4000]})", kVocab); }).param, "tokens[0]");
  EXPECT_EQ(error_of([] { parse_detokenize_request(R"({"tokens": "1 2"})", kVocab); }).param, "tokens");
}

TEST(AskRequestParser, Shapes) {
  const AskRequest a = parse_ask_request(R"({"question": "Who?", "k": 3, "mode": "bm25", "stream": true})");
  EXPECT_EQ(a.question, "Who?");
  EXPECT_EQ(a.k, 3);
  EXPECT_EQ(a.mode, "bm25");
  EXPECT_EQ(error_of([] { parse_ask_request(R"({"question": ""})"); }).param, "question");
  EXPECT_EQ(error_of([] { parse_ask_request(R"({"question": "q", "k": 0})"); }).param, "k");
  EXPECT_EQ(error_of([] { parse_ask_request(R"({"question": "q", "mode": "magic"})"); }).param, "mode");
}

TEST(SeedFolding, NeverTheRandomMarker) {
  // 0xFFFFFFFF asks the sampler for a random seed; a client's seed must stay deterministic.
  const ChatRequest r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 4294967295})");
  ASSERT_TRUE(r.sampling.seed.has_value());
  EXPECT_NE(*r.sampling.seed, 0xFFFFFFFFu);
  const ChatRequest neg = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": -5})");
  EXPECT_TRUE(neg.sampling.seed.has_value());
}

}  // namespace
}  // namespace lmforge::serve
