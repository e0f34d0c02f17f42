// End-to-end throughput and latency: a real mandrill-broker process, one publisher and two
// workers (raw protocol clients on threads of this process, no-op handler), N messages from
// publish to ack. The first line prints the load shape (window, batch, credit, storage and
// fsync mode, nproc); then messages/s, the broker's CPU per message and publish->ack latency
// percentiles, each message's latency taken when its ACK has been sent, and publish->confirm
// percentiles (PUBLISH sent to its CONFIRM received by the publisher).
//
//   e2e_bench [--messages N] [--payload BYTES] [--workers W] [--credit C] [--window W]
//             [--batch B] [--rate MSGS_PER_S] [--broker-flags "..."] [--curve on]
//             [--scrape HZ] [--repeat N] [--compare off] [--consume-only on]
// --consume-only on: publish all N first (no worker connected, confirms awaited), then start
// the workers and time only the consumption (messages/s, and the journal syncs it caused).
// Every run also prints the broker's peak RSS and its journal sync count (STATS).
// --curve on: the same load twice in one run, plaintext then CURVE (keys, an auth file, the
// broker's ZAP handler), and the ratio of the two (issue 12).
// --scrape HZ: the same load without metrics, then with --metrics-bind and a scraper GETting
// /metrics HZ times a second on one keep-alive connection (as Prometheus does) for the whole
// run, and the ratio (issue 13). --repeat N alternates the two N times and reports medians;
// --compare off runs the scraped shape alone (for timing whole runs against a plain one).
// The broker runs the durable default (--storage journal --fsync always) unless
// --broker-flags say otherwise (e.g. "--storage memory" for the reactor alone).
// Without --rate the publisher runs as fast as its window allows (throughput; latency then
// includes queueing). With --rate below capacity the latency figures are the pipeline's own.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <zmq.hpp>

#include "shared/protocol/transport.h"
#include "shared/security/curve_keys.h"
#include "tests/support/process.h"
#include "tests/support/socket_wait.h"

namespace {

using mandrill::testing::SendOrRetry;
using mandrill::testing::WaitReadable;

using namespace mandrill;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t messages = 200'000;
  std::size_t payload = 100;
  int workers = 2;
  std::uint32_t credit = 2000;
  std::size_t window = 20'000;
  std::size_t batch = 200;
  std::string broker_flags = "--storage journal --fsync always";
  double rate = 0;  // messages/s offered by the publisher; 0 = as fast as the window allows
  bool curve = false;  // run plaintext, then CURVE (keys, auth file), and compare
  double scrape_hz = 0;  // > 0: run without metrics, then scraped at this rate, and compare
  int repeat = 1;
  bool compare = true;
  bool consume_only = false;
};

struct ScrapeResult {
  std::size_t scrapes = 0, failures = 0, bytes = 0;
  double total_ms = 0;
};

// GETs /metrics `hz` times a second until `stop`, paced on a fixed schedule (a late scrape does
// not make the next ones come faster).
void RunScraper(const std::string& host, int port, double hz, const std::atomic<bool>& stop,
                ScrapeResult& out) {
  httplib::Client client(host, port);
  client.set_keep_alive(true);
  client.set_read_timeout(5, 0);
  const auto period = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / hz));
  auto next = Clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    const auto t0 = Clock::now();
    auto res = client.Get("/metrics");
    out.total_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (res && res->status == 200) {
      ++out.scrapes;
      out.bytes += res->body.size();
    } else {
      ++out.failures;
    }
    next += period;
    std::this_thread::sleep_until(next);
  }
}

