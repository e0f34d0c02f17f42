#pragma once
// The broker's state machine: queues, leases, workers, deduplication and durability, driven by
// decoded frames, timers and storage progress. It owns no sockets: replies go out through a
// Transport at the end of each reactor pass, batched (one DELIVER per worker, one CONFIRM per
// publisher and queue). Reactor thread only; the Reactor (reactor.h) feeds it.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/dedup_index.h"
#include "broker/lease_table.h"
#include "broker/options.h"
#include "broker/queue.h"
#include "broker/storage.h"
#include "broker/worker_registry.h"
#include "shared/core/clock.h"
#include "shared/protocol/deliver_writer.h"
#include "shared/protocol/messages.h"
#include "shared/protocol/transport.h"

namespace mandrill::broker {

// Where the broker's outgoing messages go. The Reactor implements it over the ROUTER socket;
// tests record.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual protocol::SendResult Send(const std::string& peer, const protocol::Message& m) = 0;
  virtual protocol::SendResult SendBody(const std::string& peer, protocol::Command command,
                                        msgpack::sbuffer&& body) = 0;
};

struct BrokerCounters {
  std::int64_t frames_in = 0;
  std::int64_t bad_frames = 0;
  std::int64_t lease_lost = 0;
  std::int64_t not_ready = 0;
  std::int64_t storage_failures = 0;
  std::int64_t send_failures = 0;
  std::int64_t workers_disconnected = 0;  // connection closed (socket monitor)
  std::int64_t closes_ambiguous = 0;      // closed fd reused at once: worker kept (see above)
  std::int64_t workers_timed_out = 0;     // heartbeats stopped
  std::int64_t workers_left = 0;          // sent DISCONNECT
  std::int64_t leases_released = 0;       // returned because their worker went away
  std::int64_t passes = 0;
};

class Broker {
 public:
  Broker(BrokerOptions options, Storage& storage, const core::Clock& clock, Transport& transport);
  ~Broker();

  // Loads what storage recovered. Call once before any frame.
  core::Status Recover();

  // A decoded frame from `peer` (a routing id) that arrived over TCP connection `fd` (-1 if
  // unknown).
  void OnFrame(const std::string& peer, int fd, protocol::Message&& message);
  // A frame that failed to decode: answered with ERROR, counted; the peer's session continues.
  void OnBadFrame(const std::string& peer, const core::Error& error, std::uint8_t command);
  // The socket monitor saw TCP connection `fd` close: its worker's leases return at once. With
  // `fd_reused` (broker/connection_events.h), a worker whose last frame was read since the
  // previous monitor drain may be on the connection that reused `fd`: it is kept, untied from
  // any connection, until it speaks again (tied anew) or misses its heartbeats.
  void OnConnectionClosed(int fd, bool fd_reused = false);
  void OnStorageProgress(const StorageProgress& progress);
  // Lease expiry, deferred release, heartbeats, worker liveness, dedup pruning.
  void OnTimers();
  // End of a reactor pass: deliver to workers with credit, commit storage, send batches.
  void EndPass();
  // When OnTimers next has work.
  core::SteadyTime NextWakeup() const;

  // Graceful stop, in two steps around the storage's final sync: BeginShutdown refuses new work
  // (publishes answered kShuttingDown, no more deliveries); after the reactor has closed the
  // storage and fed its last progress, SayGoodbye sends the last confirms and DISCONNECT to every
  // known peer.
  void BeginShutdown(const std::string& reason);
  void SayGoodbye(const std::string& reason);
  bool shutting_down() const { return shutting_down_; }

  const std::string& broker_id() const { return broker_id_; }
  const BrokerCounters& counters() const { return counters_; }
  protocol::StatsReply Stats(std::uint64_t request_id) const;
  Queue* FindQueue(const std::string& name) const;
  std::size_t worker_count() const { return workers_.size(); }
  std::size_t lease_count() const { return leases_.size(); }

