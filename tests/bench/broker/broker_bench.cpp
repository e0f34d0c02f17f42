// The broker's own costs, each against a real mandrill-broker process (journal, --fsync
// always unless --broker-flags say otherwise), issue 10:
//   broker_bench memory   [--messages 1000000] [--payload 100]
//       publishes N messages nobody consumes; prints the broker's RSS growth per message.
//   broker_bench recovery [--messages 1000000] [--payload 100] [--cold]
//       journals N messages, stops the broker, restarts it on the same data dir and times exec
//       -> first STATS reply (warm page cache; --cold drops it first, as root).
//   broker_bench idle-queues [--queues 200000] [--round-trips 2000]
//       publish -> ack round trip of one message at a time, first with no other queues, then
//       with N idle queues created by READY frames.
// Every run prints its load shape first and `nproc`.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "shared/protocol/transport.h"
#include "tests/support/process.h"
#include "tests/support/socket_wait.h"

namespace {

using namespace mandrill;
using testing::SendOrRetry;
using testing::WaitReadable;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::size_t messages = 1'000'000;
  std::size_t payload = 100;
  std::size_t queues = 200'000;
  std::size_t round_trips = 2000;
  bool cold = false;
  bool keep = false;  // leave the data dir for a look (its path is printed)
  std::string broker_flags;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::vector<std::string> Split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// One broker process on a free port; killed when this dies.
class Broker {
 public:
  Broker(const std::string& data_dir, const Options& o, std::vector<std::string> extra = {}) {
    port_ = testing::FreePort();
    endpoint_ = testing::LoopbackEndpoint(port_);
    std::vector<std::string> argv = {testing::Binary("mandrill-broker"), "--bind", endpoint_,
                                     "--data-dir", data_dir, "--log-level", "warn",
                                     "--queue-limit", "100000000"};
    // The durable default unless --broker-flags name another storage (the broker refuses a
    // flag given twice).
    if (o.broker_flags.find("--storage") == std::string::npos) {
      argv.insert(argv.end(), {"--storage", "journal"});
    }
    for (auto& f : extra) argv.push_back(f);
    for (auto& f : Split(o.broker_flags)) argv.push_back(f);
    started_ = Clock::now();
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Broker() { Kill(SIGKILL); }
  const std::string& endpoint() const { return endpoint_; }
  Clock::time_point started() const { return started_; }
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits for the exit.
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Resident set size in bytes (VmRSS).
  std::size_t Rss() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
  }

 private:
  int port_ = 0;
  std::string endpoint_;
  pid_t pid_ = -1;
  Clock::time_point started_;
};

// The next frame of kind T within `timeout_ms` in all (other kinds, such as heartbeats, are
// skipped); exits the bench if none comes.
template <typename T>
T Await(zmq::socket_t& s, long timeout_ms) {
  protocol::Received in;
  const protocol::Limits limits;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (!WaitReadable(s, 50)) continue;
    if (!protocol::Receive(s, in)) continue;
    auto m = protocol::DecodeReceived(in, 0, limits);
    if (!m.ok()) continue;
    if (auto* t = std::get_if<T>(&m.value())) return std::move(*t);
  }
  std::fprintf(stderr, "broker_bench: no %s from the broker within %ld ms\n",
               std::string(protocol::CommandName(protocol::CommandOf(protocol::Message(T{})))).c_str(),
               timeout_ms);
  std::exit(1);
}