// CURVE keys for one run: every client socket gets them before it connects.
struct Curve {
  security::ClientKeys publisher, worker, admin;
};
void Secure(zmq::socket_t& s, const std::optional<security::ClientKeys>& keys) {
  if (keys) security::MakeCurveClient(s, keys->own, keys->broker_public_z85);
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct WorkerResult {
  std::size_t acked = 0;
  std::vector<std::int64_t> latencies_ns;
  std::int64_t last_ack_ns = 0;
};

void RunWorker(zmq::context_t& ctx, const std::string& endpoint, const Options& o,
               const std::optional<security::ClientKeys>& keys,
               std::atomic<std::size_t>& total_acked, WorkerResult& out) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  protocol::DealerOptions d;
  protocol::ConfigureDealer(s, d);
  Secure(s, keys);
  s.connect(endpoint);
  SendOrRetry(s, protocol::Ready{"bench", {"bench"}, o.credit});
  protocol::Received in;
  const protocol::Limits limits;
  std::vector<std::uint64_t> acks;
  std::vector<std::int64_t> stamps;  // publish times of the messages in `acks`
  out.latencies_ns.reserve(o.messages / o.workers + 1024);
  while (total_acked.load(std::memory_order_relaxed) < o.messages) {
    if (!WaitReadable(s, 100)) continue;
    while (protocol::Receive(s, in)) {
      auto m = protocol::DecodeReceived(in, 0, limits);
      if (!m.ok()) continue;
      if (auto* dl = std::get_if<protocol::Deliver>(&m.value())) {
        for (const auto& item : dl->items) {
          acks.push_back(item.lease_id);
          std::int64_t stamp = 0;
          if (item.payload.size() >= sizeof stamp) std::memcpy(&stamp, item.payload.data(), sizeof stamp);
          stamps.push_back(stamp);
        }
      }
    }
    if (!acks.empty()) {
      SendOrRetry(s, protocol::Ack{acks});
      // publish -> ack: the latency ends when the ACK has left, not when the message arrived.
      const std::int64_t acked_ns = NowNs();
      for (std::int64_t stamp : stamps) out.latencies_ns.push_back(acked_ns - stamp);
      stamps.clear();
      out.acked += acks.size();
      out.last_ack_ns = acked_ns;
      total_acked += acks.size();
      acks.clear();
    }
  }
  s.set(zmq::sockopt::linger, 0);
}

struct PublishResult {
  std::int64_t first_ns = 0;
  std::int64_t last_confirm_ns = 0;
  std::size_t confirmed = 0;
  std::vector<std::int64_t> confirm_ns;  // publish sent -> its CONFIRM received, per message
};

void RunPublisher(zmq::context_t& ctx, const std::string& endpoint, const Options& o,
                  const std::optional<security::ClientKeys>& keys, PublishResult& out) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  protocol::DealerOptions d;
  protocol::ConfigureDealer(s, d);
  Secure(s, keys);
  s.connect(endpoint);
  std::size_t sent = 0;
  protocol::Received in;
  const protocol::Limits limits;
  std::string payload(o.payload, 'x');
  protocol::Publish batch;
  std::vector<std::int64_t> sent_ns(o.messages, 0);
  out.confirm_ns.reserve(o.messages);
  out.first_ns = NowNs();
  auto allowed = [&] {
    if (o.rate <= 0) return o.messages;
    const double elapsed = (NowNs() - out.first_ns) / 1e9;
    return std::min(o.messages, static_cast<std::size_t>(elapsed * o.rate) + 1);
  };
  while (out.confirmed < o.messages) {
    while (sent < allowed() && sent - out.confirmed < o.window) {
      batch.items.clear();
      const std::size_t n =
          std::min({o.batch, allowed() - sent, o.window - (sent - out.confirmed)});
      for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t stamp = NowNs();
        std::memcpy(payload.data(), &stamp, sizeof stamp);
        sent_ns[sent + i] = stamp;
        batch.items.push_back({"bench", "b-" + std::to_string(sent + i), payload, {}});
      }
      SendOrRetry(s, batch);
      sent += n;
    }
    if (!WaitReadable(s, o.rate > 0 ? 1 : 100)) continue;
    while (protocol::Receive(s, in)) {
      auto m = protocol::DecodeReceived(in, 0, limits);
      if (!m.ok()) continue;
      if (auto* c = std::get_if<protocol::Confirm>(&m.value())) {
        const std::int64_t now = NowNs();
        for (const std::string& id : c->ids) {
          const std::size_t n = std::stoul(id.substr(2));  // "b-N"
          if (n < sent_ns.size()) out.confirm_ns.push_back(now - sent_ns[n]);
        }
        out.confirmed += c->ids.size();
      }
      if (auto* e = std::get_if<protocol::Error>(&m.value())) {
        std::fprintf(stderr, "publish error: %s\n", e->reason.c_str());
      }
    }
  }
  out.last_confirm_ns = NowNs();
  s.set(zmq::sockopt::linger, 0);
}

// User+system CPU of process `pid` so far, all threads (/proc/PID/stat, clock ticks).
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The broker's STATS counters (empty when it does not answer within 10 s).
std::map<std::string, std::int64_t> BrokerCounters(zmq::context_t& ctx, const std::string& endpoint,
                                                   const std::optional<security::ClientKeys>& keys) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  protocol::DealerOptions d;
  d.linger_ms = 0;
  protocol::ConfigureDealer(s, d);
  Secure(s, keys);
  s.connect(endpoint);
  SendOrRetry(s, protocol::StatsRequest{7});
  protocol::Received in;
  const protocol::Limits limits;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (!WaitReadable(s, 100)) continue;
    while (protocol::Receive(s, in)) {
      auto m = protocol::DecodeReceived(in, 0, limits);
      if (!m.ok()) continue;
      if (auto* r = std::get_if<protocol::StatsReply>(&m.value())) {
        return {r->counters.begin(), r->counters.end()};
      }
    }
  }
  return {};
}

