#pragma once
// The worker's network thread ("net"): the only thread that touches the DEALER socket. It only
// moves frames; it never runs handler code and never waits for the loop.
//
//  - Announces the worker (READY with its credit) on every handshake and until WELCOME answers.
//  - Heartbeats when it has sent nothing for a heartbeat interval; declares the broker dead after
//    `liveness` silent intervals and re-creates the socket after a capped exponential backoff
//    with jitter (ReconnectBackoff). A dropped TCP connection is re-dialled by ZeroMQ itself
//    (exponential up to reconnect_max, with a random base per socket so a fleet spreads out).
//  - Sends what Settlements accumulated as batches (one ACK frame, one NACK frame, one EXTEND
//    frame per duration), only once WELCOMEd: after a broker restart (a new broker_id) the
//    commands for the old broker's leases are dropped, not sent to a broker that never issued
//    them. Commands that cannot leave during a brief disconnection are kept and sent after the
//    reconnect: the same broker may still hold those leases.
//  - Decodes with the limits the broker's WELCOME announced (its --max-payload-bytes may exceed
//    our default); a DELIVER it still cannot decode is logged, counted and its leases nacked.
//  - Hands deliveries, lost leases, EXTENDED answers and WELCOMEs to a DeliverySink.
//  - Closes (Settlements::RequestClose) only after the broker confirmed, by answering a STATS
//    request sent after the last settlements, that it processed them; then says DISCONNECT.
//
// Closing: the loop closes its side of the sink before it requests the close, so its last
// settlements are final. From then on, what the loop will never take is nacked here (delay 0):
// deliveries still arriving (sent before the broker saw CREDIT 0) as they arrive, and any held
// by the full policy below when the close request comes. Those NACKs go out before the
// DISCONNECT, so the broker counts them as nacked and redelivers them at once instead of finding
// them on a connection it has to release.
//
// Full policy: the sink (the Bridge into the loop) may refuse a delivery batch when it already
// holds `credit` undelivered messages (the loop is behind). The network thread then keeps the
// batch itself (in order, never dropped), sends CREDIT 0 so the broker stops sending, and offers
// the batch again when the sink's room_fd() turns readable, restoring the credit. The broker never
// has more than `credit` leases out to us, so what is kept is bounded by the credit.
//
// Threading: construct and Start() on any thread; everything else happens on the network thread.
// Stop it with Settlements::RequestClose() and Join().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "shared/core/clock.h"
#include "shared/protocol/transport.h"
#include "shared/security/curve_keys.h"
#include "worker/net/delivery_sink.h"
#include "worker/net/reconnect_backoff.h"
#include "worker/net/settlements.h"

namespace mandrill::worker {

struct NetOptions {
  std::string broker = "tcp://127.0.0.1:5555";
  std::string name;                 // shown in broker stats
  std::vector<std::string> queues;  // consume from
  std::uint32_t credit = 16;        // until Settlements says otherwise
  std::chrono::milliseconds heartbeat{1000};  // until the broker's WELCOME says otherwise
  int liveness = 3;
  std::chrono::milliseconds reconnect_min{100};   // backoff base (ZeroMQ's re-dial and ours)
  std::chrono::milliseconds reconnect_max{5000};  // backoff cap
  std::uint64_t seed = 0;                         // jitter; 0: random
  std::optional<security::ClientKeys> curve;      // set on every socket it creates; none: plaintext
  // The handlers running now, for the broker's `mandrill-ctl top` view: called on the network
  // thread once per heartbeat interval while welcomed; sent as a HEARTBEAT when non-empty (and
  // once more when it turns empty). Must not block; none: no reports.
  std::function<std::vector<protocol::TaskReport>()> task_reports;
};

// Written by the network thread, readable from any thread.
struct NetCounters {
  std::atomic<std::uint64_t> delivered{0}, acks_sent{0}, nacks_sent{0}, extends_sent{0},
      lease_lost{0}, reconnects{0}, errors{0}, refused_by_sink{0}, stale_dropped{0},
      nacked_on_close{0},
      undecodable_frames{0},  // frames from the broker the decoder refused (logged)
      undecodable_nacked{0};  // leases of undecodable DELIVERs, nacked at once
  std::atomic<std::int64_t> cpu_ns{0};  // the thread's CPU time, set when it exits
  // State, refreshed every pass: READY answered on the current connection, and the credit the
  // broker was last told while welcomed (0 otherwise).
  std::atomic<bool> welcomed{false};
  std::atomic<std::uint32_t> credit{0};
};

class NetThread {
 public:
  // `settlements` and `sink` must outlive the thread (until Join returns).
  NetThread(NetOptions options, zmq::context_t& context, Settlements& settlements,
            DeliverySink& sink);
  ~NetThread();  // joins

