// Runtime benchmarks. Prints "name value" lines (and nproc) for run_benchmarks.sh:
//   spawn      1,000,000 trivial tasks spawned under a Supervisor and completed (ns per task):
//              steady (waves of 1,000, as a worker runs) and burst (all 1,000,000 alive at once)
//   post       cross-thread Post throughput from one producer thread (callbacks/s)
//   wake       Post latency from an idle (sleeping) loop: p50/p99 in microseconds
//   timers     1,000,000 pending timers: insert and fire (ns per timer)
// Usage: runtime_bench [spawn|post|wake|timers]...   (default: all)
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shared/runtime/runtime.h"

namespace rt = mandrill::runtime;
using Clock = std::chrono::steady_clock;

namespace {

double NsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

rt::LoopOptions QuietOptions() {
  rt::LoopOptions o;
  o.name = "bench";
  o.slow_step_threshold = rt::Duration::zero();
  return o;
}

rt::Task<void> Trivial() { co_return; }

rt::Task<void> SpawnMany(int n, double* ns_per_task) {
  auto start = Clock::now();
  rt::Supervisor sup("bench");
  for (int i = 0; i < n; ++i) sup.Spawn("t", Trivial());
  co_await sup.Join();
  *ns_per_task = NsSince(start) / n;
}

// Steady state, as a worker runs: waves of 1,000 spawns, each wave completing before the next.
rt::Task<void> SpawnWaves(int n, int wave, double* ns_per_task) {
  auto start = Clock::now();
  rt::Supervisor sup("bench");
  for (int done = 0; done < n; done += wave) {
    for (int i = 0; i < wave; ++i) sup.Spawn("t", Trivial());
    co_await rt::Yield();  // the wave runs and completes
  }
  sup.Shutdown(rt::Duration::zero());
  co_await sup.Join();
  *ns_per_task = NsSince(start) / n;
}

void BenchSpawn() {
  constexpr int kTasks = 1'000'000;
  double burst = 1e18, steady = 1e18;
  for (int round = 0; round < 3; ++round) {
    double ns = 0;
    {
      rt::Loop loop(QuietOptions());
      loop.Run(SpawnMany(kTasks, &ns));
      burst = std::min(burst, ns);
    }
    {
      rt::Loop loop(QuietOptions());
      loop.Run(SpawnWaves(kTasks, 1000, &ns));
      steady = std::min(steady, ns);
    }
  }
  std::printf("spawn_steady_ns_per_task %.1f\n", steady);
  std::printf("spawn_burst_ns_per_task %.1f\n", burst);
}

rt::Task<void> WaitUntil(std::atomic<bool>* flag) {
  while (!flag->load(std::memory_order_acquire)) co_await rt::Sleep(std::chrono::microseconds(50));
}

void BenchPost() {
  static constexpr int kPosts = 5'000'000;
  rt::Loop loop(QuietOptions());
  std::atomic<bool> done{false};
  int ran = 0;
  Clock::time_point start, end;
  std::thread producer([&] {
    start = Clock::now();
    for (int i = 0; i < kPosts; ++i) {
      loop.Post([&ran, &done, &end] {
        if (++ran == kPosts) {
          end = Clock::now();
          done.store(true, std::memory_order_release);
        }
      });
    }
  });
  loop.Run(WaitUntil(&done));
  producer.join();
  double secs = std::chrono::duration<double>(end - start).count();
  std::printf("post_callbacks_per_s %.0f\n", kPosts / secs);
}

void BenchWake() {
  constexpr int kSamples = 5000;
  rt::Loop loop(QuietOptions());
  std::atomic<bool> done{false};
  std::atomic<int> acked{0};
  std::vector<double> latency_us;
  latency_us.reserve(kSamples);
  std::thread producer([&] {
    for (int i = 0; i < kSamples; ++i) {
      // Let the loop go idle (asleep in epoll) before each sample.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      auto sent = Clock::now();
      loop.Post([&latency_us, &acked, sent] {
        latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent).count());
        acked.fetch_add(1, std::memory_order_release);
      });
      while (acked.load(std::memory_order_acquire) != i + 1) std::this_thread::yield();
    }
    loop.Post([&done] { done.store(true); });
  });
  loop.Run([](std::atomic<bool>* d) -> rt::Task<void> {
    // Sleeps on a long timer: the loop is idle in epoll between samples.
    while (!d->load()) co_await rt::Sleep(std::chrono::milliseconds(5));
  }(&done));
  producer.join();
  std::sort(latency_us.begin(), latency_us.end());
  std::printf("wake_p50_us %.1f\n", latency_us[latency_us.size() / 2]);
  std::printf("wake_p99_us %.1f\n", latency_us[latency_us.size() * 99 / 100]);
}

rt::Task<void> ManyTimers(int n, double* insert_ns, double* total_ns) {
  rt::Loop& loop = *rt::Loop::Current();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> delay_us(0, 1000);
  int fired = 0;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    loop.CallLater(std::chrono::microseconds(delay_us(rng)), [&fired] { ++fired; });
  }
  *insert_ns = NsSince(start) / n;
  while (fired < n) co_await rt::Sleep(std::chrono::microseconds(100));
  *total_ns = NsSince(start) / n;
}

void BenchTimers() {
  constexpr int kTimers = 1'000'000;
  rt::Loop loop(QuietOptions());
  double insert = 0, total = 0;
  loop.Run(ManyTimers(kTimers, &insert, &total));
  std::printf("timers_insert_ns %.1f\n", insert);
  std::printf("timers_insert_fire_ns %.1f\n", total);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::printf("nproc %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  auto want = [&](const char* name) {
    if (argc < 2) return true;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], name) == 0) return true;
    }
    return false;
  };
  if (want("spawn")) BenchSpawn();
  if (want("post")) BenchPost();
  if (want("wake")) BenchWake();
  if (want("timers")) BenchTimers();
  return 0;
}
