// The server's life: listen first (so /health can say "loading"), let the caller load the
// model and fill the state, serve until SIGINT or SIGTERM, then shut down cleanly: no new
// connections, running generations cancelled (their clients get the end of their stream),
// every connection closed, then return so the process exits 0.
//
// The constructor installs SIGINT/SIGTERM handlers that only record the signal (whichever
// thread it lands on; SA_RESTART, so other threads' system calls resume), and ignores SIGPIPE
// (a client that goes away must not kill the server).
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
  // Waits (checking every 50 ms) for SIGINT/SIGTERM or request_stop(), then shuts down as
  // described above.
  void serve_until_stopped();
  void request_stop() { stop_requested_ = true; }

 private:
  // Stops the server and joins its listener. The library's stop() does nothing before its
  // listen loop has started, so it is repeated until the loop has ended.
  void stop_listener();

  ServeState& state_;
  BoundedHttpServer server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  std::atomic<bool> stop_requested_{false};
};

}  // namespace lmforge::serve