std::int64_t CounterOr(const std::map<std::string, std::int64_t>& c, const std::string& name,
                       std::int64_t otherwise) {
  const auto it = c.find(name);
  return it == c.end() ? otherwise : it->second;
}

std::vector<std::string> Split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

struct Figures {
  bool ok = false;
  double seconds = 0, rate = 0, confirms_s = 0, broker_cpu_s = 0, p50_us = 0, p99_us = 0,
         max_us = 0;
  double confirm_p50_us = 0, confirm_p99_us = 0, confirm_max_us = 0;
  long peak_rss_kb = 0;
  std::int64_t syncs = -1;  // journal.syncs during the timed part (-1: not journaled)
  std::int64_t passes = 0;  // reactor passes during the timed part
  ScrapeResult scrape;
};

void Print(const char* label, const Figures& f, const Options& o) {
  std::printf("e2e [%s]: %.0f messages/s publish->ack (%.3f s); confirms done at %.3f s\n", label,
              f.rate, f.seconds, f.confirms_s);
  std::printf("e2e [%s]: broker CPU %.2f s while timed = %.2f us per message (user+sys, all "
              "its threads)\n",
              label, f.broker_cpu_s, f.broker_cpu_s * 1e6 / o.messages);
  std::printf("e2e [%s]: publish->ack latency p50 %.0f us, p99 %.0f us, max %.0f us\n", label,
              f.p50_us, f.p99_us, f.max_us);
  std::printf("e2e [%s]: publish->confirm latency p50 %.0f us, p99 %.0f us, max %.0f us\n", label,
              f.confirm_p50_us, f.confirm_p99_us, f.confirm_max_us);
  std::printf("e2e [%s]: broker peak RSS %.1f MB; journal syncs %lld (%.1f/s); %.2f reactor "
              "passes per message\n",
              label, f.peak_rss_kb / 1024.0, static_cast<long long>(f.syncs),
              f.syncs >= 0 ? f.syncs / f.seconds : 0.0,
              static_cast<double>(f.passes) / static_cast<double>(o.messages));
  if (f.scrape.scrapes + f.scrape.failures > 0) {
    std::printf("e2e [%s]: %zu scrapes of /metrics (%.0f/s, %zu failed), %.0f bytes and %.2f ms "
                "each on average\n",
                label, f.scrape.scrapes, f.scrape.scrapes / f.seconds, f.scrape.failures,
                f.scrape.scrapes > 0 ? static_cast<double>(f.scrape.bytes) / f.scrape.scrapes : 0,
                f.scrape.total_ms / static_cast<double>(f.scrape.scrapes + f.scrape.failures));
  }
  std::fflush(stdout);
}

