#include "worker/basic_processor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "shared/core/thread_name.h"

namespace mandrill::worker {
namespace {
using Clock = std::chrono::steady_clock;

// Attempt-based backoff: 100 ms, 200 ms, 400 ms ... capped at 30 s.
std::uint32_t BackoffMs(std::uint32_t attempt) {
  const std::uint32_t shift = std::min<std::uint32_t>(attempt > 0 ? attempt - 1 : 0, 9);
  return std::min<std::uint32_t>(100u << shift, 30'000);
}

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

BasicProcessor::BasicProcessor(ProcessorOptions options, Settlements& settlements, Ledger* ledger)
    : options_(options), settlements_(settlements), ledger_(ledger), rng_(options.seed) {}

void BasicProcessor::OnDeliveries(std::vector<protocol::DeliverItem>&& items) {
  {
    std::lock_guard lock(mu_);
    if (inbox_.empty()) {
      inbox_ = std::move(items);
    } else {
      for (auto& it : items) inbox_.push_back(std::move(it));
    }
  }
  cv_.notify_one();
}

void BasicProcessor::OnLeasesLost(const std::vector<std::uint64_t>& leases) {
  {
    std::lock_guard lock(mu_);
    lost_.insert(lost_.end(), leases.begin(), leases.end());
  }
  cv_.notify_one();
}

void BasicProcessor::OnExtended(const std::vector<protocol::ExtendedItem>& items) {
  std::lock_guard lock(mu_);
  extended_.insert(extended_.end(), items.begin(), items.end());
}

void BasicProcessor::OnWelcome(const protocol::Welcome& welcome) {
  std::lock_guard lock(mu_);
  if (welcome.lease_ms > 0) lease_ms_ = welcome.lease_ms;
}

void BasicProcessor::Drain(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    const auto deadline = Clock::now() + grace;
    if (!draining_ || deadline < drain_deadline_) drain_deadline_ = deadline;
    draining_ = true;
    woken_ = true;
  }
  settlements_.SetCredit(0);
  cv_.notify_one();
}

ProcessorTotals BasicProcessor::totals() const {
  std::lock_guard lock(mu_);
  return totals_;
}

void BasicProcessor::Accept(std::vector<protocol::DeliverItem>& items) {
  const auto now = Clock::now();
  std::uniform_int_distribution<std::int64_t> latency(options_.restart_min.count(),
                                                      options_.restart_max.count());
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  for (auto& item : items) {
    Job job;
    job.due = now + std::chrono::milliseconds(latency(rng_));
    job.lease_deadline = now + std::chrono::milliseconds(item.lease_ms);
    job.fails = options_.fail_rate > 0 && coin(rng_) < options_.fail_rate;
    const auto lease = item.lease_id;
    job.item = std::move(item);
    jobs_.emplace(lease, std::move(job));
  }
}

void BasicProcessor::CompleteDue(Clock::time_point now) {
  std::vector<LedgerRow> rows;
  std::vector<std::uint64_t> ok_leases;
  std::uint64_t nacked = 0, ledger_errors = 0;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const Job& job = it->second;
    if (job.due > now) {
      ++it;
      continue;
    }
    if (job.fails) {
      settlements_.Nack(job.item.lease_id, BackoffMs(job.item.attempt),
                        "simulated restart failed: " + job.item.payload);
      ++nacked;
    } else {
      rows.push_back({job.item.id, job.item.queue, job.item.attempt, WallMs()});
      ok_leases.push_back(job.item.lease_id);
    }
    it = jobs_.erase(it);
  }
  if (ledger_ != nullptr && !rows.empty()) {
    if (auto st = ledger_->Write(rows); !st.ok()) {
      // Not recorded, so not done: nack so it is retried rather than acked unrecorded.
      spdlog::error("ledger write of {} rows failed: {}", rows.size(), st.message());
      ++ledger_errors;
      for (auto lease : ok_leases) settlements_.Nack(lease, 1000, "ledger write failed: " + st.message());
      nacked += ok_leases.size();
      ok_leases.clear();
    }
  }
  for (auto lease : ok_leases) settlements_.Ack(lease);
  std::lock_guard lock(mu_);
  totals_.acked += ok_leases.size();
  totals_.nacked += nacked;
  totals_.ledger_errors += ledger_errors;
}

void BasicProcessor::KeepLeases(Clock::time_point now) {
  std::uint32_t lease_ms;
  {
    std::lock_guard lock(mu_);
    lease_ms = lease_ms_;
  }
  const auto margin = std::chrono::milliseconds(lease_ms / 3);
  for (auto& [lease, job] : jobs_) {
    if (job.lease_deadline - now < margin && job.due > now) {
      settlements_.Extend(lease, lease_ms);
      job.lease_deadline = now + std::chrono::milliseconds(lease_ms);
    }
  }
}

Clock::time_point BasicProcessor::NextEvent() const {
  auto next = Clock::now() + std::chrono::milliseconds(250);
  for (const auto& [lease, job] : jobs_) next = std::min(next, job.due);
  return next;
}

void BasicProcessor::Run() {
  core::SetThreadName("loop");
  std::vector<protocol::DeliverItem> batch;
  std::vector<std::uint64_t> lost;
  while (true) {
    bool draining;
    Clock::time_point drain_deadline;
    {
      std::unique_lock lock(mu_);
      auto until = NextEvent();
      if (draining_) until = std::min(until, drain_deadline_);
      cv_.wait_until(lock, until, [&] { return !inbox_.empty() || !lost_.empty() || woken_; });
      woken_ = false;
      batch.swap(inbox_);
      lost.swap(lost_);
      draining = draining_;
      drain_deadline = drain_deadline_;
      extended_.clear();  // the keeper re-extends on its own schedule
    }
    Accept(batch);
    batch.clear();
    for (auto lease : lost) {
      if (jobs_.erase(lease) > 0) {
        std::lock_guard lock(mu_);
        ++totals_.lost;
      }
    }
    lost.clear();
    const auto now = Clock::now();
    CompleteDue(now);
    KeepLeases(now);
    if (draining && (jobs_.empty() || now >= drain_deadline)) {
      for (auto& [lease, job] : jobs_) settlements_.Nack(lease, 0, "worker shutting down");
      std::lock_guard lock(mu_);
      totals_.nacked += jobs_.size();
      if (!jobs_.empty()) {
        spdlog::info("grace over: nacked {} unfinished messages for immediate redelivery",
                     jobs_.size());
      }
      jobs_.clear();
      return;
    }
  }
}

}  // namespace mandrill::worker