// Asks STATS until answered; returns when it was.
Clock::time_point FirstStats(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  protocol::DealerOptions d;
  d.linger_ms = 0;
  d.reconnect_ms = 1;
  d.reconnect_max_ms = 10;
  protocol::ConfigureDealer(s, d);
  s.connect(endpoint);
  SendOrRetry(s, protocol::StatsRequest{1});
  Await<protocol::StatsReply>(s, 60'000);
  return Clock::now();
}

// Publishes `n` messages of `payload` bytes into queue "bench", window 20,000, batch 500.
void PublishAll(zmq::context_t& ctx, const std::string& endpoint, std::size_t n,
                std::size_t payload) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  protocol::ConfigureDealer(s, protocol::DealerOptions{});
  s.connect(endpoint);
  const std::string body(payload, 'x');
  std::size_t sent = 0, confirmed = 0;
  auto last_progress = Clock::now();
  protocol::Received in;
  const protocol::Limits limits;
  while (confirmed < n) {
    while (sent < n && sent - confirmed < 20'000) {
      protocol::Publish p;
      const std::size_t k = std::min<std::size_t>(500, n - sent);
      for (std::size_t i = 0; i < k; ++i) {
        p.items.push_back({"bench", "cattle-" + std::to_string(sent + i), body, {}});
      }
      SendOrRetry(s, p);
      sent += k;
    }
    if (!WaitReadable(s, 100)) {
      // A broker that died (or refused its flags) answers nothing: do not wait for ever.
      if (Clock::now() - last_progress > std::chrono::seconds(30)) {
        std::fprintf(stderr, "broker_bench: no confirm for 30 s (%zu of %zu confirmed): is the "
                             "broker up? (its flags: see above)\n", confirmed, n);
        std::exit(1);
      }
      continue;
    }
    last_progress = Clock::now();
    while (protocol::Receive(s, in)) {
      auto m = protocol::DecodeReceived(in, 0, limits);
      if (!m.ok()) continue;
      if (auto* c = std::get_if<protocol::Confirm>(&*m)) confirmed += c->ids.size();
      if (auto* e = std::get_if<protocol::Error>(&*m)) {
        std::fprintf(stderr, "broker_bench: publish refused: %s\n", e->reason.c_str());
        std::exit(1);
      }
    }
  }
  s.set(zmq::sockopt::linger, 0);
}

int Memory(const Options& o, const std::string& dir) {
  zmq::context_t ctx(1);
  Broker b(dir + "/data", o);
  FirstStats(ctx, b.endpoint());
  // A first, small batch warms up allocator arenas and socket buffers.
  PublishAll(ctx, b.endpoint(), 1000, o.payload);
  const std::size_t before = b.Rss();
  PublishAll(ctx, b.endpoint(), o.messages, o.payload);
  const std::size_t after = b.Rss();
  const double per = static_cast<double>(after - before) / static_cast<double>(o.messages);
  std::printf("memory: %zu messages of %zu B queued: broker RSS %.1f MiB -> %.1f MiB\n",
              o.messages, o.payload, before / 1048576.0, after / 1048576.0);
  std::printf("memory: %.0f B per queued message = payload %zu B + %.0f B overhead\n", per,
              o.payload, per - static_cast<double>(o.payload));
  return 0;
}

int Recovery(const Options& o, const std::string& dir) {
  zmq::context_t ctx(1);
  {
    Broker b(dir + "/data", o);
    FirstStats(ctx, b.endpoint());
    PublishAll(ctx, b.endpoint(), o.messages, o.payload);
    b.Kill(SIGTERM);
  }
  std::uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/data")) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  if (o.cold) {
    sync();
    std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
  }
  Broker b(dir + "/data", o);
  const auto answered = FirstStats(ctx, b.endpoint());
  std::printf("recovery: %zu journaled messages (%.1f MiB of journal), %s page cache: exec -> "
              "first STATS reply %.3f s\n",
              o.messages, bytes / 1048576.0, o.cold ? "cold" : "warm",
              Seconds(answered - b.started()));
  return 0;
}

