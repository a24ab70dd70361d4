// A generation sent as server-sent events, the one loop chat, completions and ask share: the
// connection's thread takes what the scheduler sent, a handler-specific function turns it into
// event text, and the text is written. A client that goes away (or a write that fails) abandons
// the generation at once, so its slot is freed before the connection closes.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "serve/generation_runner.h"

namespace lmforge::serve {

// Sets the event-stream headers and the chunked provider on `res`. `events` is called on the
// connection's thread for every take (tokens, the end, or nothing within the wait) and returns
// the events to write (possibly none); it keeps whatever per-stream state it needs.
void stream_generation_events(httplib::Response& res, std::shared_ptr<ActiveGeneration> gen,
                              std::function<std::string(GenerationChannel::Taken&)> events);

}  // namespace lmforge::serve
