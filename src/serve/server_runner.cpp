#include "serve/server_runner.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#include "core/error.h"
#include "serve/routes.h"

namespace lmforge::serve {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

ServerRunner::ServerRunner(ServeState& state, const HttpLimits& limits) : state_(state), server_(limits) {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  register_routes(server_, state_);
}

ServerRunner::~ServerRunner() {
  if (listener_.joinable()) {
    server_.begin_shutdown();
    listener_.join();
  }
}

int ServerRunner::start(const std::string& host, int port) {
  int bound = port;
  if (port == 0) {
    bound = server_.bind_any_port(host);
    if (bound <= 0) fail(host, "cannot listen on a free port of this address");
  } else if (!server_.bind(host, port)) {
    fail(host + ":" + std::to_string(port), "cannot listen here (is the port taken, or the address not this machine's?)");
  }
  listener_ = std::thread([this] { server_.listen_after_bind(); });
  return bound;
}

void ServerRunner::serve_until_stopped() {
  const sigset_t set = stop_signals();
  const timespec slice{0, 200 * 1000 * 1000};
  while (!stop_requested_.load()) {
    const int sig = sigtimedwait(&set, nullptr, &slice);
    if (sig == SIGINT || sig == SIGTERM) {
      std::fprintf(stderr, "lmforge serve: %s received; shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
  }
  // Generations first: their streams then end (cancelled), which lets their connections close.
  if (state_.scheduler) state_.scheduler->shutdown(false);
  server_.begin_shutdown();
  if (listener_.joinable()) listener_.join();
  std::fprintf(stderr, "lmforge serve: stopped\n");
}

}  // namespace lmforge::serve
