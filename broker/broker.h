#pragma once
// The broker's state machine, driven by the Reactor (reactor.h) or a test: decoded frames,
// connection closes, storage progress and timers go in; replies leave through a Transport at
// the end of each pass, batched. It owns no sockets and no threads.
//
// The work is split by concern, each with its own contract:
//   Publishing (publishing.h)        PUBLISH, deduplication, confirms after durability
//   WorkerProtocol (worker_protocol.h)  sessions: READY/CREDIT/DISCONNECT, liveness
//   Leasing (leasing.h)              ACK/EXTEND/NACK, expiry, returns, dead letters
//   Dispatcher (dispatcher.h)        deliveries under credit
//   Admin (admin.h)                  STATS, QUEUES, dead-letter commands
// over shared data: Store (queues, dedup index, deferred set, memory), LeaseTable,
// SessionTable, PeerTable, Durability (tickets) and Outbox (what leaves this pass).
// Frames are dispatched with std::visit over protocol::Message: a new command does not compile
// until the Broker handles it. Reactor thread only.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/access_gate.h"
#include "broker/admin.h"
#include "broker/context.h"
#include "broker/dispatcher.h"
#include "broker/durability.h"
#include "broker/lease_table.h"
#include "broker/leasing.h"
#include "broker/options.h"
#include "broker/outbox.h"
#include "broker/pass_clock.h"
#include "broker/peer_table.h"
#include "broker/publishing.h"
#include "broker/session_table.h"
#include "broker/storage.h"
#include "broker/store.h"
#include "broker/worker_protocol.h"
#include "shared/core/clock.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Broker final : private DurabilityEvents, private FlushEvents {
 public:
  Broker(BrokerOptions options, Storage& storage, const core::Clock& clock, Transport& transport);
  ~Broker() override;
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Opens the storage (Storage::Open: the data dir is locked and a new epoch is durable) and
  // takes its epoch for WELCOME and lease ids. The reactor calls it before binding its socket.
  core::Result<std::uint64_t> Open();
  // Loads what storage recovered (opening it first if Open was not called). Call once before
  // any frame.
  core::Status Recover();
  std::uint64_t epoch() const { return ctx_.epoch; }

  // A decoded frame from `peer` (a routing id) that arrived over TCP connection `fd` (-1 if
  // unknown). A handler that throws is a bug: logged, counted, answered INTERNAL.
  // `who`: the connection's principal when authentication is on (nullptr: off, all allowed);
  // the AccessGate (access_gate.h) checks the frame against it first.
  void OnFrame(const std::string& peer, int fd, protocol::Message&& message,
               const Principal* who = nullptr);
  // The ZAP handler's counts, for STATS (the reactor copies them in each pass).
  void NoteAuthCounts(std::int64_t refused, std::int64_t admitted) {
    counters_.auth_refused = refused;
    counters_.auth_admitted = admitted;
  }
  // A frame that failed to decode: answered with ERROR, counted; the peer's session continues.
  void OnBadFrame(const std::string& peer, const core::Error& error, std::uint8_t command);
  // The socket monitor saw TCP connection `fd` close (WorkerProtocol::ConnectionClosed).
  void OnConnectionClosed(int fd, bool fd_reused = false);
  void OnStorageProgress(const StorageProgress& progress);
  // Lease expiry, deferred release, heartbeats, liveness, pruning of ids, peers and queues.
  void OnTimers();
  // End of a reactor pass: deliver to sessions with credit, commit storage, send batches.
  void EndPass();
  // When OnTimers next has work.
  core::SteadyTime NextWakeup() const;

  // Graceful stop, in two steps around the storage's final sync: BeginShutdown refuses new
  // work (publishes answered SHUTTING_DOWN, no more deliveries); after the reactor has closed
  // the storage and fed its last progress, SayGoodbye sends the last confirms and DISCONNECT
  // to every known peer.
  void BeginShutdown(const std::string& reason);
  void SayGoodbye(const std::string& reason);
  bool shutting_down() const { return ctx_.shutting_down; }

  const std::string& broker_id() const { return broker_id_; }
  const BrokerCounters& counters() const { return counters_; }
  protocol::StatsReply Stats(std::uint64_t request_id) const;
  BrokerMetrics Metrics(std::size_t max_queues) const { return admin_.Metrics(max_queues); }
  Queue* FindQueue(const std::string& name) const { return store_.Find(name); }
  std::size_t worker_count() const { return sessions_.size(); }
  std::size_t lease_count() const { return leases_.size(); }
  std::size_t memory_used() const { return store_.memory_used(); }

  // Where the message (queue, id) is: its state, or nullopt if the broker does not hold it
  // (`settled` tells whether its id is still remembered as settled).
  std::optional<MessageState> StateOf(const std::string& queue, const std::string& id,
                                      bool* settled = nullptr) const;
  // Checks that every message is in exactly one place, that the counts agree, and that no
  // session holds more leases than its credit allowed. For tests and the state-machine fuzzer.
  core::Status CheckInvariants() const;

 private:
  class Restorer;

  // One overload per command: std::visit fails to compile for a command without one.
  void Handle(const std::string& peer, int fd, Session* s, protocol::Publish&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Ready&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Credit&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Ack&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Extend&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Nack&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Heartbeat&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Disconnect&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::StatsRequest&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::QueuesRequest&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::DlqListRequest&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::DlqRequeueRequest&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::DlqPurgeRequest&& m);
  // Commands the broker sends and never receives.
  void Handle(const std::string& peer, int fd, Session* s, protocol::Confirm&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Error&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Welcome&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Deliver&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::Extended&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::StatsReply&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::QueuesReply&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::DlqListReply&& m);
  void Handle(const std::string& peer, int fd, Session* s, protocol::AdminOk&& m);
  void Unexpected(const std::string& peer, protocol::Command command);
  void RefuseShuttingDown(const std::string& peer, protocol::Command command,
                          std::uint64_t request_id);
  // A publisher's or operator's frame: admitted within --max-peers (else answered and false).
  bool AdmitPeer(const std::string& peer, protocol::Command command);

  // DurabilityEvents
  void PublishDurable(Message* m, std::vector<std::string> waiters) override;
  void PublishFailed(Message* m, std::vector<std::string> waiters,
                     const std::string& error) override;
  void AdminDurable(AdminOp op) override;
  void AdminFailed(AdminOp op, const std::string& error) override;
  void SettleFailed(const SettleRecord& r, const std::string& error) override;
  // FlushEvents
  void Sent(const std::string& peer) override;
  void Unreachable(const std::string& peer) override;
  void NotDelivered(Session* s, std::vector<std::uint64_t> leases, bool unreachable) override;

  void ReleaseDeferred(core::SteadyTime now);
  std::chrono::milliseconds HousekeepingInterval() const;
  void RewriteSettles();

  BrokerOptions options_;
  PassClock clock_;  // every entry point pins it: one clock reading per event
  core::SteadyTime started_;
  BrokerCounters counters_;
  Store store_;
  Outbox outbox_;
  Durability durability_;
  Context ctx_;
  LeaseTable leases_;
  std::string broker_id_;
  SessionTable sessions_;
  PeerTable peers_;
  Dispatcher dispatcher_;
  Leasing leasing_;
  WorkerProtocol workers_;
  Publishing publishing_;
  AccessGate gate_;
  Admin admin_;

  std::vector<SettleRecord> settle_retries_;  // failed ack/purge records, written again on a timer
  core::SteadyTime next_housekeeping_{};
};

}  // namespace mandrill::broker
