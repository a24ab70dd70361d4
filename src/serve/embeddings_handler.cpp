// POST /v1/embeddings: strings or token ids to vectors, as floats or as base64 of
// little-endian f32 (the official SDKs ask for base64 by default and decode it).
#include "serve/api_error.h"
#include "serve/embedding_service.h"
#include "serve/handlers.h"
#include "serve/request_record.h"
#include "serve/requests.h"
#include "serve/responses.h"

namespace lmforge::serve {

void handle_embeddings(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  EmbeddingRequest r = parse_embedding_request(req.body, s.tokenizer->size());
  EmbeddingService* e = s.embeddings;
  if (!e || (r.model != e->model_id() && r.model != s.model_id)) throw ApiException(model_not_found_error(r.model));
  EmbeddingService::Result out;
  if (!r.token_inputs.empty()) {
    if (!e->token_inputs_ok())
      throw_bad_request("Token-id inputs are only accepted when the served model itself embeds; send text", "input");
    out = e->embed_tokens(r.token_inputs);
  } else {
    out = e->embed_texts(r.texts);
  }
  current_request_record().prompt_tokens = out.tokens;
  send_json(res, embeddings_json(e->model_id(), out.vectors, r.base64, out.tokens));
}

}  // namespace lmforge::serve
