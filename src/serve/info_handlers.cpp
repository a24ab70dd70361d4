// The small GET routes: /health, /v1/models, /metrics (Prometheus text) and /slots (each
// slot's state, as the scheduler reports it).
#include "serve/api_error.h"
#include "serve/handlers.h"
#include "serve/responses.h"

namespace lmforge::serve {

void send_json(httplib::Response& res, const nlohmann::json& body, int status) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void set_event_stream_headers(httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
}

// While the model loads: 503 with llama-server's body for this state (its message, type and
// numeric code), so that scripts and probes written for llama-server read it the same way; the
// other routes answer 503 with an OpenAI error object (code "model_loading") meanwhile.
void handle_health(ServeState& s, const httplib::Request&, httplib::Response& res) {
  if (!s.ready.load()) {
    res.set_header("Retry-After", "1");
    send_json(res, {{"error", {{"message", "Loading model"}, {"type", "unavailable_error"}, {"code", 503}}}}, 503);
    return;
  }
  send_json(res, {{"status", "ok"}});
}

void handle_models(ServeState& s, const httplib::Request& req, httplib::Response& res) {
  if (req.matches.size() > 1) {  // /v1/models/{id}
    const std::string id = req.matches[1];
    if (id != s.model_id) throw ApiException(model_not_found_error(id));
    send_json(res, models_json(s.model_id, s.created)["data"][0]);
    return;
  }
  send_json(res, models_json(s.model_id, s.created));
}

void handle_metrics(ServeState& s, const httplib::Request&, httplib::Response& res) {
  SlotGauges g;
  if (s.scheduler) {
    const SchedulerStats st = s.scheduler->stats();
    g.processing = st.slots_busy;
    g.queued = st.queued;
    g.idle = st.slots_total - st.slots_busy;
  }
  res.set_content(s.metrics.render(g), "text/plain; version=0.0.4");
}

void handle_slots(ServeState& s, const httplib::Request&, httplib::Response& res) {
  nlohmann::json list = nlohmann::json::array();
  for (const SlotInfo& slot : s.scheduler->slots())
    list.push_back({{"id", slot.id},
                    {"state", slot.state},
                    {"is_processing", slot.state != "idle"},
                    {"request", slot.request},
                    {"n_past", slot.n_past},
                    {"n_prompt", slot.n_prompt},
                    {"n_generated", slot.n_generated},
                    {"n_ctx", s.scheduler->n_ctx()}});
  send_json(res, list);
}

}  // namespace lmforge::serve
