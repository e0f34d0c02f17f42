#pragma once
// The worker's network thread: the only thread that touches the DEALER socket. It announces the
// worker (READY) on every (re)connection, heartbeats, detects a silent broker and reconnects
// (recreating the socket, Paranoid Pirate style, with ZeroMQ's capped exponential reconnect
// backoff), passes deliveries to a DeliverySink and sends what Settlements accumulated as batches.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "shared/core/clock.h"
#include "worker/delivery_sink.h"
#include "worker/settlements.h"

namespace mandrill::worker {

struct NetOptions {
  std::string broker = "tcp://127.0.0.1:5555";
  std::string name;                 // shown in broker stats
  std::vector<std::string> queues;  // consume from
  std::uint32_t credit = 16;
  std::chrono::milliseconds heartbeat{1000};  // until the broker's WELCOME says otherwise
  int liveness = 3;
  std::chrono::milliseconds reconnect_max{5000};
};

struct NetCounters {
  std::atomic<std::uint64_t> delivered{0}, acks_sent{0}, nacks_sent{0}, extends_sent{0},
      lease_lost{0}, reconnects{0}, errors{0};
};

class NetThread {
 public:
  NetThread(NetOptions options, zmq::context_t& context, Settlements& settlements,
            DeliverySink& sink);
  ~NetThread();  // joins

  void Start();
  // Returns once the thread has sent DISCONNECT (after flushing settlements) and exited. Use
  // Settlements::RequestClose() + Join() for a graceful stop from another thread.
  void Join();
  const NetCounters& counters() const { return counters_; }

 private:
  void Run();
  void OpenSocket();
  void DrainMonitor();
  void DrainSocket();
  void Handle(protocol::Message&& m);
  void SendSettlements(Settlements::Batch& batch);
  void SendReady();
  bool SendNow(const protocol::Message& m);

  NetOptions options_;
  zmq::context_t& context_;
  Settlements& settlements_;
  DeliverySink& sink_;
  std::string identity_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<zmq::socket_t> monitor_;
  int monitor_generation_ = 0;
  std::thread thread_;

  // Network-thread state.
  bool connected_ = false;
  bool welcomed_ = false;
  bool closing_ = false;
  std::uint32_t credit_;
  std::string broker_id_;
  std::chrono::milliseconds heartbeat_;
  core::SteadyTime last_heard_{}, last_sent_{}, last_ready_{};
  // Settlements that could not be sent yet (no connection): kept and sent after reconnecting,
  // since a brief disconnection does not end the leases.
  Settlements::Batch unsent_;
  NetCounters counters_;
};

}  // namespace mandrill::worker
