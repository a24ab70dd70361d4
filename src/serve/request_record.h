// What one request's log line says: method, path, status, token counts and how generation
// ended. Filled on the connection's thread (handler, then the library's logger hook), and
// printed by the connection loop once the request is completely over: a stream abandoned by
// its client is only over when the scheduler confirms the cancel, after the library's logger.
#pragma once

#include <cstddef>
#include <string>

namespace lmforge::serve {

struct RequestRecord {
  std::string method, path;
  int status = 0;  // 0: the library never got as far as a response

  size_t prompt_tokens = 0;
  size_t completion_tokens = 0;
  std::string stop;  // how generation ended ("limit", "cancelled", ...); empty for other requests
};

RequestRecord& current_request_record();

}  // namespace lmforge::serve
