// libFuzzer harness: arbitrary bytes as an HTTP request body for the server's parsers. The
// first byte picks the endpoint (chat, completions, embeddings, tokenize, detokenize, ask); the
// rest is the body. The only acceptable failure is an ApiException with status 400 (a client
// error, never a crash or a 500); a request that parses is then rendered through the response
// builders, which must not throw on any text it carried.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "serve/api_error.h"
#include "serve/requests.h"
#include "serve/responses.h"

namespace {

constexpr size_t kVocab = 4000;

void render(const lmforge::serve::ChatRequest& r) {
  using namespace lmforge::serve;
  std::string all;
  for (const auto& m : r.messages) all += m.content;
  const ResponseMeta meta{"chatcmpl-fuzz", 0, r.model};
  (void)dump_json(chat_completion_json(meta, all, "stop", {1, 2}, nullptr));
  std::vector<TokenLogprobEntry> e = {{all.substr(0, 7), -1.0f, {{r.model, -2.0f}}}};
  (void)sse_event(chat_logprobs_json(e));
  (void)sse_event(completion_logprobs_json(e, 3));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace lmforge::serve;
  try {
    switch (data[0] % 6) {
      case 0: render(parse_chat_request(body)); break;
      case 1: (void)parse_completion_request(body, kVocab); break;
      case 2: (void)parse_embedding_request(body, kVocab); break;
      case 3: (void)parse_tokenize_request(body); break;
      case 4: {
        const DetokenizeRequest r = parse_detokenize_request(body, kVocab);
        for (int32_t id : r.tokens)
          if (id < 0 || static_cast<size_t>(id) >= kVocab) std::abort();
        break;
      }
      default: (void)parse_ask_request(body); break;
    }
  } catch (const ApiException& e) {
    if (e.error().status != 400 || e.error().message.empty()) std::abort();
    (void)error_body(e.error());
  }
  return 0;
}
