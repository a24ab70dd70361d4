// What one request's log line says beyond the method, path and status: its token counts.
// Filled by the handler on the connection's thread (the same thread that writes the response
// and then logs it), read by the logger.
#pragma once

#include <cstddef>

namespace lmforge::serve {

struct RequestRecord {
  size_t prompt_tokens = 0;
  size_t completion_tokens = 0;
};

RequestRecord& current_request_record();

}  // namespace lmforge::serve
