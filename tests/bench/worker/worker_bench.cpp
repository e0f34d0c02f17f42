// mandrill-worker throughput: real broker and worker processes on loopback, a windowed publisher
// in this process. Prints nproc and the figures; run from a Release build.
//
//   worker_bench noop     [--messages N] [--concurrency C]       one worker, no-op handler, side
//                         [--rounds R]                           by side with e2e_bench's raw
//                                                                client consumer (--workers 1),
//                                                                alternating, R rounds (5)
//   worker_bench mandrill [--messages N] [--workers 1,2,4,8]     the running example: 10 ms
//                         [--restart-ms 10] [--concurrency 64]   restarts + SQLite ledger
//   worker_bench sdk --worker-bin PATH [--messages N]            a worker built out of tree on
//                    [--concurrency C] [--rounds R]              the installed SDK (tests/sdk/
//                                                                example) vs mandrill-worker,
//                                                                both --handler noop, alternating
//
// The broker runs with --storage memory (no journal, so no fsync): this measures the worker, not
// the disk; e2e_bench and journal_bench measure durability. Every mode's first line says so.
//
// Rates are publish-start -> last ack (the queue is empty when publishing starts and every worker
// is already connected). CPU figures come from wait4() rusage of each process (all threads,
// user+sys) and, for the worker's loop and network threads, from its exit log line.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "shared/protocol/transport.h"
#include "tests/support/process.h"
#include "tests/bench/worker/bench_text.h"
#include "tests/support/socket_wait.h"

namespace {

using mandrill::bench::Join;
using mandrill::bench::Median;
using mandrill::bench::ReadFile;
using mandrill::testing::SendOrRetry;
using mandrill::testing::WaitReadable;

using namespace mandrill;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::size_t messages = 0;
  std::uint32_t concurrency = 0;
  std::vector<int> workers = {1, 2, 4, 8};
  int restart_ms = 10;
  std::size_t payload = 100;
  std::size_t window = 20'000;
  std::size_t batch = 200;
  int rounds = 5;  // noop, sdk: alternating rounds
  std::string worker_bin;  // sdk: the out-of-tree worker
};

// A child process with its rusage collected at exit.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      if (f != nullptr) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      Reap();
    }
  }
  void Signal(int sig) { kill(pid_, sig); }
  int Reap() {
    int status = 0;
    wait4(pid_, &status, 0, &usage_);
    reaped_ = true;
    return status;
  }
  double CpuSeconds() const {
    return usage_.ru_utime.tv_sec + usage_.ru_utime.tv_usec / 1e6 + usage_.ru_stime.tv_sec +
           usage_.ru_stime.tv_usec / 1e6;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  rusage usage_{};
};

// Admin connection to the broker.
class Admin {
 public:
  Admin(zmq::context_t& ctx, const std::string& endpoint) : s_(ctx, zmq::socket_type::dealer) {
    protocol::DealerOptions d;
    d.linger_ms = 0;
    protocol::ConfigureDealer(s_, d);
    s_.connect(endpoint);
  }
  std::optional<protocol::StatsReply> Stats(long timeout_ms = 5000) {
    SendOrRetry(s_, protocol::StatsRequest{++request_});
    const auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
    protocol::Received in;
    const protocol::Limits limits;
    while (Clock::now() < until) {
      if (!WaitReadable(s_, 50)) continue;
      while (protocol::Receive(s_, in)) {
        auto m = protocol::DecodeReceived(in, 0, limits);
        if (!m.ok()) continue;
        if (auto* r = std::get_if<protocol::StatsReply>(&m.value())) {
          if (r->request_id == request_) return *r;
        }
      }
    }
    return std::nullopt;
  }
  std::uint64_t Acked(const std::string& queue) {
    auto s = Stats();
    if (!s) return 0;
    for (const auto& q : s->queues) {
      if (q.name == queue) return q.acked;
    }
    return 0;
  }

 private:
  zmq::socket_t s_;
  std::uint64_t request_ = 0;
};

