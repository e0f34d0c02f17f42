#include "shared/metrics/metrics_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <charconv>
#include <thread>

#include "shared/core/thread_name.h"
#include "shared/metrics/exposition.h"

namespace mandrill::metrics {

core::Result<HostPort> ParseHostPort(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return core::Error{core::Errc::kInvalidArgument,
                       "--metrics-bind '" + text + "': " + why + " (expected HOST:PORT)"};
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("no host");
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || hp.port < 0 ||
      hp.port > 65535) {
    return bad("port must be 0..65535");
  }
  return hp;
}

struct MetricsServer::State {
  httplib::Server http;
  std::thread thread;
  std::atomic<std::uint64_t> scrapes{0};
  std::atomic<bool> listener_done{false};  // listen_after_bind returned
};

MetricsServer::MetricsServer(std::string bind, Render render, Ready ready)
    : bind_(std::move(bind)), state_(std::make_unique<State>()) {
  auto& http = state_->http;
  // Four handler threads: a scraper keeps its connection (and a thread) while it is idle, and a
  // probe or an operator's curl should not wait behind a pair of Prometheus servers.
  http.new_task_queue = [] { return new httplib::ThreadPool(4); };
  // Only SO_REUSEADDR: cpp-httplib's default adds SO_REUSEPORT, with which a second process
  // asking for the same port would share it silently and answer half the scrapes. TCP_NODELAY
  // (inherited by accepted connections): the headers and the body leave in separate writes, and
  // on a keep-alive connection Nagle would hold the body for the scraper's delayed ACK (40 ms).
  http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  });
  // An idle keep-alive connection holds a thread, and cpp-httplib 0.11 notices stop() only when
  // the wait ends: 1 s bounds both (a 100 Hz scraper keeps its connection; Prometheus' usual
  // 15 s interval reconnects, which costs a handshake on loopback).
  http.set_keep_alive_timeout(1);
  // cpp-httplib closes a keep-alive connection after 5 requests by default; a scraper keeps one.
  http.set_keep_alive_max_count(1'000'000);
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  State* state = state_.get();
  http.Get("/metrics", [state, render = std::move(render)](const httplib::Request&,
                                                          httplib::Response& res) {
    try {
      res.set_content(render(), kContentType);
      state->scrapes.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      spdlog::error("metrics: rendering /metrics failed: {}", e.what());
      res.status = 500;
      res.set_content(std::string("rendering failed: ") + e.what() + "\n", "text/plain");
    }
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http.Get("/readyz", [ready = std::move(ready)](const httplib::Request&,
                                                 httplib::Response& res) {
    const std::string why = ready ? ready() : std::string();
    if (why.empty()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready: " + why + "\n", "text/plain");
    }
  });
}

MetricsServer::~MetricsServer() { Stop(); }

core::Status MetricsServer::Start() {
  auto hp = ParseHostPort(bind_);
  if (!hp.ok()) return hp.error();
  auto& http = state_->http;
  int port = hp->port;
  if (port == 0) {
    port = http.bind_to_any_port(hp->host);
  } else if (!http.bind_to_port(hp->host, port)) {
    port = -1;
  }
  if (port < 0) {
    return core::Error{core::Errc::kUnavailable,
                       "--metrics-bind " + bind_ + ": cannot listen there (port in use, or not "
                       "an address of this host)"};
  }
  address_ = (hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host) + ":" +
             std::to_string(port);
  state_->thread = std::thread([this] {
    core::SetThreadName("metrics");
    if (!state_->http.listen_after_bind()) spdlog::error("metrics: server on {} stopped", address_);
    state_->listener_done = true;
  });
  if (hp->host != "127.0.0.1" && hp->host != "::1" && hp->host != "localhost") {
    spdlog::warn("metrics on {} are served without authentication to anyone who can reach it "
                 "(queue names and figures, nothing else)",
                 address_);
  }
  spdlog::info("metrics on http://{}/metrics (/healthz, /readyz)", address_);
  return core::Status::Ok();
}

void MetricsServer::Stop() {
  if (!state_->thread.joinable()) return;
  // cpp-httplib 0.11's stop() does nothing until the listener thread is inside its accept loop
  // (is_running); called earlier (a broker whose recovery fails right after Start), the
  // listener would then block in accept() for good and the join below with it. The listener
  // gets there, or fails, within microseconds of starting.
  while (!state_->http.is_running() && !state_->listener_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  state_->http.stop();
  state_->thread.join();
}

std::uint64_t MetricsServer::scrapes() const {
  return state_->scrapes.load(std::memory_order_relaxed);
}

}  // namespace mandrill::metrics
