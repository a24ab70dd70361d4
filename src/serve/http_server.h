// cpp-httplib's Server with the limits a server facing untrusted clients needs, which the
// library's own connection loop (0.11) does not give:
//  - a deadline for reading each whole request (headers and body): a client that trickles a
//    header byte by byte is answered 408 and disconnected when it passes, however often it sends;
//  - an idle timeout between keep-alive requests, and a write timeout;
//  - a cap on connections: at most `max_connections` are served at once, `max_waiting` more wait
//    for a worker, and any beyond are answered 503 with Retry-After at once and closed;
//  - a way for handlers to learn that their client went away (current_connection_alive()), so a
//    generation whose reader is gone is cancelled at once instead of running to its end.
// The library still parses HTTP (request line, headers, chunked bodies, keep-alive): only the
// socket loop and the stream underneath are ours (process_and_close_socket is the library's
// virtual hook for that).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

#include <httplib.h>

namespace lmforge::serve {

struct HttpLimits {
  size_t max_body = size_t{8} << 20;                 // bytes; more is 413
  std::chrono::milliseconds request_timeout{30000};  // reading one whole request
  std::chrono::milliseconds write_timeout{30000};    // one blocked write
  std::chrono::milliseconds idle_timeout{5000};      // between keep-alive requests
  size_t max_connections = 128;                      // served at once
  size_t max_waiting = 64;                           // accepted, waiting for a worker
  size_t max_requests_per_connection = 1000;
  int listen_backlog = 512;
};

class BoundedHttpServer : public httplib::Server {
 public:
  explicit BoundedHttpServer(const HttpLimits& limits);
  ~BoundedHttpServer() override;

  // bind_to_port, then a larger listen backlog than the library's fixed 5.
  bool bind(const std::string& host, int port);
  int bind_any_port(const std::string& host);
  // Stops taking connections and closes idle keep-alive ones; requests in progress finish.
  // listen_after_bind() returns once every connection has closed. Called before the listen
  // loop has started it has no effect on the loop: repeat it until the loop has ended.
  void begin_shutdown();
  bool shutting_down() const { return stopping_.load(); }
  size_t open_connections() const { return open_.load(); }
  // Called on the connection's thread after each request is completely over (its response
  // written or abandoned, the response object destroyed).
  void set_request_done(std::function<void()> fn) { request_done_ = std::move(fn); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  void widen_backlog();

  HttpLimits limits_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_{0};
  std::function<void()> request_done_;
};

// For handlers and content providers running on a connection's thread: false once the client
// has closed or reset its side (or outside any connection).
bool current_connection_alive();
// Whether the request on this thread ran out of its read deadline (the library then reports a
// bad request; the error handler makes it the 408 it is).
bool current_request_timed_out();
// When the request being handled on this thread began to arrive.
std::chrono::steady_clock::time_point current_request_start();

}  // namespace lmforge::serve
