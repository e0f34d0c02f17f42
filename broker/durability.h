#pragma once
// The storage tickets the broker waits on, and what each one's fate means:
// - a publish is confirmed to its waiting publishers once durable, refused if its write failed;
// - an admin operation (DLQ requeue/purge) is applied and answered only once all its records
//   are durable, and answered STORAGE_FAILED (nothing changed) if any failed;
// - a settle record (ack, purge) whose write failed is written again, so a settled message
//   does not come back after a restart just because one write failed.
// Records of other kinds (deliveries, nacks, dead-letterings) are not waited on: losing one
// only replays the message's previous state after a restart, which at-least-once allows; their
// failures are counted (failed_records). Reactor thread only.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "broker/message.h"
#include "broker/storage.h"
#include "shared/core/clock.h"
#include "shared/metrics/histogram.h"

namespace mandrill::broker {

struct AdminOp {
  enum class Kind { kRequeue, kPurge } kind = Kind::kRequeue;
  std::string peer;
  std::uint64_t request_id = 0;
  std::string queue;
  struct Target {
    std::uint64_t seq;
    std::string id;
  };
  std::vector<Target> targets;
  std::size_t missing = 0;  // ids named that were not dead letters
};

struct SettleRecord {
  std::uint64_t seq = 0;
  std::int64_t settled_unix_ms = 0;
  bool purge = false;
};

// What Durability::OnProgress reports.
class DurabilityEvents {
 public:
  virtual ~DurabilityEvents() = default;
  virtual void PublishDurable(Message* m, std::vector<std::string> waiters) = 0;
  virtual void PublishFailed(Message* m, std::vector<std::string> waiters,
                             const std::string& error) = 0;
  virtual void AdminDurable(AdminOp op) = 0;
  virtual void AdminFailed(AdminOp op, const std::string& error) = 0;
  virtual void SettleFailed(const SettleRecord& r, const std::string& error) = 0;
};

class Durability {
 public:
  // `received`: when the PUBLISH arrived, for the publish-to-confirm histogram.
  void AddPublish(Ticket t, Message* m, std::string waiter, core::SteadyTime received);
  // Another publisher sent the id of `m` while it was pending: confirmed (or refused) with it.
  void AddWaiter(Message* m, std::string waiter);
  void AddAdmin(Ticket first, Ticket last, AdminOp op);
  void AddSettle(Ticket t, SettleRecord r);

  // `now`: when the confirms it decides are queued (they leave at the end of this pass).
  void OnProgress(const StorageProgress& progress, DurabilityEvents& events,
                  core::SteadyTime now);

  std::size_t pending_publishes() const { return publishes_.size(); }
  std::size_t pending_admin() const { return admin_.size(); }
  std::uint64_t failed_records() const { return failed_records_; }
  // PUBLISH received -> confirm queued, per durable publish (mandrill_publish_confirm_seconds).
  const metrics::HistogramData& confirm_latency() const { return confirm_seconds_.data(); }
  template <typename F>
  void ForEachPending(F&& f) const {
    for (const auto& p : publishes_) f(p.message);
  }

 private:
  enum class Fate { kDurable, kFailed, kUndecided };
  // The fate of tickets [first, last] as far as storage has said; `error` set on kFailed.
  Fate FateOf(Ticket first, Ticket last, const std::string** error) const;
  std::vector<std::string> TakeWaiters(Message* m, std::string first);

  struct PendingPublish {
    Ticket ticket;
    Message* message;
    std::string waiter;
    core::SteadyTime received;
  };
  struct PendingAdmin {
    Ticket first, last;
    AdminOp op;
  };
  struct PendingSettle {
    Ticket ticket;
    SettleRecord record;
  };
  std::deque<PendingPublish> publishes_;
  absl::flat_hash_map<Message*, std::vector<std::string>> extra_waiters_;
  std::deque<PendingAdmin> admin_;
  std::deque<PendingSettle> settles_;
  std::vector<StorageProgress::Failure> failures_;  // reported, not yet passed by every list
  Ticket durable_upto_ = 0;
  std::uint64_t failed_records_ = 0;
  metrics::Histogram confirm_seconds_{metrics::LatencyBounds()};
};

}  // namespace mandrill::broker
