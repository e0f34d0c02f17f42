#pragma once
// What a mandrill-publish run did, how it ended, the exit code that follows, and its one-line
// and JSON renderings.
#include <chrono>
#include <cstdint>
#include <string>

#include "publisher/confirm_tracker.h"

namespace mandrill::publisher {

enum class Ending {
  kCompleted,    // input exhausted and every message settled
  kGaveUp,       // no progress for --give-up
  kInterrupted,  // SIGINT/SIGTERM (grace over or nothing left to wait for)
  kFailed,       // an internal error stopped the run (logged)
};

struct PublishReport {
  TrackerCounters counters;
  std::uint64_t unconfirmed = 0;    // admitted but neither confirmed nor refused
  std::uint64_t input_skipped = 0;  // input lines too long to publish (counted as refused)
  bool input_complete = false;      // the source was read to its end
  Ending ending = Ending::kCompleted;
  std::string detail;  // why it ended, for kGaveUp/kFailed
  std::chrono::milliseconds elapsed{0};
  // The longest time messages were outstanding while none was confirmed: what a cell going
  // down (or a slow broker) cost this run.
  std::chrono::milliseconds longest_stall{0};
  std::string id_prefix;
  std::uint64_t seed = 0;
};

// Why a run gave up (--give-up without progress), from what the broker did meanwhile.
struct GiveUpContext {
  std::chrono::milliseconds give_up{0};
  std::uint64_t outstanding = 0;
  std::string broker;
  bool heard = false;   // the broker sent something (it is up)
  std::string refusal;  // its last retryable refusal, e.g. "queue full (QUEUE_FULL)"; or empty
};
// One sentence: the broker refused for now (a full queue: says so), the broker answered but
// confirmed nothing, or nothing was heard at all (is the broker up?).
std::string DescribeGiveUp(const GiveUpContext& c);

// 0 all confirmed; 2 anything unconfirmed or a run that did not finish its input because it
// gave up or failed; 1 some refused (everything else confirmed). An interrupted run whose
// admitted messages were all settled exits 0/1 like a completed one.
int ExitCodeFor(const PublishReport& r);

// "published=... confirmed=... refused=... retried=... unconfirmed=... elapsed=1.2s rate=N/s"
// followed by the outcome in words.
std::string FormatSummaryLine(const PublishReport& r);
// One JSON object with the same figures plus outcome, exit code, id prefix and seed.
std::string FormatSummaryJson(const PublishReport& r);

}  // namespace mandrill::publisher
