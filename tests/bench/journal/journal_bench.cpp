// Journal benchmark: append throughput per fsync policy with group commit, and recovery time
// and disk use for a million live messages. Prints its figures and the machine's cores.
//
//   journal_bench [--dir DIR] [--records N] [--commit-every N] [--recovery-messages N]
//                 [--modes always,interval:5,never|none] [--window N] [--copy-sink 0|1]
//
// The producer plays the reactor: it appends, commits every --commit-every records (one reactor
// pass), and keeps at most --window records (default 65536) outstanding (not yet durable), waiting
// on the wake fd beyond that, as a broker bounded by publisher confirm windows would. "reactor CPU"
// is the producer thread's CPU time (Append + Commit + Poll) per record: what the journal costs the
// reactor. commit->durable is how long a pass's records wait for their confirm.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "broker/journal/journal.h"

namespace {

using mandrill::broker::AckRecord;
using mandrill::broker::DeliverRecord;
using mandrill::broker::PublishRecord;
using mandrill::broker::Storage;
using mandrill::broker::StorageProgress;
using mandrill::broker::Ticket;
using mandrill::broker::journal::Journal;
using mandrill::broker::journal::JournalOptions;
using mandrill::broker::journal::ParseFsyncPolicy;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kPayload = 100;

struct Args {
  std::string dir;
  std::uint64_t records = 1'000'000;
  std::uint64_t commit_every = 256;
  std::uint64_t recovery_messages = 1'000'000;
  std::uint64_t window = 1 << 16;
  bool copy_sink = false;  // records appended but not yet durable, at most
  std::vector<std::string> modes = {"always", "interval:5", "never"};
};

double ThreadCpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::int64_t Counter(const Storage& s, const char* name) {
  for (const auto& [k, v] : s.Stats()) {
    if (k == name) return v;
  }
  return 0;
}

PublishRecord MakePublish(std::uint64_t seq, std::int64_t now_ms) {
  PublishRecord p;
  p.seq = seq;
  p.queue = "restarts";
  char id[32];
  std::snprintf(id, sizeof(id), "pub-3f9a-%09llu", static_cast<unsigned long long>(seq));
  p.id = id;  // 18 bytes, like the ids publishers generate
  p.payload.assign(kPayload, 'x');
  p.published_unix_ms = now_ms;
  return p;
}

// Commit-to-durable latency of every pass.
class Latencies {
 public:
  void Committed(Ticket last) { pending_.emplace_back(last, Clock::now()); }
  void Durable(Ticket upto) {
    const auto now = Clock::now();
    while (!pending_.empty() && pending_.front().first <= upto) {
      us_.push_back(
          std::chrono::duration<double, std::micro>(now - pending_.front().second).count());
      pending_.pop_front();
    }
  }
  double Percentile(double p) {
    if (us_.empty()) return 0;
    std::sort(us_.begin(), us_.end());
    return us_[static_cast<std::size_t>(p * static_cast<double>(us_.size() - 1))];
  }