// Publishes `n` messages to `queue` with at most `window` unconfirmed; returns when all are
// confirmed.
void Publish(zmq::context_t& ctx, const std::string& endpoint, const std::string& queue,
             std::size_t n, const Options& o, bool restart_payload) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  protocol::DealerOptions d;
  protocol::ConfigureDealer(s, d);
  s.connect(endpoint);
  std::size_t sent = 0, confirmed = 0;
  protocol::Received in;
  const protocol::Limits limits;
  std::string filler(o.payload, 'x');
  protocol::Publish batch;
  while (confirmed < n) {
    while (sent < n && sent - confirmed < o.window) {
      batch.items.clear();
      const std::size_t k = std::min({o.batch, n - sent, o.window - (sent - confirmed)});
      for (std::size_t i = 0; i < k; ++i) {
        const std::string id = "b-" + std::to_string(sent + i);
        batch.items.push_back({queue, id, restart_payload ? "restart cattle-" + id : filler, {}});
      }
      SendOrRetry(s, batch);
      sent += k;
    }
    if (!WaitReadable(s, 100)) continue;
    while (protocol::Receive(s, in)) {
      auto m = protocol::DecodeReceived(in, 0, limits);
      if (!m.ok()) continue;
      if (auto* c = std::get_if<protocol::Confirm>(&m.value())) confirmed += c->ids.size();
      if (auto* e = std::get_if<protocol::Error>(&m.value())) {
        std::fprintf(stderr, "publish error: %s\n", e->reason.c_str());
      }
    }
  }
  s.set(zmq::sockopt::linger, 0);
}

struct Run {
  double seconds = 0;
  double rate = 0;
  double broker_cpu = 0, workers_cpu = 0;
  double loop_ns = -1, net_ns = -1;  // per message, from the worker's exit line (first worker)
  std::uint64_t acked = 0;
};

