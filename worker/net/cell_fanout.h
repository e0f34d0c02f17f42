#pragma once
// A worker of several cells (--cells): one NetThread per cell (its own socket, READY,
// heartbeats, reconnects, Settlements), one loop. CellFanout sits between them.
//
//  - Towards the loop it is one stream. Each cell's network thread hands its events to sink(k),
//    which renames the cell's lease ids to worker-local ones (two brokers may issue the same id)
//    and turns what is lost in one cell (its session ended, its broker restarted) into lost
//    leases of that cell only: the loop is never told "every lease is gone".
//  - From the loop, Add() splits each settlement batch by the cell that issued each lease, and
//    splits the credit the loop asks for (its --concurrency; 0 to drain) among the cells by
//    their ready depths (cells::SplitCredit), again whenever a depth report or a cell's
//    coming or going changes the picture. A deep cell is drained; an empty one holds no credit
//    it cannot use; leases already held are never taken back.
//  - A cell that has been silent (no WELCOME or depth report) for `stale_after` counts as
//    disconnected: its credit goes to the others, so a cell that went away stalls nothing.
//
// Threading: sink(k)'s methods run on cell k's network thread, Add() on the loop thread; the
// state is under one mutex, never held while calling into the loop side.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/mutex.h"
#include "worker/net/delivery_sink.h"
#include "worker/net/settlements.h"

namespace mandrill::worker {

class CellFanout final : public SettlementsInput {
 public:
  // `names` label the cells in logs; `settlements[k]` is cell k's network thread's.
  CellFanout(std::vector<std::string> names, DeliverySink& loop_side,
             std::vector<Settlements*> settlements, std::uint32_t concurrency,
             std::chrono::milliseconds stale_after, const core::Clock& clock);
  ~CellFanout() override;
  CellFanout(const CellFanout&) = delete;
  CellFanout& operator=(const CellFanout&) = delete;

  // What cell k's NetThread hands its events to.
  DeliverySink& sink(std::size_t cell);
  // The credit each cell starts with (its READY): an even share, before any depth is known.
  std::uint32_t initial_credit(std::size_t cell) const;

  // Loop thread: the outbox's batch, split by cell.
  void Add(SettlementBatch&& batch) override EXCLUDES(mu_);

  // The credit each cell was last given (tests, logs).
  std::vector<std::uint32_t> credits() const EXCLUDES(mu_);

 private:
  class CellSink;
  friend class CellSink;
  struct Cell {
    std::string name;
    Settlements* settlements = nullptr;
    std::unordered_map<std::uint64_t, std::uint64_t> local_of;  // its lease id -> local id
    std::string broker_id;  // from its last WELCOME; another one: its broker restarted
    bool connected = false;
    core::SteadyTime last_heard{};
    std::uint64_t ready = 0;
    std::uint32_t credit = 0;  // last told
    bool stopped = false;
  };
  struct Remote {
    std::uint32_t cell;
    std::uint64_t lease_id;
  };

  bool OnDeliveries(std::size_t cell, std::vector<protocol::DeliverItem>& items) EXCLUDES(mu_);
  void OnLeasesLost(std::size_t cell, std::vector<std::uint64_t> leases) EXCLUDES(mu_);
  void OnSessionLost(std::size_t cell, std::string reason) EXCLUDES(mu_);
  void OnExtended(std::size_t cell, std::vector<protocol::ExtendedItem> items) EXCLUDES(mu_);
  void OnWelcome(std::size_t cell, const protocol::Welcome& welcome) EXCLUDES(mu_);
  void OnReadyDepth(std::size_t cell, std::uint64_t ready) EXCLUDES(mu_);
  void OnNetStopped(std::size_t cell, std::string reason, bool failed) EXCLUDES(mu_);

  // Forgets every lease of `cell`; returns their local ids.
  std::vector<std::uint64_t> DropCellLocked(std::size_t cell) REQUIRES(mu_);
  // The cell and the cell's own id of a local lease, if still known; `forget` for a settlement
  // (ack, nack), not for an extend. Counts an unknown one: its cell lost it meanwhile.
  std::optional<Remote> TakeLocked(std::uint64_t local, bool forget) REQUIRES(mu_);
  // Re-splits the credit; tells each cell whose share changed (into `out` when given, else
  // straight to its Settlements).
  void RebalanceLocked(std::vector<SettlementBatch>* out) REQUIRES(mu_);

  DeliverySink& loop_side_;
  const std::size_t cell_count_;
  const std::uint32_t concurrency_;
  const std::chrono::milliseconds stale_after_;
  const core::Clock& clock_;
  std::vector<std::unique_ptr<CellSink>> sinks_;
  mutable core::Mutex mu_;
  std::vector<Cell> cells_ GUARDED_BY(mu_);
  std::unordered_map<std::uint64_t, Remote> remote_of_ GUARDED_BY(mu_);  // local -> cell's
  std::uint64_t next_local_ GUARDED_BY(mu_) = 1;
  std::uint32_t wanted_ GUARDED_BY(mu_);  // the loop's credit, to split
  bool stop_forwarded_ GUARDED_BY(mu_) = false;
  std::uint64_t unknown_settlements_ GUARDED_BY(mu_) = 0;  // for leases already lost
};

}  // namespace mandrill::worker
