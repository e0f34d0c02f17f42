// Runtime benchmarks. Prints "name value" lines (and nproc) for run_benchmarks.sh; asyncio_bench.py
// does the same work on asyncio and prints the same names.
//   spawn      1,000,000 trivial tasks spawned under a Supervisor and completed (ns per task):
//              steady (waves of 1,000, as a worker runs) and burst (all 1,000,000 alive at once);
//              best of 3 rounds, plus the first burst round alone (cold: memory not yet reused)
//   post       cross-thread Post throughput from one producer thread (callbacks/s)
//   wake       Post latency from an idle (sleeping) loop: p50/p99 in microseconds; and the
//              floor the kernel sets for any epoll loop: a bare thread blocked in epoll_wait on
//              an eventfd, woken by a write, same protocol (wake_floor_*)
//   timers     1,000,000 pending timers: insert and fire (ns per timer)
// Every ns figure of a single-threaded benchmark is wall time; the *_cpu_* lines are the loop
// thread's CPU time for the same run (useful on a machine shared with other work).
// Usage: runtime_bench [spawn|post|wake|timers]...   (default: all)
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
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

double ThreadCpuNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct Measured {
  double wall_ns = 0;
  double cpu_ns = 0;
};

rt::LoopOptions QuietOptions() {
  rt::LoopOptions o;
  o.name = "bench";
  o.slow_step_threshold = rt::Duration::zero();
  return o;
}

rt::Task<void> Trivial() { co_return; }

rt::Task<void> SpawnMany(int n, Measured* per_task) {
  auto start = Clock::now();
  double cpu = ThreadCpuNs();
  rt::Supervisor sup("bench");
  for (int i = 0; i < n; ++i) sup.Spawn("t", Trivial());
  co_await sup.Join();
  per_task->wall_ns = NsSince(start) / n;
  per_task->cpu_ns = (ThreadCpuNs() - cpu) / n;
}

// Steady state, as a worker runs: waves of 1,000 spawns, each wave completing before the next.
rt::Task<void> SpawnWaves(int n, int wave, Measured* per_task) {
  auto start = Clock::now();
  double cpu = ThreadCpuNs();
  rt::Supervisor sup("bench");
  for (int done = 0; done < n; done += wave) {
    for (int i = 0; i < wave; ++i) sup.Spawn("t", Trivial());
    co_await rt::Yield();  // the wave runs and completes
  }
  sup.Shutdown(rt::Duration::zero());
  co_await sup.Join();
  per_task->wall_ns = NsSince(start) / n;
  per_task->cpu_ns = (ThreadCpuNs() - cpu) / n;
}

void BenchSpawn() {
  constexpr int kTasks = 1'000'000;
  Measured burst{1e18, 1e18}, steady{1e18, 1e18}, cold_burst;
  for (int round = 0; round < 3; ++round) {
    Measured m;
    {
      rt::Loop loop(QuietOptions());
      loop.Run(SpawnMany(kTasks, &m));
      if (round == 0) cold_burst = m;
      burst.wall_ns = std::min(burst.wall_ns, m.wall_ns);
      burst.cpu_ns = std::min(burst.cpu_ns, m.cpu_ns);
    }
    {
      rt::Loop loop(QuietOptions());
      loop.Run(SpawnWaves(kTasks, 1000, &m));
      steady.wall_ns = std::min(steady.wall_ns, m.wall_ns);
      steady.cpu_ns = std::min(steady.cpu_ns, m.cpu_ns);
    }
  }
  std::printf("spawn_steady_ns_per_task %.1f\n", steady.wall_ns);
  std::printf("spawn_steady_cpu_ns_per_task %.1f\n", steady.cpu_ns);
  std::printf("spawn_burst_ns_per_task %.1f\n", burst.wall_ns);
  std::printf("spawn_burst_cpu_ns_per_task %.1f\n", burst.cpu_ns);
  std::printf("spawn_burst_cold_ns_per_task %.1f\n", cold_burst.wall_ns);
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
        acked.notify_one();
      });
      // Block until the callback ran (as the asyncio side waits on a threading.Event), so the
      // producer does not spin on a core the loop may need.
      for (int seen = acked.load(std::memory_order_acquire); seen != i + 1;
           seen = acked.load(std::memory_order_acquire)) {
        acked.wait(seen, std::memory_order_acquire);
      }
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

// The same measurement without the runtime: what the kernel's wake-up of a thread blocked in
// epoll_wait costs on this machine. No loop built on epoll can beat it.
void BenchWakeFloor() {
  constexpr int kSamples = 5000;
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event reg{};
  reg.events = EPOLLIN | EPOLLET;
  if (efd < 0 || ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, efd, &reg) != 0) {
    std::perror("wake floor setup");
    return;
  }
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::atomic<Clock::rep> sent_ns{0};
  std::vector<double> latency_us;
  latency_us.reserve(kSamples);
  std::thread waiter([&] {
    epoll_event ev{};
    for (;;) {
      if (::epoll_wait(ep, &ev, 1, -1) < 1) continue;
      if (stop.load()) return;
      Clock::duration sent(sent_ns.load(std::memory_order_acquire));
      latency_us.push_back(
          std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch() - sent)
              .count());
      acked.fetch_add(1, std::memory_order_release);
      acked.notify_one();
    }
  });
  std::uint64_t one = 1;
  for (int i = 0; i < kSamples; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    sent_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    if (::write(efd, &one, sizeof one) < 0) std::perror("write");
    for (int seen = acked.load(std::memory_order_acquire); seen != i + 1;
         seen = acked.load(std::memory_order_acquire)) {
      acked.wait(seen, std::memory_order_acquire);
    }
  }
  stop.store(true);
  if (::write(efd, &one, sizeof one) < 0) std::perror("write");
  waiter.join();
  ::close(ep);
  ::close(efd);
  std::sort(latency_us.begin(), latency_us.end());
  std::printf("wake_floor_p50_us %.1f\n", latency_us[latency_us.size() / 2]);
  std::printf("wake_floor_p99_us %.1f\n", latency_us[latency_us.size() * 99 / 100]);
}

rt::Task<void> ManyTimers(int n, double* insert_ns, double* total_ns, double* total_cpu_ns) {
  rt::Loop& loop = *rt::Loop::Current();
  double cpu = ThreadCpuNs();
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
  *total_cpu_ns = (ThreadCpuNs() - cpu) / n;
}

void BenchTimers() {
  constexpr int kTimers = 1'000'000;
  rt::Loop loop(QuietOptions());
  double insert = 0, total = 0, total_cpu = 0;
  loop.Run(ManyTimers(kTimers, &insert, &total, &total_cpu));
  std::printf("timers_insert_ns %.1f\n", insert);
  std::printf("timers_insert_fire_ns %.1f\n", total);
  std::printf("timers_insert_fire_cpu_ns %.1f\n", total_cpu);
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
  if (want("wake")) {
    BenchWake();
    BenchWakeFloor();
  }
  if (want("timers")) BenchTimers();
  return 0;
}
