#pragma once
// The HTTP endpoint of --metrics-bind HOST:PORT (cpp-httplib, its own threads):
//   GET /metrics  the Prometheus text format, rendered by `render` from the snapshot the owning
//                 thread last published (SnapshotSlot): a scrape never reaches the reactor or
//                 the worker loop, so it cannot slow message handling;
//   GET /healthz  200 while the process serves at all (liveness);
//   GET /readyz   200 when `ready` returns an empty string, else 503 with its reason
//                 (broker: journal recovered and accepting; worker: welcomed by its broker).
// Anything else is 404. `render` and `ready` run on the server's threads.
#include <functional>
#include <memory>
#include <string>

#include "shared/core/result.h"

namespace httplib {
class Server;
}

namespace mandrill::metrics {

struct HostPort {
  std::string host;
  int port = 0;
};
// "HOST:PORT" (a port of 0 picks a free one; "[::1]:PORT" for IPv6).
core::Result<HostPort> ParseHostPort(const std::string& text);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  using Ready = std::function<std::string()>;  // empty: ready; else why not

  MetricsServer(std::string bind, Render render, Ready ready);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving; an error (bad address, port taken) is fatal for the caller.
  core::Status Start();
  void Stop();
  // "HOST:PORT" actually bound (the port chosen when 0 was asked).
  const std::string& address() const { return address_; }
  std::uint64_t scrapes() const;

 private:
  struct State;
  std::string bind_;
  std::string address_;
  std::unique_ptr<State> state_;
};

}  // namespace mandrill::metrics
