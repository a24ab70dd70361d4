// The response builders (serve/responses.h, serve/api_error.h): the shapes the official SDKs
// read, base64 embeddings decoded back to the same floats, error objects with null param/code.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "serve/api_error.h"
#include "serve/api_key.h"
#include "serve/metrics.h"
#include "serve/responses.h"

namespace lmforge::serve {
namespace {

using json = nlohmann::json;

std::vector<uint8_t> base64_decode(const std::string& s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = value(c);
    if (v < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

TEST(ErrorObjects, OpenAIShapeWithNulls) {
  const json e = error_json(ApiError{400, "bad", "invalid_request_error", "", ""});
  ASSERT_TRUE(e.contains("error"));
  EXPECT_EQ(e["error"]["message"], "bad");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(e["error"]["param"].is_null());
  EXPECT_TRUE(e["error"]["code"].is_null());
  const json m = error_json(model_not_found_error("gpt-4"));
  EXPECT_EQ(m["error"]["code"], "model_not_found");
  EXPECT_EQ(model_not_found_error("x").status, 404);
  EXPECT_EQ(unauthorized_error().status, 401);
  EXPECT_EQ(server_busy_error().status, 503);
}

TEST(ErrorObjects, InvalidUtf8NeverThrows) {
  EXPECT_NO_THROW(error_body(ApiError{400, "bad \xFF byte", "invalid_request_error", "", ""}));
}

TEST(Base64Embeddings, DecodeToTheSameLittleEndianFloats) {
  for (size_t n : {0u, 1u, 2u, 3u, 7u, 256u}) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * -0.37f + 1e-3f;
    const std::vector<uint8_t> bytes = base64_decode(base64_f32_le(v));
    ASSERT_EQ(bytes.size(), n * 4);
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) bits |= uint32_t(bytes[i * 4 + static_cast<size_t>(b)]) << (8 * b);
      float f;
      std::memcpy(&f, &bits, 4);
      EXPECT_EQ(f, v[i]);
    }
  }
  EXPECT_EQ(base64_f32_le(std::vector<float>{1.0f}), "AACAPw==");  // 0x3F800000 little-endian
}

TEST(ChatShapes, CompletionAndChunks) {
  const ResponseMeta m{"chatcmpl-x", 1700000000, "demo"};
  const json c = chat_completion_json(m, "Hello", "stop", {5, 2}, nullptr);
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["total_tokens"], 7);
  const json first = chat_chunk_json(m, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr, true);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(first.contains("usage") && first["usage"].is_null());
  EXPECT_FALSE(chat_chunk_json(m, json::object(), "length", nullptr, false).contains("usage"));
  const json u = usage_chunk_json(m, "chat.completion.chunk", {3, 4});
  EXPECT_TRUE(u["choices"].empty());
  EXPECT_EQ(u["usage"]["completion_tokens"], 4);
  EXPECT_EQ(sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(ChatShapes, FinishReasons) {
  EXPECT_EQ(finish_reason_name(StopReason::kEndOfText), "stop");
  EXPECT_EQ(finish_reason_name(StopReason::kStopString), "stop");
  EXPECT_EQ(finish_reason_name(StopReason::kLimit), "length");
  EXPECT_EQ(finish_reason_name(StopReason::kContextFull), "length");
}

TEST(Logprobs, ChatAndLegacyForms) {
  std::vector<TokenLogprobEntry> e = {{"He", -0.5f, {{"He", -0.5f}, {"She", -1.5f}}}, {"\xE2", -2.0f, {}}};
  const json chat = chat_logprobs_json(e);
  ASSERT_EQ(chat["content"].size(), 2u);
  EXPECT_EQ(chat["content"][0]["token"], "He");
  EXPECT_EQ(chat["content"][0]["bytes"], json::array({72, 101}));
  EXPECT_EQ(chat["content"][0]["top_logprobs"][1]["token"], "She");
  EXPECT_EQ(chat["content"][1]["bytes"], json::array({0xE2}));  // a partial character keeps its byte
  const json legacy = completion_logprobs_json(e, 10);
  EXPECT_EQ(legacy["tokens"][0], "He");
  EXPECT_EQ(legacy["text_offset"], json::array({10, 12}));
  EXPECT_FLOAT_EQ(legacy["top_logprobs"][0]["She"].get<float>(), -1.5f);
}

TEST(Embeddings, ListShape) {
  const std::vector<std::vector<float>> v = {{0.5f, -0.5f}, {1.0f, 0.0f}};
  const json f = embeddings_json("demo", v, false, 9);
  EXPECT_EQ(f["object"], "list");
  EXPECT_EQ(f["data"][1]["index"], 1);
  EXPECT_EQ(f["data"][0]["embedding"], json::array({0.5, -0.5}));
  EXPECT_EQ(f["usage"]["prompt_tokens"], 9);
  EXPECT_TRUE(embeddings_json("demo", v, true, 9)["data"][0]["embedding"].is_string());
}

TEST(Models, ListShape) {
  const json m = models_json("demo", 5);
  EXPECT_EQ(m["data"][0]["id"], "demo");
  EXPECT_EQ(m["data"][0]["object"], "model");
}

TEST(ApiKey, ConstantTimeCompareAndBearerParsing) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secreT", "secret"));
  EXPECT_FALSE(constant_time_equal("secret1", "secret"));
  EXPECT_FALSE(constant_time_equal("", "secret"));
  EXPECT_FALSE(constant_time_equal("secretsecret", "secret"));  // a repeat of the key is not the key
  const ApiKeyCheck k("sk-123");
  EXPECT_TRUE(k.accepts("Bearer sk-123"));
  EXPECT_TRUE(k.accepts("bearer sk-123"));
  EXPECT_FALSE(k.accepts("Bearer sk-12"));
  EXPECT_FALSE(k.accepts("sk-123"));
  EXPECT_FALSE(k.accepts(""));
  EXPECT_TRUE(ApiKeyCheck("").accepts(""));
}

TEST(MetricsText, GaugesCountersHistograms) {
  Metrics m;
  m.count_request(200);
  m.count_request(200);
  m.count_request(400);
  m.count_tokens(10, 5);
  m.observe_first_token_seconds(0.03);
  m.observe_tokens_per_second(42);
  const std::string t = m.render({1, 2, 3});
  EXPECT_NE(t.find("lmforge_http_requests_total{status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("lmforge_http_requests_total{status=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("\nlmforge_requests_processing 1\n"), std::string::npos);
  EXPECT_NE(t.find("\nlmforge_requests_queued 2\n"), std::string::npos);
  EXPECT_NE(t.find("\nlmforge_slots_idle 3\n"), std::string::npos);
  EXPECT_NE(t.find("lmforge_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("lmforge_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"), std::string::npos);
  EXPECT_NE(t.find("lmforge_tokens_per_second_count 1\n"), std::string::npos);
}

}  // namespace
}  // namespace lmforge::serve
