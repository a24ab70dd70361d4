// POST /tokenize and /detokenize in llama-server's shapes: {"content", "add_special",
// "with_pieces"} -> {"tokens": [id, ...]} or, with pieces, [{"id", "piece"}] where a piece that
// is not whole UTF-8 (one byte of a character) is given as its list of bytes;
// {"tokens"} -> {"content"}.
#include "core/text_checks.h"
#include "serve/handlers.h"
#include "serve/requests.h"
#include "serve/responses.h"

namespace lmforge::serve {

void handle_tokenize(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  const TokenizeRequest r = parse_tokenize_request(req.body);
  const Tokenizer& tok = *s.tokenizer;
  const std::vector<int32_t> ids = tok.encode(r.content, r.add_special && tok.add_bos(), false);
  nlohmann::json tokens = nlohmann::json::array();
  for (const int32_t id : ids) {
    if (!r.with_pieces) {
      tokens.push_back(id);
      continue;
    }
    const std::string piece = tok.token_text(id);
    tokens.push_back({{"id", id}, {"piece", is_valid_utf8(piece) ? nlohmann::json(piece) : bytes_json(piece)}});
  }
  send_json(res, {{"tokens", tokens}});
}

void handle_detokenize(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  const DetokenizeRequest r = parse_detokenize_request(req.body, s.tokenizer->size());
  send_json(res, {{"content", s.tokenizer->decode(r.tokens)}});
}

}  // namespace lmforge::serve