// Sequential publish -> ack round trips of one message; returns the median in ms. Each call
// needs its own `tag`: ids already settled are within the dedup window, and would be confirmed
// without a delivery.
double RoundTrips(zmq::context_t& ctx, const std::string& endpoint, const std::string& tag,
                  std::size_t n, std::vector<double>* all) {
  zmq::socket_t pub(ctx, zmq::socket_type::dealer);
  zmq::socket_t work(ctx, zmq::socket_type::dealer);
  protocol::ConfigureDealer(pub, protocol::DealerOptions{});
  protocol::ConfigureDealer(work, protocol::DealerOptions{});
  pub.connect(endpoint);
  work.connect(endpoint);
  SendOrRetry(work, protocol::Ready{"rt", {"rt"}, 1, "broker-bench-rt-" + tag});
  Await<protocol::Welcome>(work, 10'000);
  std::vector<double> ms;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    const std::string id = tag + "-" + std::to_string(i);
    SendOrRetry(pub, protocol::Publish{{{"rt", id, "x", {}}}});
    // Only this message's delivery ends the round trip: a stray one would make it look instant.
    for (bool mine = false; !mine;) {
      const auto d = Await<protocol::Deliver>(work, 10'000);
      for (const auto& item : d.items) mine = mine || item.id == id;
      std::vector<std::uint64_t> leases;
      for (const auto& item : d.items) leases.push_back(item.lease_id);
      SendOrRetry(work, protocol::Ack{std::move(leases)});
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    Await<protocol::Confirm>(pub, 10'000);
  }
  std::sort(ms.begin(), ms.end());
  if (all != nullptr) *all = ms;
  // Gone at once, or the next round's message could be delivered to this session.
  SendOrRetry(work, protocol::Disconnect{"round trips done"});
  pub.set(zmq::sockopt::linger, 0);
  work.set(zmq::sockopt::linger, 1000);
  return ms[ms.size() / 2];
}

int IdleQueues(const Options& o, const std::string& dir) {
  zmq::context_t ctx(1);
  Broker b(dir + "/data", o, {"--max-queues", std::to_string(o.queues + 10)});
  FirstStats(ctx, b.endpoint());
  std::vector<double> base;
  RoundTrips(ctx, b.endpoint(), "base", o.round_trips, &base);
  // READY frames naming 10,000 new queues each, from one peer (as issue 10's flood did).
  zmq::socket_t flood(ctx, zmq::socket_type::dealer);
  protocol::ConfigureDealer(flood, protocol::DealerOptions{});
  flood.connect(b.endpoint());
  for (std::size_t made = 0; made < o.queues;) {
    protocol::Ready r{"flood", {}, 0, "broker-bench-flood"};
    for (std::size_t i = 0; i < 10'000 && made < o.queues; ++i, ++made) {
      r.queues.push_back("idle-" + std::to_string(made));
    }
    SendOrRetry(flood, r);
    Await<protocol::Welcome>(flood, 30'000);
  }
  const std::size_t rss = b.Rss();
  std::vector<double> loaded;
  RoundTrips(ctx, b.endpoint(), "loaded", o.round_trips, &loaded);
  auto pct = [](const std::vector<double>& v, double p) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
  };
  std::printf("idle-queues: publish->ack round trip with 0 other queues: p50 %.3f ms, p99 %.3f ms\n",
              pct(base, 0.5), pct(base, 0.99));
  std::printf("idle-queues: with %zu idle queues (broker RSS %.1f MiB): p50 %.3f ms, p99 %.3f ms\n",
              o.queues, rss / 1048576.0, pct(loaded, 0.5), pct(loaded, 0.99));
  flood.set(zmq::sockopt::linger, 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr, "usage: broker_bench memory|recovery|idle-queues [flags]\n");
    return 64;
  }
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "broker_bench: %s needs a value\n", k.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (k == "--messages") o.messages = std::stoul(value());
    else if (k == "--payload") o.payload = std::stoul(value());
    else if (k == "--queues") o.queues = std::stoul(value());
    else if (k == "--round-trips") o.round_trips = std::stoul(value());
    else if (k == "--cold") o.cold = true;
    else if (k == "--keep") o.keep = true;
    else if (k == "--broker-flags") o.broker_flags = value();
    else {
      std::fprintf(stderr, "broker_bench: unknown flag %s\n", k.c_str());
      return 64;
    }
  }
  std::printf("broker_bench %s: nproc=%ld messages=%zu payload=%zuB queues=%zu storage=journal "
              "fsync=always (unless: %s)\n",
              o.mode.c_str(), sysconf(_SC_NPROCESSORS_ONLN), o.messages, o.payload, o.queues,
              o.broker_flags.empty() ? "-" : o.broker_flags.c_str());
  const std::string dir = testing::MakeTempDir("mandrill-broker-bench");
  int rc = 64;
  if (o.mode == "memory") rc = Memory(o, dir);
  else if (o.mode == "recovery") rc = Recovery(o, dir);
  else if (o.mode == "idle-queues") rc = IdleQueues(o, dir);
  else std::fprintf(stderr, "broker_bench: unknown mode %s\n", o.mode.c_str());
  if (o.keep) {
    std::printf("broker_bench: data kept in %s\n", dir.c_str());
  } else {
    std::filesystem::remove_all(dir);
  }
  return rc;
}
