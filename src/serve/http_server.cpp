#include "serve/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "serve/api_error.h"

namespace lmforge::serve {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The slice in which waits re-check whether the server is stopping.
constexpr milliseconds kPollSlice{200};

int poll_one(int fd, short events, milliseconds timeout, short& revents) {
  pollfd p{fd, events, 0};
  while (true) {
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
    if (r < 0 && errno == EINTR) continue;
    revents = p.revents;
    return r;
  }
}

void peer_address(int fd, bool local, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int r = local ? ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

// One connection's socket as the library's Stream: buffered reads (the library reads request
// lines a byte at a time), each bounded by the current request's deadline; writes bounded by
// the write timeout, never raising SIGPIPE.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, const HttpLimits& limits) : fd_(fd), limits_(limits) {}

  // Waits for the first byte of the next request; false on idle timeout, close or shutdown.
  bool wait_for_request(const std::atomic<bool>& stopping) {
    const auto until = Clock::now() + limits_.idle_timeout;
    while (pos_ == len_) {
      if (stopping.load()) return false;
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
      if (left.count() <= 0) return false;
      short rev = 0;
      const int r = poll_one(fd_, POLLIN, std::min(left, kPollSlice), rev);
      if (r < 0) return false;
      if (r == 0) continue;
      if (fill(0) <= 0) return false;
    }
    return true;
  }

  void start_request() {
    started_ = Clock::now();
    deadline_ = started_ + limits_.request_timeout;
    timed_out_ = false;
    written_ = 0;
  }
  bool timed_out() const { return timed_out_; }
  size_t written() const { return written_; }
  Clock::time_point started() const { return started_; }

  bool is_readable() const override {
    if (pos_ < len_) return true;
    short rev = 0;
    return poll_one(fd_, POLLIN, remaining(), rev) > 0;
  }

  bool is_writable() const override {
    short rev = 0;
    const int r = poll_one(fd_, POLLOUT | POLLRDHUP, limits_.write_timeout, rev);
    return r > 0 && (rev & POLLOUT) && !(rev & (POLLERR | POLLHUP | POLLRDHUP));
  }

  // Whether the client is still there: not closed, reset or half-closed. Data it sent ahead (a
  // pipelined request) does not count against it.
  bool peer_alive() const {
    short rev = 0;
    const int r = poll_one(fd_, POLLRDHUP, milliseconds(0), rev);
    return r == 0 || !(rev & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL));
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      const ssize_t n = fill(1);
      if (n <= 0) return n < 0 ? -1 : 0;
    }
    const size_t n = std::min(size, len_ - pos_);
    std::copy(buf_ + pos_, buf_ + pos_ + n, ptr);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    short rev = 0;
    const int r = poll_one(fd_, POLLOUT, limits_.write_timeout, rev);
    if (r <= 0 || !(rev & POLLOUT)) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n > 0) written_ += static_cast<size_t>(n);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { peer_address(fd_, false, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { peer_address(fd_, true, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  milliseconds remaining() const {
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now()));
  }

  // Reads what the socket has into the buffer; with `bounded` waits no longer than the
  // request's deadline (then marks it timed out). Returns bytes read, 0 at EOF, -1 on error.
  ssize_t fill(int bounded) {
    if (bounded) {
      short rev = 0;
      const int r = poll_one(fd_, POLLIN, remaining(), rev);
      if (r == 0) timed_out_ = true;
      if (r <= 0) return -1;
    }
    ssize_t n;
    do {
      n = ::recv(fd_, buf_, sizeof buf_, 0);
    } while (n < 0 && errno == EINTR);
    pos_ = 0;
    len_ = n > 0 ? static_cast<size_t>(n) : 0;
    return n;
  }

  int fd_;
  const HttpLimits& limits_;
  char buf_[16384];
  size_t pos_ = 0, len_ = 0;
  Clock::time_point started_{}, deadline_{};
  bool timed_out_ = false;
  size_t written_ = 0;
};

thread_local ConnectionStream* t_stream = nullptr;
thread_local bool t_shed = false;  // this connection is over the cap: answer 503 and close

// Connections served by a bounded set of workers, started on demand; beyond the waiting room,
// connections are handed to one thread that only answers 503 and closes them (that answer
// needs no request parsing, so it cannot be held up by a slow client).
class ConnectionPool final : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t max_workers, size_t max_waiting) : max_workers_(std::max<size_t>(1, max_workers)), max_waiting_(max_waiting) {
    shedder_ = std::thread([this] { shed_loop(); });
  }
  ~ConnectionPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    const size_t waiting = jobs_.size();
    if (waiting < idle_) {
      jobs_.push_back(std::move(fn));
    } else if (workers_.size() < max_workers_) {
      jobs_.push_back(std::move(fn));
      workers_.emplace_back([this] { work_loop(); });
    } else if (waiting - idle_ < max_waiting_) {
      jobs_.push_back(std::move(fn));
    } else {
      shed_.push_back(std::move(fn));
      lock.unlock();
      shed_cv_.notify_one();
      return;
    }
    lock.unlock();
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    shed_cv_.notify_all();
    for (auto& t : workers_) t.join();
    shedder_.join();
  }

 private:
  void work_loop() {
    std::unique_lock lock(mu_);
    while (true) {
      ++idle_;
      cv_.wait(lock, [&] { return !jobs_.empty() || stopped_; });
      --idle_;
      if (jobs_.empty()) return;  // stopped, nothing left
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  void shed_loop() {
    std::unique_lock lock(mu_);
    while (true) {
      shed_cv_.wait(lock, [&] { return !shed_.empty() || stopped_; });
      if (shed_.empty()) return;
      auto fn = std::move(shed_.front());
      shed_.pop_front();
      lock.unlock();
      t_shed = true;
      fn();
      t_shed = false;
      lock.lock();
    }
  }

  const size_t max_workers_, max_waiting_;
  std::mutex mu_;
  std::condition_variable cv_, shed_cv_;
  std::deque<std::function<void()>> jobs_, shed_;
  std::vector<std::thread> workers_;
  std::thread shedder_;
  size_t idle_ = 0;
  bool stopped_ = false;
};

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    short rev = 0;
    if (poll_one(fd, POLLOUT, milliseconds(1000), rev) <= 0) return;
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string plain_error_response(int status, const char* reason, const ApiError& e, const char* extra_header) {
  const std::string body = error_body(e);
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\n" + extra_header +
         "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Closes after reading what the client already sent (briefly), so that the kernel does not
// answer the unread bytes with a reset that could destroy the response in flight.
void close_gracefully(int fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  const auto until = Clock::now() + milliseconds(200);
  while (Clock::now() < until) {
    short rev = 0;
    if (poll_one(fd, POLLIN, milliseconds(50), rev) <= 0) break;
    if (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
  }
  ::close(fd);
}

}  // namespace

BoundedHttpServer::BoundedHttpServer(const HttpLimits& limits) : limits_(limits) {
  new_task_queue = [this] { return new ConnectionPool(limits_.max_connections, limits_.max_waiting); };
  set_payload_max_length(limits_.max_body);
  const auto ms = limits_.request_timeout.count();
  set_read_timeout(ms / 1000, (ms % 1000) * 1000);
  const auto wms = limits_.write_timeout.count();
  set_write_timeout(wms / 1000, (wms % 1000) * 1000);
  set_keep_alive_max_count(limits_.max_requests_per_connection);
}

BoundedHttpServer::~BoundedHttpServer() = default;

void BoundedHttpServer::widen_backlog() {
  // Linux lets a listening socket's backlog be changed by calling listen() again.
  const socket_t s = svr_sock_.load();
  if (s != INVALID_SOCKET) ::listen(s, limits_.listen_backlog);
}

bool BoundedHttpServer::bind(const std::string& host, int port) {
  if (!bind_to_port(host, port)) return false;
  widen_backlog();
  return true;
}

int BoundedHttpServer::bind_any_port(const std::string& host) {
  const int port = bind_to_any_port(host);
  if (port > 0) widen_backlog();
  return port;
}

void BoundedHttpServer::begin_shutdown() {
  stopping_ = true;
  // The library's stop() asserts that the listening socket is still open; after a first
  // successful stop it is not, and callers may repeat this until the listen loop has ended.
  if (svr_sock_.load() != INVALID_SOCKET) stop();
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  if (t_shed) {
    write_all(sock, plain_error_response(503, "Service Unavailable", server_busy_error(), "Retry-After: 1\r\n"));
    close_gracefully(sock);
    return true;
  }
  ++open_;
  {
    ConnectionStream strm(sock, limits_);
    t_stream = &strm;
    for (size_t n = 0; n < limits_.max_requests_per_connection; ++n) {
      if (!strm.wait_for_request(stopping_)) break;
      strm.start_request();
      const bool last = n + 1 == limits_.max_requests_per_connection || stopping_.load();
      bool connection_closed = false;
      const bool ok = process_request(strm, last, connection_closed, [&](httplib::Request& req) {
        strm.get_remote_ip_and_port(req.remote_addr, req.remote_port);
        strm.get_local_ip_and_port(req.local_addr, req.local_port);
      });
      if (request_done_) request_done_();
      if (!ok) {
        if (strm.timed_out() && strm.written() == 0) {
          ApiError e = error_for_status(408);
          e.message = "The request was not received within " + std::to_string(limits_.request_timeout.count()) + " ms";
          write_all(sock, plain_error_response(408, "Request Timeout", e, ""));
        }
        break;
      }
      if (connection_closed || strm.timed_out()) break;  // a request that ran out of time ends its connection
    }
    t_stream = nullptr;
  }
  close_gracefully(sock);
  --open_;
  return true;
}

bool current_connection_alive() { return t_stream != nullptr && t_stream->peer_alive(); }

bool current_request_timed_out() { return t_stream != nullptr && t_stream->timed_out(); }

std::chrono::steady_clock::time_point current_request_start() {
  return t_stream ? t_stream->started() : std::chrono::steady_clock::now();
}

}  // namespace lmforge::serve
