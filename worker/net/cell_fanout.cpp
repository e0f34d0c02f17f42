#include "worker/net/cell_fanout.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "shared/cells/credit_split.h"

namespace mandrill::worker {

// What one cell's network thread talks to: forwards to the fanout with its cell number.
class CellFanout::CellSink final : public DeliverySink {
 public:
  CellSink(CellFanout& fanout, std::size_t cell) : fanout_(fanout), cell_(cell) {}
  bool OnDeliveries(std::vector<protocol::DeliverItem>& items) override {
    return fanout_.OnDeliveries(cell_, items);
  }
  int room_fd() const override { return fanout_.loop_side_.room_fd(); }
  bool closed() const override { return fanout_.loop_side_.closed(); }
  void OnLeasesLost(std::vector<std::uint64_t> leases) override {
    fanout_.OnLeasesLost(cell_, std::move(leases));
  }
  void OnSessionLost(std::string reason) override {
    fanout_.OnSessionLost(cell_, std::move(reason));
  }
  void OnExtended(std::vector<protocol::ExtendedItem> items) override {
    fanout_.OnExtended(cell_, std::move(items));
  }
  void OnWelcome(const protocol::Welcome& welcome) override { fanout_.OnWelcome(cell_, welcome); }
  void OnReadyDepth(std::uint64_t ready) override { fanout_.OnReadyDepth(cell_, ready); }
  void OnNetStopped(std::string reason, bool failed) override {
    fanout_.OnNetStopped(cell_, std::move(reason), failed);
  }

