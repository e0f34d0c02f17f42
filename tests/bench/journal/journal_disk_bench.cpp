// Disk allocated vs journal bytes across restarts (issue 11 item 1). Journals a backlog of
// --messages 100-byte messages, then restarts the journal --restarts times, each start in a
// child process that recovers, publishes and acks --per-start messages and then either closes
// cleanly or dies without closing (_exit: what SIGKILL leaves), alternating, the last one
// dying. Prints, after the last start and after one more start that does nothing, the
// segments' st_blocks * 512 against their st_size, and the target (1.2 x journal bytes + one
// segment). Also prints nproc.
//
//   journal_disk_bench [--dir DIR] [--messages 1000000] [--restarts 20] [--per-start 1000]
//                      [--segment-bytes 67108864]
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "broker/journal/journal.h"

namespace {

using mandrill::broker::AckRecord;
using mandrill::broker::PublishRecord;
using mandrill::broker::RecoveredMessageView;
using mandrill::broker::RecoverySink;
using mandrill::broker::Ticket;
using mandrill::broker::journal::Journal;
using mandrill::broker::journal::JournalOptions;

struct Args {
  std::string dir;
  std::uint64_t messages = 1'000'000;
  int restarts = 20;
  std::uint64_t per_start = 1000;
  std::uint64_t segment_bytes = 64ull << 20;
};

// Remembers the oldest live seqs, to ack some of them.
struct OldestSink final : RecoverySink {
  void OnMessage(const RecoveredMessageView& m) override {
    if (oldest == 0) oldest = m.seq;
  }
  void OnSettledId(std::string_view, std::string_view, std::int64_t) override {}
  std::uint64_t oldest = 0;
};

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void WaitDurable(Journal& j, Ticket t) {
  for (Ticket durable = 0; durable < t;) {
    auto p = j.Poll();
    if (!p.failures.empty()) {
      std::fprintf(stderr, "journal_disk_bench: write failed: %s\n", p.failures[0].error.c_str());
      std::exit(1);
    }
    durable = std::max(durable, p.durable_upto);
    struct pollfd pfd {
      j.WakeFd(), POLLIN, 0
    };
    if (durable < t) ::poll(&pfd, 1, 5);  // acks' progress comes without a wake-up
  }
}

// One start: recover, publish `publish` new messages, ack `ack` of the oldest ones.
void Start(const JournalOptions& o, std::uint64_t publish, std::uint64_t ack, bool close) {
  Journal j(o);
  OldestSink sink;
  auto max_seq = j.Recover(sink);
  if (!max_seq.ok()) {
    std::fprintf(stderr, "journal_disk_bench: recover: %s\n", max_seq.error().message.c_str());
    std::exit(1);
  }
  Ticket t = 0;
  const std::string payload(100, 'x');
  const std::int64_t now = NowMs();
  for (std::uint64_t i = 1; i <= publish; ++i) {
    const std::uint64_t seq = *max_seq + i;
    t = j.Append(PublishRecord{seq, "restarts", "id-" + std::to_string(seq), payload, {}, now});
    if (i % 256 == 0) j.Commit();
  }
  for (std::uint64_t i = 0; i < ack && sink.oldest != 0; ++i) {
    t = j.Append(AckRecord{sink.oldest + i, now});
  }
  j.Commit();
  WaitDurable(j, t);
  if (!close) ::_exit(0);  // no Close, no destructor: the head keeps what it preallocated
  if (auto s = j.Close(); !s.ok()) std::exit(1);
}

void Report(const std::string& dir, const char* when, const Args& a) {
  std::uint64_t size = 0, allocated = 0;
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".seg") continue;
    struct stat st;
    if (::stat(e.path().c_str(), &st) != 0) continue;
    size += static_cast<std::uint64_t>(st.st_size);
    allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
    ++files;
  }
  const double target = 1.2 * static_cast<double>(size) + static_cast<double>(a.segment_bytes);
  std::printf(
      "%-34s %2d segments, %7.1f MiB written, %7.1f MiB allocated = %.2f x written "
      "(target <= %.1f MiB = 1.2 x + one segment: %s)\n",
      when, files, size / 1048576.0, allocated / 1048576.0,
      size == 0 ? 0.0 : static_cast<double>(allocated) / static_cast<double>(size),
      target / 1048576.0, static_cast<double>(allocated) <= target ? "met" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--dir")
      a.dir = value;
    else if (flag == "--messages")
      a.messages = std::stoull(value);
    else if (flag == "--restarts")
      a.restarts = std::stoi(value);
    else if (flag == "--per-start")
      a.per_start = std::stoull(value);
    else if (flag == "--segment-bytes")
      a.segment_bytes = std::stoull(value);
    else {
      std::fprintf(stderr, "unknown flag %s (see the top of journal_disk_bench.cpp)\n",
                   flag.c_str());
      return 2;
    }
  }
  if (a.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    a.dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/mandrill-disk-bench-" +
            std::to_string(::getpid());
  }
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::remove_all(a.dir);
  std::filesystem::create_directories(a.dir);
  std::printf(
      "journal_disk_bench: nproc %ld, backlog %llu messages of 100 B, %d restarts of "
      "%llu publishes + %llu acks each (even ones die without closing), segments of "
      "%llu bytes, dir %s\n",
      ::sysconf(_SC_NPROCESSORS_ONLN), static_cast<unsigned long long>(a.messages), a.restarts,
      static_cast<unsigned long long>(a.per_start), static_cast<unsigned long long>(a.per_start),
      static_cast<unsigned long long>(a.segment_bytes), a.dir.c_str());
  JournalOptions o;
  o.data_dir = a.dir;
  o.fsync = mandrill::broker::journal::ParseFsyncPolicy("never").value();
  o.segment_bytes = a.segment_bytes;
  Start(o, a.messages, 0, /*close=*/true);
  Report(a.dir, "backlog written:", a);
  for (int r = 1; r <= a.restarts; ++r) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      Start(o, a.per_start, a.per_start, /*close=*/r % 2 == 1);
      ::_exit(0);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "journal_disk_bench: start %d failed\n", r);
      return 1;
    }
  }
  Report(a.dir, "after the restarts (last one died):", a);
  Start(o, 0, 0, /*close=*/true);
  Report(a.dir, "after one more start and close:", a);
  std::filesystem::remove_all(a.dir);
  return 0;
}
