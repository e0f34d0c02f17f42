#pragma once
// Helpers shared by the journal tests: temp dirs, a reference model of replay, waiting for
// durability on the wake fd (never sleeping), comparing Recovered values, capturing logs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/journal/fault_fs.h"
#include "broker/journal/journal.h"
#include "broker/storage.h"
#include "shared/core/clock.h"

namespace mandrill::broker::journal::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Segment file names in dir, sorted.
std::vector<std::string> SegmentFiles(const std::string& dir);
// Copies every regular file of `from` into `to` (which must exist).
void CopyDir(const std::string& from, const std::string& to);
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);

// What replay must produce from a sequence of durable records (the contract in recovery.h,
// written out the obvious way with std::map).
class Model {
 public:
  void Apply(const Record& r);
  Recovered Expected(std::int64_t now_ms, std::int64_t window_ms) const;
  const std::map<std::uint64_t, RecoveredMessage>& live() const { return live_; }

 private:
  std::map<std::uint64_t, RecoveredMessage> live_;
  std::map<std::uint64_t, RecoveredId> settled_;
  std::uint64_t max_seq_ = 0;
};

// Poll()s until durable_upto >= ticket, waiting on WakeFd() in between. Returns every failure
// seen on the way in *failures (if given) and the last durable_upto. Fails the test on timeout.
Ticket WaitDurable(Storage& s, Ticket ticket, std::vector<StorageProgress::Failure>* failures,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));
bool InFailures(const std::vector<StorageProgress::Failure>& f, Ticket t);

// EXPECTs that two Recovered values are equal, naming the first difference. max_seq may be
// higher than expected when `exact_max_seq` is false (seqs of failed records count too).
// Settled ids compare exactly, or with kAtLeast as compaction guarantees (compactor.h): each
// expected id present with a window start no earlier than the model's, extras allowed.
enum class Ids { kExact, kAtLeast };
void ExpectSameRecovered(const Recovered& actual, const Recovered& expected,
                         bool exact_max_seq = true, Ids ids = Ids::kExact);

// Figure from Stats() (0 if absent).
std::int64_t Counter(const Storage& s, const std::string& name);

// Sample records.
PublishRecord Publish(std::uint64_t seq, std::int64_t published_ms, std::string queue = "restarts",
                      std::size_t payload_bytes = 100);

// The test binary's main installs a logger that keeps every line (and shows warnings on
// stderr). LogCapture forgets what was logged before it and searches what came after.
void InstallCapturingLogger();
class LogCapture {
 public:
  LogCapture();
  bool Contains(const std::string& needle) const;
  std::string All() const;
};

// Options for a journal in dir with the given clock and fs (nullptr: real fs).
JournalOptions Options(const std::string& dir, const core::Clock* clock, Fs* fs = nullptr);

// A journal test fixture: a temp dir, a fake clock, a fault-injecting fs over the real one,
// and a model of what is durable.
class JournalTest : public ::testing::Test {
 protected:
  JournalTest() { fs_.SkipRealSyncs(true); }
  // Through fs_ (real files, simulated syncs).
  JournalOptions Opts() const;
  // Straight on the real file system, real fsyncs included.
  JournalOptions RealFsOpts() const { return Options(dir_.path(), &clock_, nullptr); }
  // Opens a journal and recovers it (the test fails if Recover fails).
  std::unique_ptr<Journal> Open(const JournalOptions& o, Recovered* recovered = nullptr);
  std::unique_ptr<Journal> Open(Recovered* recovered = nullptr) { return Open(Opts(), recovered); }
  // Appends, commits, waits until durable and applies to the model; fails the test on failure.
  Ticket WriteDurably(Journal& j, const std::vector<Record>& records);
  Recovered Expected(std::chrono::milliseconds window = std::chrono::minutes(10)) const {
    return model_.Expected(clock_.WallMs(), window.count());
  }
  // Recovers a fresh journal on the same dir and compares with the model.
  void ExpectRecoveredMatchesModel(const JournalOptions& o, Ids ids = Ids::kExact);

  TempDir dir_;
  core::VirtualClock clock_;
  mutable FaultInjectingFs fs_;
  Model model_;
};

}  // namespace mandrill::broker::journal::testing
