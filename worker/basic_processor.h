#pragma once
// The basic worker's processing side (replaced by the supervised coroutine loop in the runtime
// issue): one thread that simulates host restarts concurrently as timers, records each success
// in the ledger before acking, nacks failures with an attempt-based backoff, and extends leases
// that would expire before the work ends. The network thread feeds it through DeliverySink.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "worker/delivery_sink.h"
#include "worker/ledger.h"
#include "worker/settlements.h"

namespace mandrill::worker {

struct ProcessorOptions {
  std::chrono::milliseconds restart_min{0};
  std::chrono::milliseconds restart_max{0};
  double fail_rate = 0;
  std::uint64_t seed = 0;
};

struct ProcessorTotals {
  std::uint64_t acked = 0, nacked = 0, lost = 0, ledger_errors = 0;
};

class BasicProcessor final : public DeliverySink {
 public:
  // `ledger` may be null (no ledger); it is used only on the processing thread.
  BasicProcessor(ProcessorOptions options, Settlements& settlements, Ledger* ledger);

  // DeliverySink: network thread.
  void OnDeliveries(std::vector<protocol::DeliverItem>&& items) override;
  void OnLeasesLost(const std::vector<std::uint64_t>& leases) override;
  void OnExtended(const std::vector<protocol::ExtendedItem>& items) override;
  void OnWelcome(const protocol::Welcome& welcome) override;

  // Processing thread body; returns when drained.
  void Run();
  // Any thread: stop taking work; finish what is in flight until `grace` has passed, then nack
  // the rest for immediate redelivery. A second call with a shorter grace shortens it.
  void Drain(std::chrono::milliseconds grace);

  ProcessorTotals totals() const;

 private:
  struct Job {
    protocol::DeliverItem item;
    std::chrono::steady_clock::time_point due;
    std::chrono::steady_clock::time_point lease_deadline;
    bool fails = false;
  };
  void Accept(std::vector<protocol::DeliverItem>& items);
  void CompleteDue(std::chrono::steady_clock::time_point now);
  void KeepLeases(std::chrono::steady_clock::time_point now);
  std::chrono::steady_clock::time_point NextEvent() const;

  ProcessorOptions options_;
  Settlements& settlements_;
  Ledger* ledger_;
  std::mt19937_64 rng_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<protocol::DeliverItem> inbox_;  // guarded by mu_
  std::vector<std::uint64_t> lost_;           // guarded by mu_
  std::vector<protocol::ExtendedItem> extended_;  // guarded by mu_
  std::uint32_t lease_ms_ = 30'000;           // guarded by mu_
  bool draining_ = false;                     // guarded by mu_
  bool woken_ = false;                        // guarded by mu_: Drain() was called
  std::chrono::steady_clock::time_point drain_deadline_{};  // guarded by mu_
  ProcessorTotals totals_;                    // guarded by mu_

  std::map<std::uint64_t, Job> jobs_;  // processing thread only
};

}  // namespace mandrill::worker