  void Start();
  // Returns once the thread has exited (after Settlements::RequestClose(): flushed what it
  // could, said DISCONNECT). Any thread but the network thread.
  void Join();
  const NetCounters& counters() const { return counters_; }

 private:
  void Run();
  void OpenSocket();  // sets fatal_ if ZeroMQ refuses the endpoint
  void StopMonitor();  // before the DEALER or its reader is closed
  void CloseSocket();
  void DrainMonitor();
  void DrainSocket();
  void Undecodable(const protocol::Received& in, const std::string& why);
  void Handle(protocol::Message&& m);
  void HandleWelcome(const protocol::Welcome& w);
  void HandleError(protocol::Error&& e);
  void OfferDeliveries(std::vector<protocol::DeliverItem>&& items);
  void RetryBacklog();
  void NackOnClose(const std::vector<protocol::DeliverItem>& items);
  void SyncCredit();
  void SendSettlements();
  void SendReady();
  void ReportTasks(core::SteadyTime now);
  void PublishState();
  bool SendNow(const protocol::Message& m);
  std::uint32_t EffectiveCredit() const {
    return closing_ || sink_closed_ || paused_ ? 0 : credit_wanted_;
  }

  NetOptions options_;
  zmq::context_t& context_;
  Settlements& settlements_;
  DeliverySink& sink_;
  std::string instance_;  // Ready::instance: names this process to the broker across reconnects
  std::thread thread_;
  NetCounters counters_;

  // Network-thread state.
  std::unique_ptr<zmq::socket_t> socket_;  // null while waiting to re-create it
  std::unique_ptr<zmq::socket_t> monitor_;
  int monitor_generation_ = 0;
  bool connected_ = false;  // handshake done, not disconnected since
  bool welcomed_ = false;   // READY answered on this connection
  bool closing_ = false;
  std::string fatal_;  // set when the thread must stop: why (see Run)
  bool sink_closed_ = false;  // the sink refused as closed: the close request is on its way
  // Closing: a STATS round trip proves the broker processed our last settlements (see Run).
  static constexpr std::uint64_t kCloseSyncRequest = 0x6d616e6472696c6cULL;  // "mandrill"
  bool sync_sent_ = false;
  bool sync_done_ = false;
  core::SteadyTime sync_deadline_{};
  bool paused_ = false;     // the sink refused deliveries: credit 0 until it has room
  std::uint32_t credit_wanted_;
  std::uint32_t credit_announced_ = 0;  // what the broker was last told (READY or CREDIT)
  std::string broker_id_;
  protocol::Limits limits_;  // the decoder's: the broker's limits from its WELCOME
  std::chrono::milliseconds heartbeat_;
  ReconnectBackoff backoff_;
  core::SteadyTime reopen_at_{};
  core::SteadyTime last_heard_{}, last_sent_{}, last_ready_{}, last_report_{};
  bool reported_tasks_ = false;  // the last task report was non-empty
  // Lease commands not sent yet (not welcomed): sent after the reconnect if the broker is the
  // same one, dropped if it restarted.
  Settlements::Batch unsent_;
  // Deliveries the sink refused (full policy above), oldest first.
  std::vector<protocol::DeliverItem> backlog_;
};

}  // namespace mandrill::worker
