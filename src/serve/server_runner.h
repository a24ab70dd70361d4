// The server's life: listen first (so /health can say "loading"), let the caller load the
// model and fill the state, serve until SIGINT or SIGTERM, then shut down cleanly: no new
// connections, running generations cancelled (their clients get the end of their stream),
// every connection closed, then return so the process exits 0.
//
// Signals are taken by a thread of their own (sigtimedwait): the constructor blocks SIGINT and
// SIGTERM for the whole process, so it must run before any other thread is started, and it
// ignores SIGPIPE (a client that goes away must not kill the server).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "serve/http_server.h"
#include "serve/serve_state.h"

namespace lmforge::serve {

class ServerRunner {
 public:
  ServerRunner(ServeState& state, const HttpLimits& limits);
  ~ServerRunner();

  // Binds (port 0: a free port) and starts serving; returns the port, or throws lmforge::Error.
  int start(const std::string& host, int port);
  // Blocks until SIGINT/SIGTERM (or request_stop()), then shuts down as described above.
  void serve_until_stopped();
  void request_stop() { stop_requested_ = true; }

 private:
  ServeState& state_;
  BoundedHttpServer server_;
  std::thread listener_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace lmforge::serve