// One run: broker, `nworkers` workers with `worker_flags`, `n` messages.
Run RunOnce(const std::string& dir, int nworkers, std::size_t n,
            const std::vector<std::string>& worker_flags, const Options& o, bool restart_payload,
            const std::string& worker_bin = testing::Binary("mandrill-worker")) {
  const int port = testing::FreePort();
  const std::string endpoint = testing::LoopbackEndpoint(port);
  std::filesystem::create_directories(dir);
  Child broker({testing::Binary("mandrill-broker"), "--bind", endpoint, "--data-dir",
                dir + "/data", "--storage", "memory", "--log-level", "warn", "--queue-limit",
                "10000000"},
               dir + "/broker.log");
  zmq::context_t ctx(1);
  Admin admin(ctx, endpoint);
  if (!admin.Stats(10'000)) {
    std::fprintf(stderr, "broker did not answer (%s)\n", ReadFile(dir + "/broker.log").c_str());
    std::exit(1);
  }
  std::vector<std::unique_ptr<Child>> workers;
  for (int i = 0; i < nworkers; ++i) {
    std::vector<std::string> argv = {worker_bin, "--broker", endpoint,
                                     "--queue", "bench", "--name", "w" + std::to_string(i),
                                     "--log-level", "info", "--stats-interval", "0"};
    for (auto f : worker_flags) {
      const auto at = f.find("{i}");
      if (at != std::string::npos) f.replace(at, 3, std::to_string(i));
      argv.push_back(f);
    }
    workers.push_back(std::make_unique<Child>(argv, dir + "/worker-" + std::to_string(i) + ".log"));
  }
  // Every worker connected before the clock starts.
  while (true) {
    auto s = admin.Stats();
    if (s && static_cast<int>(s->workers.size()) == nworkers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto t0 = Clock::now();
  std::thread publisher([&] { Publish(ctx, endpoint, "bench", n, o, restart_payload); });
  Run r;
  while ((r.acked = admin.Acked("bench")) < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  publisher.join();
  r.rate = static_cast<double>(n) / r.seconds;
  for (auto& w : workers) w->Signal(SIGTERM);
  for (auto& w : workers) {
    w->Reap();
    r.workers_cpu += w->CpuSeconds();
  }
  broker.Signal(SIGTERM);
  broker.Reap();
  r.broker_cpu = broker.CpuSeconds();
  const std::string log = ReadFile(dir + "/worker-0.log");
  std::smatch m;
  if (std::regex_search(log, m,
                        std::regex(R"(loop CPU [0-9.]+ ms \(([0-9]+) ns/message\), net CPU [0-9.]+ ms \(([0-9]+) ns/message\))"))) {
    r.loop_ns = std::stod(m[1]);
    r.net_ns = std::stod(m[2]);
  }
  return r;
}

// Runs e2e_bench --workers 1 and returns its publish->ack rate (0 if it cannot); its output is
// printed only for the first round.
double RawClientRate(const Options& o, bool print) {
  const std::string cmd = testing::Binary("e2e_bench") + " --workers 1 --messages " +
                          std::to_string(o.messages) + " --credit " +
                          std::to_string(o.concurrency) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  if (print) std::printf("%s", out.c_str());
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(e2e: ([0-9.]+) messages/s)"))) {
    return std::stod(m[1]);
  }
  return 0;
}

// The raw client and mandrill-worker run in alternation, `rounds` times each, and the medians are
// compared: on a 2-core machine whose speed drifts from one second to the next, one run of each
// side can differ by +-30% for reasons that have nothing to do with either.
int Noop(Options o) {
  if (o.messages == 0) o.messages = 200'000;
  if (o.concurrency == 0) o.concurrency = 2000;
  const std::string dir = testing::MakeTempDir("mandrill-worker-bench");
  std::printf("worker_bench noop: nproc=%ld messages=%zu payload=%zuB window=%zu batch=%zu "
              "credit=%u storage=memory fsync=- rounds=%d (alternating)\n",
              sysconf(_SC_NPROCESSORS_ONLN), o.messages, o.payload, o.window, o.batch,
              o.concurrency, o.rounds);
  std::vector<double> raw, rate, worker_us, loop_ns, net_ns, broker_us;
  for (int round = 0; round < o.rounds; ++round) {
    if (round == 0) std::printf("--- raw client consumer (e2e_bench --workers 1), first round ---\n");
    const double r0 = RawClientRate(o, round == 0);
    if (r0 > 0) raw.push_back(r0);
    const Run r = RunOnce(dir + "/noop" + std::to_string(round), 1, o.messages,
                          {"--handler", "noop", "--concurrency", std::to_string(o.concurrency)},
                          o, false);
    rate.push_back(r.rate);
    worker_us.push_back(r.workers_cpu * 1e6 / static_cast<double>(o.messages));
    broker_us.push_back(r.broker_cpu * 1e6 / static_cast<double>(o.messages));
    if (r.loop_ns >= 0) loop_ns.push_back(r.loop_ns);
    if (r.net_ns >= 0) net_ns.push_back(r.net_ns);
  }
  std::filesystem::remove_all(dir);
  std::printf("--- medians of %d alternating rounds (each round's figure in brackets) ---\n",
              o.rounds);
  std::printf("raw client consumer: %.0f messages/s publish->ack [%s]\n", Median(raw),
              Join(raw, 1).c_str());
  std::printf("mandrill-worker noop: %.0f messages/s publish->ack [%s]\n", Median(rate),
              Join(rate, 1).c_str());
  std::printf("  worker process CPU %.2f us/message (all threads, user+sys) [%s ns]\n",
              Median(worker_us), Join(worker_us, 1000).c_str());
  std::printf("  loop thread %.0f ns/message, net thread %.0f ns/message (thread CPU time) "
              "[loop %s] [net %s]\n",
              Median(loop_ns), Median(net_ns), Join(loop_ns, 1).c_str(), Join(net_ns, 1).c_str());
  std::printf("  broker CPU %.2f us/message\n", Median(broker_us));
  if (!raw.empty()) {
    std::vector<double> ratios;
    for (std::size_t i = 0; i < std::min(raw.size(), rate.size()); ++i) {
      ratios.push_back(100.0 * rate[i] / raw[i]);
    }
    std::printf("raw client %.0f/s vs mandrill-worker %.0f/s: %.0f%% (target >= 80%%); "
                "per round [%s %%]\n",
                Median(raw), Median(rate), 100.0 * Median(rate) / Median(raw),
                Join(ratios, 1).c_str());
  } else {
    std::printf("raw client rate unavailable (build e2e_bench)\n");
  }
  return 0;
}

// mandrill-worker and the out-of-tree SDK worker in alternation, `rounds` times each: the same
// handler (noop) and flags, so what differs is only how the binary was built and linked.
int Sdk(Options o) {
  if (o.worker_bin.empty()) {
    std::fprintf(stderr, "sdk: --worker-bin PATH (the SDK example's digest-worker)\n");
    return 64;
  }
  if (o.messages == 0) o.messages = 200'000;
  if (o.concurrency == 0) o.concurrency = 2000;
  const std::string dir = testing::MakeTempDir("mandrill-worker-bench");
  std::printf("worker_bench sdk: nproc=%ld messages=%zu payload=%zuB window=%zu batch=%zu "
              "credit=%u storage=memory fsync=- rounds=%d (alternating) sdk worker=%s\n",
              sysconf(_SC_NPROCESSORS_ONLN), o.messages, o.payload, o.window, o.batch,
              o.concurrency, o.rounds, o.worker_bin.c_str());
  const std::vector<std::string> flags = {"--handler", "noop", "--concurrency",
                                          std::to_string(o.concurrency)};
  std::vector<double> built_in, sdk, built_in_us, sdk_us, ratios;
  for (int round = 0; round < o.rounds; ++round) {
    const Run a = RunOnce(dir + "/in" + std::to_string(round), 1, o.messages, flags, o, false);
    const Run b = RunOnce(dir + "/sdk" + std::to_string(round), 1, o.messages, flags, o, false,
                          o.worker_bin);
    built_in.push_back(a.rate);
    sdk.push_back(b.rate);
    built_in_us.push_back(a.workers_cpu * 1e6 / static_cast<double>(o.messages));
    sdk_us.push_back(b.workers_cpu * 1e6 / static_cast<double>(o.messages));
    ratios.push_back(100.0 * b.rate / a.rate);
  }
  std::filesystem::remove_all(dir);
  std::printf("--- medians of %d alternating rounds (each round's figure in brackets) ---\n",
              o.rounds);
  std::printf("mandrill-worker noop: %.0f messages/s, worker CPU %.2f us/message [%s]\n",
              Median(built_in), Median(built_in_us), Join(built_in, 1).c_str());
  std::printf("SDK worker noop:      %.0f messages/s, worker CPU %.2f us/message [%s]\n",
              Median(sdk), Median(sdk_us), Join(sdk, 1).c_str());
  std::printf("SDK worker vs mandrill-worker: %.1f%% of its rate (target within 5%%), CPU per "
              "message %.1f%%; per round [%s %%]\n",
              100.0 * Median(sdk) / Median(built_in), 100.0 * Median(sdk_us) / Median(built_in_us),
              Join(ratios, 1).c_str());
  return 0;
}

int Mandrill(Options o) {
  if (o.messages == 0) o.messages = 20'000;
  if (o.concurrency == 0) o.concurrency = 64;
  const std::string dir = testing::MakeTempDir("mandrill-worker-bench");
  const std::string restart = std::to_string(o.restart_ms) + ":" + std::to_string(o.restart_ms);
  std::printf("worker_bench mandrill: nproc=%ld messages=%zu payload=%zuB window=%zu batch=%zu "
              "credit=%u per worker storage=memory fsync=- restart=%d ms, ledger on (one SQLite "
              "file per worker); ideal per worker = %u/%d ms = %.0f/s\n",
              sysconf(_SC_NPROCESSORS_ONLN), o.messages, o.payload, o.window, o.batch,
              o.concurrency, o.restart_ms, o.concurrency, o.restart_ms,
              o.concurrency * 1000.0 / o.restart_ms);
  std::printf("%8s %10s %10s %12s %10s %14s %14s %12s\n", "workers", "messages", "seconds",
              "messages/s", "vs ideal", "worker us/msg", "broker us/msg", "loop ns/msg");
  double base = 0;
  for (int w : o.workers) {
    const std::size_t n = std::max<std::size_t>(o.messages, o.messages * w / 2);
    const Run r = RunOnce(dir + "/w" + std::to_string(w), w, n,
                          {"--handler", "mandrill", "--concurrency",
                           std::to_string(o.concurrency), "--restart-ms", restart, "--ledger",
                           dir + "/w" + std::to_string(w) + "/ledger-{i}.db"},
                          o, true);
    if (base == 0) base = r.rate;
    const double ideal = w * o.concurrency * 1000.0 / o.restart_ms;
    std::printf("%8d %10zu %10.2f %12.0f %9.0f%% %14.2f %14.2f %12.0f\n", w, n, r.seconds, r.rate,
                100.0 * r.rate / ideal, r.workers_cpu * 1e6 / static_cast<double>(n),
                r.broker_cpu * 1e6 / static_cast<double>(n), r.loop_ns);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr, "usage: worker_bench noop|mandrill|sdk [flags] (see the source header)\n");
    return 64;
  }
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--messages") {
      o.messages = std::stoul(v);
    } else if (k == "--concurrency") {
      o.concurrency = static_cast<std::uint32_t>(std::stoul(v));
    } else if (k == "--restart-ms") {
      o.restart_ms = std::stoi(v);
    } else if (k == "--rounds") {
      o.rounds = std::max(1, std::stoi(v));
    } else if (k == "--payload") {
      o.payload = std::stoul(v);
    } else if (k == "--worker-bin") {
      o.worker_bin = v;
    } else if (k == "--workers") {
      o.workers.clear();
      std::stringstream s(v);
      for (std::string w; std::getline(s, w, ',');) o.workers.push_back(std::stoi(w));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 64;
    }
  }
  if (o.mode == "noop") return Noop(o);
  if (o.mode == "mandrill") return Mandrill(o);
  if (o.mode == "sdk") return Sdk(o);
  std::fprintf(stderr, "unknown mode %s (noop | mandrill | sdk)\n", o.mode.c_str());
  return 64;
}