 private:
  std::deque<std::pair<Ticket, Clock::time_point>> pending_;
  std::vector<double> us_;
};

// Polls progress; waits on the wake fd while durable_upto < target. Counts failures.
Ticket Drain(Storage& s, Ticket durable, Ticket target, std::uint64_t* failures,
             Latencies* lat = nullptr) {
  for (;;) {
    StorageProgress p = s.Poll();
    if (p.durable_upto > durable) durable = p.durable_upto;
    if (lat != nullptr) lat->Durable(durable);
    for (const auto& f : p.failures) *failures += f.last - f.first + 1;
    if (durable >= target) return durable;
    struct pollfd pfd {
      s.WakeFd(), POLLIN, 0
    };
    ::poll(&pfd, 1, 5);  // acks' progress comes without a wake-up
  }
}

void Throughput(const Args& args, const std::string& mode, bool mixed) {
  const std::string dir = args.dir + "/tp-" + mode + (mixed ? "-mixed" : "");
  std::filesystem::remove_all(dir);
  JournalOptions o;
  o.data_dir = dir;
  o.fsync = ParseFsyncPolicy(mode).value();
  Journal j(o);
  if (auto r = RecoverAll(j); !r.ok()) {
    std::fprintf(stderr, "recover: %s\n", r.error().message.c_str());
    std::exit(1);
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  // Prebuilt, as Records: the reactor builds the variant itself (converting a PublishRecord
  // to a Record here would copy its strings and measure the benchmark, not the journal).
  const std::uint64_t messages = mixed ? args.records / 3 : args.records;
  std::vector<mandrill::broker::Record> pubs;
  pubs.reserve(messages);
  for (std::uint64_t i = 1; i <= messages; ++i) pubs.emplace_back(MakePublish(i, now_ms));
  const std::int64_t syncs0 = Counter(j, "journal.syncs");
  const std::int64_t bytes0 = Counter(j, "journal.bytes");
  std::uint64_t failures = 0, in_pass = 0, records = 0;
  Ticket durable = 0, last = 0;
  Latencies lat;
  const auto t0 = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  for (std::uint64_t i = 0; i < messages; ++i) {
    last = j.Append(pubs[i]);
    ++records;
    if (mixed && i >= 1000) {
      // Delivered and acked some passes after its publish, like a consumer keeping up.
      const std::uint64_t seq = i + 1 - 1000;
      last = j.Append(DeliverRecord{seq, 1});
      last = j.Append(AckRecord{seq});
      records += 2;
    }
    if (++in_pass >= args.commit_every) {  // end of a reactor pass
      in_pass = 0;
      j.Commit();
      lat.Committed(last);
      durable = Drain(j, durable, last > args.window ? last - args.window : 0, &failures, &lat);
    }
  }
  j.Commit();
  lat.Committed(last);
  durable = Drain(j, durable, last, &failures, &lat);
  const double cpu = ThreadCpuSeconds() - cpu0;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double syncs = static_cast<double>(Counter(j, "journal.syncs") - syncs0);
  const double bytes = static_cast<double>(Counter(j, "journal.bytes") - bytes0);
  std::printf(
      "%-11s %-16s %8.0f rec/s %8.0f msg/s %6.1f MB/s | reactor CPU %4.0f ns/rec | "
      "syncs %4.0f (%4.0f per M rec) | commit->durable p50 %6.0f us p99 %6.0f us | "
      "failures %llu\n",
      mode.c_str(), mixed ? "pub+deliver+ack" : "publish", records / secs, messages / secs,
      bytes / secs / 1e6, cpu * 1e9 / static_cast<double>(records), syncs,
      syncs * 1e6 / static_cast<double>(records), lat.Percentile(0.5), lat.Percentile(0.99),
      static_cast<unsigned long long>(failures));
  (void)j.Close();
  std::filesystem::remove_all(dir);
}

struct CountingSink final : mandrill::broker::RecoverySink {
  void OnMessage(const mandrill::broker::RecoveredMessageView& m) override {
    ++messages;
    payload_bytes += m.payload.size();
    key_bytes += m.queue.size() + m.id.size();
  }
  void OnSettledId(std::string_view, std::string_view, std::int64_t) override { ++ids; }
  std::uint64_t messages = 0, ids = 0, payload_bytes = 0, key_bytes = 0;
};

void Recovery(const Args& args) {
  const std::string dir = args.dir + "/recovery";
  std::filesystem::remove_all(dir);
  JournalOptions o;
  o.data_dir = dir;
  o.fsync = ParseFsyncPolicy("never").value();  // how it was written does not matter here
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::uint64_t id_bytes = 0;
  {
    Journal j(o);
    if (!RecoverAll(j).ok()) std::exit(1);
    Ticket last = 0, durable = 0;
    std::uint64_t failures = 0;
    for (std::uint64_t i = 1; i <= args.recovery_messages; ++i) {
      PublishRecord p = MakePublish(i, now_ms);
      id_bytes += p.id.size();
      last = j.Append(p);
      if (i % 256 == 0) {
        j.Commit();
        durable = Drain(j, durable, last > args.window ? last - args.window : 0, &failures);
      }
    }
    (void)j.Close();
  }
  std::uint64_t disk = 0;
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") {
      disk += e.file_size();
      ++files;
    }
  }
  Journal j(o);
  // Replay alone: the sink looks at every view (as the broker's would) but keeps nothing, so
  // what is timed is the journal's part of a restart, not building queues.
  // --copy-sink: RecoverAll instead, which copies every message into a Recovered (what this
  // benchmark measured before replay streamed views).
  CountingSink sink;
  const auto t0 = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  bool ok = false;
  if (args.copy_sink) {
    auto all = RecoverAll(j);
    ok = all.ok() && all->messages.size() == args.recovery_messages;
    sink.messages = args.recovery_messages;
    sink.payload_bytes = args.recovery_messages * kPayload;
  } else {
    ok = j.Recover(sink).ok();
  }
  const double cpu = ThreadCpuSeconds() - cpu0;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!ok || sink.messages != args.recovery_messages ||
      sink.payload_bytes != args.recovery_messages * kPayload) {
    std::fprintf(stderr, "recovery returned the wrong result\n");
    std::exit(1);
  }
  const double n = static_cast<double>(args.recovery_messages);
  const double per = static_cast<double>(disk) / n;
  const double ref = kPayload + static_cast<double>(id_bytes) / n;
  std::printf(
      "recovery    %llu live messages (%zu segments, %.1f MB, page cache warm), %s: %.3f s "
      "= %.3f s per million (%.3f s CPU on the recovering thread)\n",
      static_cast<unsigned long long>(args.recovery_messages), files, disk / 1e6,
      args.copy_sink ? "RecoverAll (copies every message)"
                     : "replay alone (Recover into a sink that keeps nothing)",
      secs, secs * 1e6 / n, cpu);
  std::printf(
      "disk        %.1f bytes per live message = %.2f x (payload %zu + id %.0f)  "
      "[target <= 1.5 x]\n",
      per, per / ref, kPayload, ref - kPayload);
  (void)j.Close();
  std::filesystem::remove_all(dir);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--dir")
      args.dir = value;
    else if (flag == "--copy-sink")
      args.copy_sink = value == "1";
    else if (flag == "--records")
      args.records = std::stoull(value);
    else if (flag == "--commit-every")
      args.commit_every = std::stoull(value);
    else if (flag == "--recovery-messages")
      args.recovery_messages = std::stoull(value);
    else if (flag == "--modes")
      args.modes = Split(value);
    else if (flag == "--window")
      args.window = std::stoull(value);
    else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of journal_bench.cpp)\n",
                   flag.c_str());
      return 2;
    }
  }
  if (args.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    args.dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/mandrill-journal-bench-" +
               std::to_string(::getpid());
  }
  std::filesystem::create_directories(args.dir);
  spdlog::set_level(std::getenv("JOURNAL_BENCH_VERBOSE") != nullptr ? spdlog::level::info
                                                                    : spdlog::level::warn);
  std::printf(
      "journal_bench: nproc %ld, %llu records per run, commit every %llu appends, "
      "window %llu records, %zu-byte payloads, dir %s\n",
      ::sysconf(_SC_NPROCESSORS_ONLN), static_cast<unsigned long long>(args.records),
      static_cast<unsigned long long>(args.commit_every),
      static_cast<unsigned long long>(args.window), kPayload, args.dir.c_str());
  for (const auto& mode : args.modes) {
    if (mode.empty() || mode == "none") continue;
    Throughput(args, mode, false);
    Throughput(args, mode, true);
  }
  if (args.recovery_messages > 0) Recovery(args);
  std::filesystem::remove_all(args.dir);
  return 0;
}