 private:
  CellFanout& fanout_;
  const std::size_t cell_;
};

CellFanout::CellFanout(std::vector<std::string> names, DeliverySink& loop_side,
                       std::vector<Settlements*> settlements, std::uint32_t concurrency,
                       std::chrono::milliseconds stale_after, const core::Clock& clock)
    : loop_side_(loop_side),
      cell_count_(names.size()),
      concurrency_(concurrency),
      stale_after_(stale_after),
      clock_(clock),
      wanted_(concurrency) {
  core::MutexLock lock(mu_);
  cells_.resize(names.size());
  for (std::size_t k = 0; k < names.size(); ++k) {
    cells_[k].name = std::move(names[k]);
    cells_[k].settlements = settlements.at(k);
    cells_[k].credit = initial_credit(k);
    sinks_.push_back(std::make_unique<CellSink>(*this, k));
  }
}

CellFanout::~CellFanout() = default;

DeliverySink& CellFanout::sink(std::size_t cell) { return *sinks_[cell]; }

std::uint32_t CellFanout::initial_credit(std::size_t cell) const {
  const auto n = static_cast<std::uint32_t>(std::max<std::size_t>(1, cell_count_));
  return concurrency_ / n + (cell < concurrency_ % n ? 1 : 0);
}

std::vector<std::uint32_t> CellFanout::credits() const {
  core::MutexLock lock(mu_);
  std::vector<std::uint32_t> out;
  for (const auto& c : cells_) out.push_back(c.credit);
  return out;
}

bool CellFanout::OnDeliveries(std::size_t cell, std::vector<protocol::DeliverItem>& items) {
  {
    core::MutexLock lock(mu_);
    Cell& c = cells_[cell];
    for (auto& item : items) {
      const std::uint64_t local = next_local_++;
      // A redelivery under a lease id still mapped (cannot happen with fresh ids) replaces it.
      if (auto [it, fresh] = c.local_of.try_emplace(item.lease_id, local); !fresh) {
        remote_of_.erase(it->second);
        it->second = local;
      }
      remote_of_[local] = Remote{static_cast<std::uint32_t>(cell), item.lease_id};
      item.lease_id = local;
    }
  }
  if (loop_side_.OnDeliveries(items)) return true;
  // Refused (the loop is behind): the network thread keeps them under the cell's own ids.
  core::MutexLock lock(mu_);
  Cell& c = cells_[cell];
  for (auto& item : items) {
    const auto it = remote_of_.find(item.lease_id);
    if (it == remote_of_.end()) continue;
    c.local_of.erase(it->second.lease_id);
    item.lease_id = it->second.lease_id;
    remote_of_.erase(it);
  }
  return false;
}

void CellFanout::OnLeasesLost(std::size_t cell, std::vector<std::uint64_t> leases) {
  std::vector<std::uint64_t> local;
  {
    core::MutexLock lock(mu_);
    Cell& c = cells_[cell];
    for (const auto id : leases) {
      const auto it = c.local_of.find(id);
      if (it == c.local_of.end()) continue;
      local.push_back(it->second);
      remote_of_.erase(it->second);
      c.local_of.erase(it);
    }
    RebalanceLocked(nullptr);
  }
  if (!local.empty()) loop_side_.OnLeasesLost(std::move(local));
}

std::vector<std::uint64_t> CellFanout::DropCellLocked(std::size_t cell) {
  Cell& c = cells_[cell];
  std::vector<std::uint64_t> local;
  local.reserve(c.local_of.size());
  for (const auto& [remote, id] : c.local_of) {
    local.push_back(id);
    remote_of_.erase(id);
  }
  c.local_of.clear();
  return local;
}

void CellFanout::OnSessionLost(std::size_t cell, std::string reason) {
  std::vector<std::uint64_t> lost;
  {
    core::MutexLock lock(mu_);
    lost = DropCellLocked(cell);
    cells_[cell].connected = false;
    spdlog::warn(
        "cell {} forgot this worker ({}): its {} leases are gone; the other cells carry on",
        cells_[cell].name, reason, lost.size());
    RebalanceLocked(nullptr);
  }
  if (!lost.empty()) loop_side_.OnLeasesLost(std::move(lost));
}

void CellFanout::OnExtended(std::size_t cell, std::vector<protocol::ExtendedItem> items) {
  {
    core::MutexLock lock(mu_);
    const Cell& c = cells_[cell];
    std::size_t kept = 0;
    for (auto& item : items) {
      const auto it = c.local_of.find(item.lease_id);
      if (it == c.local_of.end()) continue;  // settled or lost meanwhile
      item.lease_id = it->second;
      items[kept++] = item;
    }
    items.resize(kept);
  }
  if (!items.empty()) loop_side_.OnExtended(std::move(items));
}

void CellFanout::OnWelcome(std::size_t cell, const protocol::Welcome& welcome) {
  std::vector<std::uint64_t> lost;
  {
    core::MutexLock lock(mu_);
    Cell& c = cells_[cell];
    if (!c.broker_id.empty() && c.broker_id != welcome.broker_id) {
      lost = DropCellLocked(cell);
      spdlog::warn("cell {} restarted: its {} leases are gone; the other cells carry on", c.name,
                   lost.size());
    }
    c.broker_id = welcome.broker_id;
    c.connected = true;
    c.last_heard = clock_.Now();
    RebalanceLocked(nullptr);
  }
  if (!lost.empty()) loop_side_.OnLeasesLost(std::move(lost));
  // The loop sees one broker that never restarts (each cell's restart was handled above): it
  // takes the lease time from the WELCOME and, on a re-announcement, re-extends what it holds
  // so every cell says which of its leases are gone.
  protocol::Welcome merged = welcome;
  merged.broker_id = "cells";
  loop_side_.OnWelcome(merged);
}

void CellFanout::OnReadyDepth(std::size_t cell, std::uint64_t ready) {
  core::MutexLock lock(mu_);
  Cell& c = cells_[cell];
  c.ready = ready;
  c.connected = true;
  c.last_heard = clock_.Now();
  RebalanceLocked(nullptr);
}

void CellFanout::OnNetStopped(std::size_t cell, std::string reason, bool failed) {
  {
    core::MutexLock lock(mu_);
    cells_[cell].stopped = true;
    cells_[cell].connected = false;
    bool all = true;
    for (const auto& c : cells_) all = all && c.stopped;
    // A failure stops the worker at once; a requested close is reported when the last cell is
    // closed.
    if (stop_forwarded_ || (!failed && !all)) return;
    stop_forwarded_ = true;
  }
  loop_side_.OnNetStopped(failed ? "cell " + std::to_string(cell + 1) + ": " + reason : reason,
                          failed);
}

std::optional<CellFanout::Remote> CellFanout::TakeLocked(std::uint64_t local, bool forget) {
  const auto it = remote_of_.find(local);
  if (it == remote_of_.end()) {
    ++unknown_settlements_;  // its cell lost it meanwhile: the loop was or will be told
    return std::nullopt;
  }
  const Remote r = it->second;
  if (forget) {
    cells_[r.cell].local_of.erase(r.lease_id);
    remote_of_.erase(it);
  }
  return r;
}

void CellFanout::Add(SettlementBatch&& batch) {
  core::MutexLock lock(mu_);
  std::vector<SettlementBatch> out(cells_.size());
  for (const auto local : batch.acks) {
    if (const auto r = TakeLocked(local, true)) out[r->cell].acks.push_back(r->lease_id);
  }
  for (auto& nack : batch.nacks) {
    if (const auto r = TakeLocked(nack.lease_id, true)) {
      nack.lease_id = r->lease_id;
      out[r->cell].nacks.push_back(std::move(nack));
    }
  }
  for (const auto& [duration, leases] : batch.extends) {
    for (const auto local : leases) {
      if (const auto r = TakeLocked(local, false)) {
        out[r->cell].extends[duration].push_back(r->lease_id);
      }
    }
  }
  if (batch.credit) wanted_ = *batch.credit;
  RebalanceLocked(&out);
  for (std::size_t k = 0; k < cells_.size(); ++k) {
    if (batch.close) out[k].close = true;
    if (!out[k].empty()) cells_[k].settlements->Add(std::move(out[k]));
  }
}

void CellFanout::RebalanceLocked(std::vector<SettlementBatch>* out) {
  const auto now = clock_.Now();
  std::vector<cells::CellLoad> loads(cells_.size());
  for (std::size_t k = 0; k < cells_.size(); ++k) {
    Cell& c = cells_[k];
    if (c.connected && now - c.last_heard > stale_after_) {
      c.connected = false;
      spdlog::warn("cell {} silent for over {} ms: its credit goes to the other cells", c.name,
                   stale_after_.count());
    }
    loads[k] = cells::CellLoad{c.connected, c.ready, static_cast<std::uint32_t>(c.local_of.size())};
  }
  const auto split = cells::SplitCredit(wanted_, loads);
  for (std::size_t k = 0; k < cells_.size(); ++k) {
    Cell& c = cells_[k];
    if (split[k] == c.credit) continue;
    c.credit = split[k];
    if (out != nullptr) {
      (*out)[k].credit = split[k];
    } else {
      c.settlements->SetCredit(split[k]);
    }
  }
}

}  // namespace mandrill::worker
