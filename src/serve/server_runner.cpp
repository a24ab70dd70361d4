#include "serve/server_runner.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "serve/routes.h"

namespace lmforge::serve {

namespace {

// The signal that asked the server to stop (0: none yet). A handler rather than sigwait: some
// threads exist before the server can block signals in them (OpenBLAS starts its own when the
// library loads), and a process-directed signal may land on any thread that does not block
// it, so only a handler catches it wherever it lands.
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

}  // namespace

ServerRunner::ServerRunner(ServeState& state, const HttpLimits& limits) : state_(state), server_(limits) {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // other threads' system calls resume rather than fail with EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  register_routes(server_, state_);
}

ServerRunner::~ServerRunner() { stop_listener(); }

void ServerRunner::stop_listener() {
  if (!listener_.joinable()) return;
  server_.begin_shutdown();
  while (!listener_done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server_.begin_shutdown();
  }
  listener_.join();
}

int ServerRunner::start(const std::string& host, int port) {
  int bound = port;
  if (port == 0) {
    bound = server_.bind_any_port(host);
    if (bound <= 0) fail(host, "cannot listen on a free port of this address");
  } else if (!server_.bind(host, port)) {
    fail(host + ":" + std::to_string(port), "cannot listen here (is the port taken, or the address not this machine's?)");
  }
  listener_ = std::thread([this] {
    server_.listen_after_bind();
    listener_done_ = true;
  });
  return bound;
}

void ServerRunner::serve_until_stopped() {
  while (!stop_requested_.load()) {
    const int sig = g_stop_signal.load();
    if (sig != 0) {
      std::fprintf(stderr, "lmforge serve: %s received; shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Generations first: their streams then end (cancelled), which lets their connections close.
  if (state_.scheduler) state_.scheduler->shutdown(false);
  stop_listener();
  std::fprintf(stderr, "lmforge serve: stopped\n");
}

}  // namespace lmforge::serve
