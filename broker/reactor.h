#pragma once
// The broker's event loop: one thread, one ROUTER socket, poll(2) over the socket's ZMQ_FD, its
// monitor's (connection closes), the storage's wake-up fd and a signalfd. Each pass drains what is ready,
// runs timers, then lets the Broker deliver, commit and flush in batches.
#include <functional>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "broker/auth/auth_store.h"
#include "broker/auth/zap_handler.h"
#include "broker/broker.h"
#include "broker/metrics_endpoint.h"
#include "broker/principal.h"
#include "broker/options.h"
#include "broker/storage.h"
#include "shared/core/clock.h"
#include "shared/core/signal_fd.h"

namespace mandrill::broker {

class Reactor final : public Transport {
 public:
  // `signals` may be null. `on_user_signal`, if set, receives SIGUSR1/SIGUSR2 (the test-only
  // fault injection hook); without it those signals are ignored.
  Reactor(BrokerOptions options, Storage& storage, zmq::context_t& context,
          core::SignalFd* signals, std::function<void(int)> on_user_signal = {});
  ~Reactor() override;

  // Recovers storage and binds. An error here is fatal for start-up (exit non-zero).
  core::Status Start();
  // Serves until SIGTERM/SIGINT/SIGQUIT; returns the process exit code.
  int Run();

  protocol::SendResult Send(const std::string& peer, const protocol::Message& m) override;
  protocol::SendResult SendBody(const std::string& peer, protocol::Command command,
                                msgpack::sbuffer&& body) override;
  Broker& broker() { return *broker_; }
  // "HOST:PORT" of the metrics endpoint; empty when off.
  std::string metrics_address() const { return metrics_ ? metrics_->address() : std::string(); }

 private:
  // Counts open connections; `notify_broker` passes closes on (not once the broker has stopped).
  void DrainMonitor(bool notify_broker);
  // Handles what the router holds, up to max_messages_per_pass; true when it stopped at that
  // bound (more may be waiting), false once the socket said EAGAIN.
  bool DrainRouter();
  // Returns true when the reactor should stop.
  bool HandleSignals();
  int Stop(bool graceful);
  void Farewell();

  // CURVE + ZAP (Start): nothing when no --curve-key was given.
  core::Status StartSecurity();
  void ReloadAuth();
  const Principal* PrincipalOf(const std::string& user_id);

  BrokerOptions options_;
  Storage& storage_;
  core::SystemClock clock_;
  zmq::context_t& context_;
  // Declared before the ROUTER so the ZAP thread outlives it.
  std::unique_ptr<auth::AuthStore> auth_;
  std::unique_ptr<auth::ZapHandler> zap_;
  std::shared_ptr<const auth::AuthTable> table_;  // the reactor's snapshot (swapped on SIGHUP)
  Principal revoked_;                             // a name ZAP admitted that is gone since
  zmq::socket_t router_;
  zmq::socket_t monitor_;
  core::SignalFd* signals_;
  std::function<void(int)> on_user_signal_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<MetricsEndpoint> metrics_;  // --metrics-bind; null when off
  std::string stop_reason_;
  bool graceful_ = true;
  int open_connections_ = 0;
};

}  // namespace mandrill::broker