// One broker process, the workers and the publisher, with or without CURVE, scraped or not.
Figures RunOnce(const Options& o, bool curve, double scrape_hz = 0) {
  const std::string dir = testing::MakeTempDir("mandrill-e2e");
  const int port = testing::FreePort();
  const std::string endpoint = testing::LoopbackEndpoint(port);
  std::vector<std::string> argv_broker = {testing::Binary("mandrill-broker"), "--bind", endpoint,
                                          "--data-dir", dir + "/data", "--log-level", "warn",
                                          "--queue-limit", "10000000"};
  for (auto& f : Split(o.broker_flags)) argv_broker.push_back(f);
  const int metrics_port = scrape_hz > 0 ? testing::FreePort() : 0;
  if (scrape_hz > 0) {
    argv_broker.insert(argv_broker.end(),
                       {"--metrics-bind", "127.0.0.1:" + std::to_string(metrics_port)});
  }
  std::optional<Curve> keys;
  if (curve) {
    std::map<std::string, security::KeyPair> k;
    for (const char* name : {"broker", "publisher", "worker", "admin"}) {
      auto pair = security::WriteKeyFiles(dir, name);
      if (!pair.ok()) {
        std::fprintf(stderr, "keygen: %s\n", pair.error().message.c_str());
        return {};
      }
      k[name] = *pair;
    }
    std::ofstream(dir + "/auth") << "publisher publisher " << k["publisher"].public_z85 << "\n"
                                 << "worker worker " << k["worker"].public_z85 << "\n"
                                 << "admin admin " << k["admin"].public_z85 << "\n";
    const std::string b = k["broker"].public_z85;
    keys = Curve{{k["publisher"], b}, {k["worker"], b}, {k["admin"], b}};
    argv_broker.insert(argv_broker.end(),
                       {"--curve-key", dir + "/broker.key", "--auth-file", dir + "/auth"});
  }
  auto key_of = [&](security::ClientKeys Curve::*member) -> std::optional<security::ClientKeys> {
    if (!keys) return std::nullopt;
    return (*keys).*member;
  };
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (auto& a : argv_broker) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  zmq::context_t ctx(1);
  {
    // Wait until the broker answers.
    zmq::socket_t probe(ctx, zmq::socket_type::dealer);
    protocol::DealerOptions d;
    d.linger_ms = 0;
    protocol::ConfigureDealer(probe, d);
    Secure(probe, key_of(&Curve::admin));
    probe.connect(endpoint);
    // Bounded: a broker that died at start (bad flags) must not leave the bench waiting.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (protocol::Send(probe, protocol::StatsRequest{1}) != protocol::SendResult::kSent &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!WaitReadable(probe, 10'000)) {
      std::fprintf(stderr, "broker did not answer\n");
      kill(pid, SIGKILL);
      return {};
    }
  }
  std::atomic<std::size_t> acked{0};
  std::vector<WorkerResult> results(o.workers);
  std::vector<std::thread> threads;
  PublishResult pub;
  std::map<std::string, std::int64_t> before;
  std::int64_t consume_start_ns = 0;
  double cpu_before = 0;
  if (o.consume_only) {
    // Everything queued (and confirmed) before a worker connects: only consumption is timed.
    RunPublisher(ctx, endpoint, o, key_of(&Curve::publisher), pub);
    before = BrokerCounters(ctx, endpoint, key_of(&Curve::admin));
    cpu_before = CpuSeconds(pid);
    consume_start_ns = NowNs();
  }
  for (int w = 0; w < o.workers; ++w) {
    threads.emplace_back([&, w] { RunWorker(ctx, endpoint, o, key_of(&Curve::worker), acked, results[w]); });
  }
  std::atomic<bool> stop_scraping{false};
  ScrapeResult scrape;
  std::thread scraper;
  if (!o.consume_only) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let workers announce
    if (scrape_hz > 0) {
      scraper = std::thread(
          [&] { RunScraper("127.0.0.1", metrics_port, scrape_hz, stop_scraping, scrape); });
    }
    before = BrokerCounters(ctx, endpoint, key_of(&Curve::admin));
    cpu_before = CpuSeconds(pid);
    std::thread publisher(
        [&] { RunPublisher(ctx, endpoint, o, key_of(&Curve::publisher), pub); });
    publisher.join();
  }
  for (auto& t : threads) t.join();
  stop_scraping = true;
  if (scraper.joinable()) scraper.join();
  const auto after = BrokerCounters(ctx, endpoint, key_of(&Curve::admin));
  const double cpu_timed = CpuSeconds(pid) - cpu_before;
  kill(pid, SIGTERM);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  // The timed part only: not start-up, recovery or shutdown.
  const double broker_cpu_s = cpu_timed;
  std::filesystem::remove_all(dir);

  std::vector<std::int64_t> lat;
  std::int64_t last_ack = 0;
  for (auto& r : results) {
    lat.insert(lat.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    last_ack = std::max(last_ack, r.last_ack_ns);
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))] / 1e3;
  };
  Figures f;
  f.ok = true;
  f.peak_rss_kb = usage.ru_maxrss;
  std::sort(pub.confirm_ns.begin(), pub.confirm_ns.end());
  const auto confirm_pct = [&](double p) {
    const auto& v = pub.confirm_ns;
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))] / 1e3;
  };
  f.confirm_p50_us = confirm_pct(0.50);
  f.confirm_p99_us = confirm_pct(0.99);
  f.confirm_max_us = pub.confirm_ns.empty() ? 0.0 : pub.confirm_ns.back() / 1e3;
  if (CounterOr(after, "journal.syncs", -1) >= 0) {
    f.syncs = CounterOr(after, "journal.syncs", 0) - CounterOr(before, "journal.syncs", 0);
  }
  f.passes = CounterOr(after, "broker.passes", 0) - CounterOr(before, "broker.passes", 0);
  if (o.consume_only) {
    f.seconds = (last_ack - consume_start_ns) / 1e9;
    f.rate = o.messages / f.seconds;
    f.confirms_s = (pub.last_confirm_ns - pub.first_ns) / 1e9;
    f.broker_cpu_s = broker_cpu_s;
    return f;  // publish->ack latencies would count the wait in the queue
  }
  f.seconds = (last_ack - pub.first_ns) / 1e9;
  f.rate = o.messages / f.seconds;
  f.confirms_s = (pub.last_confirm_ns - pub.first_ns) / 1e9;
  f.broker_cpu_s = broker_cpu_s;
  f.p50_us = pct(0.50);
  f.p99_us = pct(0.99);
  f.max_us = lat.empty() ? 0.0 : lat.back() / 1e3;
  f.scrape = scrape;
  return f;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Unscraped and scraped runs alternate, so drift (page cache, CPU clock) hits both alike.
