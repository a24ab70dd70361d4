#include "serve/event_stream.h"

#include <utility>

#include "serve/handlers.h"

namespace lmforge::serve {

void stream_generation_events(httplib::Response& res, std::shared_ptr<ActiveGeneration> gen,
                              std::function<std::string(GenerationChannel::Taken&)> events) {
  set_event_stream_headers(res);
  res.set_chunked_content_provider(
      "text/event-stream",
      [gen, events = std::move(events)](size_t, httplib::DataSink& sink) {
        GenerationChannel::Taken t = gen->next();
        if (gen->client_gone()) {
          gen->abandon();
          return false;
        }
        const std::string out = events(t);
        if (!out.empty() && !sink.write(out.data(), out.size())) {
          gen->abandon();
          return false;
        }
        if (t.done) sink.done();
        return true;
      },
      [gen](bool success) {
        if (!success) gen->abandon();  // the client went away (or a write failed)
      });
}

}  // namespace lmforge::serve