 private:
  class Restorer;
  // publish.cpp
  void HandlePublish(const std::string& peer, protocol::Publish&& publish);
  void MarkDurable(StoredMessage* m);
  void MarkFailed(StoredMessage* m, const std::string& error);

  // worker_protocol.cpp
  void HandleReady(const std::string& peer, int fd, protocol::Ready&& ready);
  void HandleCredit(Worker* w, const protocol::Credit& credit);
  void HandleAck(const std::string& peer, Worker* w, const protocol::Ack& ack);
  void HandleExtend(const std::string& peer, Worker* w, const protocol::Extend& extend);
  void HandleNack(const std::string& peer, Worker* w, protocol::Nack&& nack);
  void WorkerGone(Worker* w, const char* why);
  // Ends the lease on `m` (which must be leased) without settling it.
  void EndLease(StoredMessage* m);
  // A lease ended without an ack: retry (at once or after delay) or dead-letter.
  // A nack (journal_nack) is written to storage; expiry and worker loss are not (the delivery
  // record already counted the attempt).
  void Return(StoredMessage* m, std::chrono::milliseconds delay, std::string reason,
              bool journal_nack);
  void Settle(StoredMessage* m);
  // Undoes a delivery that never left: not an attempt, back at the front of its queue.
  void TakeBack(StoredMessage* m);
  void Dispatch();
  void DeliverTo(Worker* w, Queue* q, std::uint32_t count);
  void LeaseLost(const std::string& peer, std::uint8_t command, std::vector<std::uint64_t> leases,
                 const char* why);

  // admin.cpp
  void HandleQueues(const std::string& peer, const protocol::QueuesRequest& r);
  void HandleDlqList(const std::string& peer, const protocol::DlqListRequest& r);
  void HandleDlqRequeue(const std::string& peer, const protocol::DlqRequeueRequest& r);
  void HandleDlqPurge(const std::string& peer, const protocol::DlqPurgeRequest& r);

  // broker.cpp
  Queue* GetOrCreateQueue(const std::string& name);
  void Reply(const std::string& peer, protocol::Message&& m);
  void ReplyError(const std::string& peer, protocol::ErrorCode code, std::string reason,
                  std::uint8_t answers, std::uint64_t request_id = 0);
  void Flush();
  void AddConfirm(const std::string& peer, Queue* q, const std::string& id);
  void RememberPeer(const std::string& peer);
  std::uint32_t LeaseMsLeft(const StoredMessage* m) const;

  BrokerOptions options_;
  Storage& storage_;
  const core::Clock& clock_;
  Transport& transport_;
  std::string broker_id_;
  core::SteadyTime started_;

  std::map<std::string, std::unique_ptr<Queue>> queues_;
  LeaseTable leases_;
  WorkerRegistry workers_;
  std::uint64_t next_seq_ = 1;

  // Messages waiting for durability, in ticket order.
  std::deque<std::pair<Ticket, StoredMessage*>> pending_;
  std::vector<StorageProgress::Failure> failures_;  // reported but not yet applied
  Ticket durable_upto_ = 0;

  // Outgoing, flushed at the end of each pass.
  // DELIVER frames for one worker, each within the batch and body limits a peer enforces.
  struct DeliverFrame {
    protocol::DeliverWriter writer;
    std::vector<std::uint64_t> leases;
  };
  std::unordered_map<Worker*, std::vector<DeliverFrame>> deliveries_;
  struct ConfirmBatch {
    std::string peer;
    Queue* queue;
    std::vector<std::string> ids;
  };
  std::vector<ConfirmBatch> confirms_;
  std::vector<std::pair<std::string, protocol::Message>> replies_;

  // Non-worker peers seen recently (publishers, ctl) so shutdown can tell them too.
  std::unordered_map<std::string, core::SteadyTime> other_peers_;

  core::SteadyTime next_heartbeat_check_{};
  bool shutting_down_ = false;
  BrokerCounters counters_;
};

}  // namespace mandrill::broker
