#pragma once
// What the loop asks the network thread to send: ACKs, NACKs, EXTENDs and credit changes,
// accumulated between the network thread's passes so they leave as batches. Any thread may add;
// only the network thread calls Take(). The first addition after a Take writes the eventfd that
// wakes the network thread; later ones ride along for free. The loop thread adds whole batches
// (Add), one lock per loop iteration, through worker/loop/settlements_outbox.h.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/mutex.h"
#include "shared/protocol/messages.h"

namespace mandrill::worker {

struct SettlementBatch {
  std::vector<std::uint64_t> acks;
  std::vector<protocol::NackItem> nacks;
  std::map<std::uint32_t, std::vector<std::uint64_t>> extends;  // by duration
  std::optional<std::uint32_t> credit;
  bool close = false;
  bool empty() const {
    return acks.empty() && nacks.empty() && extends.empty() && !credit && !close;
  }
  // Appends `from` after this batch's contents (a later credit replaces an earlier one).
  void Merge(SettlementBatch&& from);
  // Drops ACK/NACK/EXTEND (kept: credit, close): for leases of a broker that is gone.
  std::size_t DropLeaseCommands();
};

// Where the loop's outbox hands its batches: the network thread's Settlements, or, for a worker
// of several cells, worker/net/cell_fanout.h, which splits each batch by cell.
class SettlementsInput {
 public:
  virtual ~SettlementsInput() = default;
  virtual void Add(SettlementBatch&& batch) = 0;
};

class Settlements final : public SettlementsInput {
 public:
  Settlements();
  ~Settlements();
  Settlements(const Settlements&) = delete;
  Settlements& operator=(const Settlements&) = delete;

  // Readable when there is something to Take.
  int fd() const { return fd_; }

  void Ack(std::uint64_t lease_id) EXCLUDES(mu_);
  void Nack(std::uint64_t lease_id, std::uint32_t delay_ms, std::string reason) EXCLUDES(mu_);
  void Extend(std::uint64_t lease_id, std::uint32_t duration_ms) EXCLUDES(mu_);
  void SetCredit(std::uint32_t credit) EXCLUDES(mu_);
  // Asks the network thread to say DISCONNECT and stop once everything queued is sent.
  void RequestClose() EXCLUDES(mu_);

  using Batch = SettlementBatch;
  // Adds everything in `batch` under one lock.
  void Add(Batch&& batch) override EXCLUDES(mu_);
  Batch Take() EXCLUDES(mu_);

 private:
  void WakeLocked() REQUIRES(mu_);

  int fd_ = -1;
  core::Mutex mu_;
  Batch pending_ GUARDED_BY(mu_);
  bool woken_ GUARDED_BY(mu_) = false;
};

}  // namespace mandrill::worker