int CompareScraped(const Options& o) {
  std::vector<double> base_rate, scraped_rate, base_cpu, scraped_cpu;
  for (int i = 0; i < o.repeat; ++i) {
    const Figures base = RunOnce(o, false);
    if (!base.ok) return 1;
    Print("no metrics", base, o);
    const Figures scraped = RunOnce(o, false, o.scrape_hz);
    if (!scraped.ok) return 1;
    Print("scraped", scraped, o);
    base_rate.push_back(base.rate);
    scraped_rate.push_back(scraped.rate);
    base_cpu.push_back(base.broker_cpu_s * 1e6 / o.messages);
    scraped_cpu.push_back(scraped.broker_cpu_s * 1e6 / o.messages);
  }
  const double b = Median(base_rate), s = Median(scraped_rate);
  std::printf("e2e: median of %d: %.0f messages/s without metrics, %.0f scraped at %.0f Hz: "
              "%.1f%% of it (cost %.1f%%); broker CPU %.2f vs %.2f us per message\n",
              o.repeat, b, s, o.scrape_hz, 100.0 * s / b, 100.0 * (1 - s / b),
              Median(base_cpu), Median(scraped_cpu));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--messages") o.messages = std::stoul(v);
    else if (k == "--payload") o.payload = std::max<std::size_t>(8, std::stoul(v));
    else if (k == "--workers") o.workers = std::stoi(v);
    else if (k == "--credit") o.credit = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--window") o.window = std::stoul(v);
    else if (k == "--batch") o.batch = std::stoul(v);
    else if (k == "--broker-flags") o.broker_flags = v;
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--curve") o.curve = v == "on";
    else if (k == "--scrape") o.scrape_hz = std::stod(v);
    else if (k == "--repeat") o.repeat = std::max(1, std::stoi(v));
    else if (k == "--compare") o.compare = v != "off";
    else if (k == "--consume-only") o.consume_only = v == "on";
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 64;
    }
  }
  auto flag_value = [&](const std::string& flag, const std::string& dflt) {
    const auto words = Split(o.broker_flags);
    for (std::size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == flag) return words[i + 1];
    }
    return dflt;
  };
  const std::string storage = flag_value("--storage", "journal");
  std::printf("e2e: nproc=%ld messages=%zu payload=%zuB workers=%d credit=%u window=%zu "
              "batch=%zu rate=%s storage=%s fsync=%s curve=%s consume-only=%s broker=[%s]\n",
              sysconf(_SC_NPROCESSORS_ONLN), o.messages, o.payload, o.workers, o.credit, o.window,
              o.batch, o.rate > 0 ? std::to_string(static_cast<long>(o.rate)).c_str() : "max",
              storage.c_str(), storage == "memory" ? "-" : flag_value("--fsync", "always").c_str(),
              o.curve ? "plaintext+curve" : "off", o.consume_only ? "on" : "off",
              o.broker_flags.c_str());
  std::fflush(stdout);
  if (o.scrape_hz > 0 && o.compare) return CompareScraped(o);
  if (o.scrape_hz > 0) {
    const Figures scraped = RunOnce(o, false, o.scrape_hz);
    if (!scraped.ok) return 1;
    Print("scraped", scraped, o);
    return 0;
  }
  const Figures plain = RunOnce(o, false);
  if (!plain.ok) return 1;
  Print("plaintext", plain, o);
  if (!o.curve) return 0;
  const Figures curve = RunOnce(o, true);
  if (!curve.ok) return 1;
  Print("CURVE", curve, o);
  std::printf("e2e: CURVE/plaintext throughput %.0f%%, p50 %.2fx, p99 %.2fx\n",
              100.0 * curve.rate / plain.rate, curve.p50_us / plain.p50_us,
              curve.p99_us / plain.p99_us);
  return 0;
}
