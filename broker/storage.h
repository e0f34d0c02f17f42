#pragma once
// The broker's durability boundary. The reactor appends records describing every state change
// that must survive a restart; the storage makes them durable (in order) and reports progress.
// Implementations: MemoryStorage (nothing survives a restart) and the journal (broker/journal).
//
// Threading: every method is called from the reactor thread only. An implementation may use its
// own threads (the journal's writer) and signals progress through WakeFd().
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/result.h"
#include "shared/metrics/histogram.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

using protocol::Headers;

// Every message gets a broker-assigned sequence number at publish; later records refer to it.
// Sequence numbers increase across restarts (recovery returns the highest seen).
struct PublishRecord {
  std::uint64_t seq = 0;
  std::string queue;
  std::string id;
  std::string payload;
  Headers headers;
  std::int64_t published_unix_ms = 0;
  bool operator==(const PublishRecord&) const = default;
};
// A delivery started: attempts is now `attempt`. Leases themselves are not stored: after a
// restart the message is ready again with this attempt counted.
struct DeliverRecord {
  std::uint64_t seq = 0;
  std::uint32_t attempt = 0;
  bool operator==(const DeliverRecord&) const = default;
};
// Settled: the message is gone (its id stays in the dedup window, counted from the settle).
struct AckRecord {
  std::uint64_t seq = 0;
  std::int64_t settled_unix_ms = 0;  // 0 in records of older brokers: use the publish time
  bool operator==(const AckRecord&) const = default;
};
// Negative ack: back to the queue, not before `not_before_unix_ms`.
struct NackRecord {
  std::uint64_t seq = 0;
  std::uint32_t attempt = 0;
  std::int64_t not_before_unix_ms = 0;
  std::string reason;
  bool operator==(const NackRecord&) const = default;
};
// Moved to the queue's dead-letter queue after too many attempts.
struct DeadLetterRecord {
  std::uint64_t seq = 0;
  std::uint32_t attempts = 0;
  std::string reason;
  std::int64_t dead_at_unix_ms = 0;
  bool operator==(const DeadLetterRecord&) const = default;
};
// Operator moved a dead letter back to the ready queue; its attempt count restarts at 0.
struct RequeueRecord {
  std::uint64_t seq = 0;
  bool operator==(const RequeueRecord&) const = default;
};
// Operator deleted a dead letter.
struct PurgeRecord {
  std::uint64_t seq = 0;
  std::int64_t settled_unix_ms = 0;  // as in AckRecord
  bool operator==(const PurgeRecord&) const = default;
};

using Record = std::variant<PublishRecord, DeliverRecord, AckRecord, NackRecord, DeadLetterRecord,
                            RequeueRecord, PurgeRecord>;

// A message that was live (not acked, not purged) when the broker stopped.
struct RecoveredMessage {
  enum class State { kReady, kDeferred, kDead };
  PublishRecord publish;
  std::uint32_t attempts = 0;
  State state = State::kReady;
  std::int64_t not_before_unix_ms = 0;  // kDeferred
  std::string last_error;               // last nack or dead-letter reason
  std::int64_t dead_at_unix_ms = 0;     // kDead
};
// A settled message whose id must still be deduplicated.
struct RecoveredId {
  std::string queue;
  std::string id;
  std::int64_t published_unix_ms = 0;
  std::int64_t settled_unix_ms = 0;  // the dedup window counts from here (0: unknown, use published)
};
struct Recovered {
  std::vector<RecoveredMessage> messages;  // in publish (seq) order
  std::vector<RecoveredId> settled_ids;    // settled within the dedup window, in seq order
  std::uint64_t max_seq = 0;
};

// One live message as Storage::Recover hands it over: views into the storage's own buffers,
// valid only during the call that receives them (copy what is kept).
struct RecoveredMessageView {
  std::uint64_t seq = 0;
  std::string_view queue;
  std::string_view id;
  std::string_view payload;
  const Headers* headers = nullptr;  // never null (empty when the message has none)
  std::int64_t published_unix_ms = 0;
  std::uint32_t attempts = 0;
  RecoveredMessage::State state = RecoveredMessage::State::kReady;
  std::int64_t not_before_unix_ms = 0;  // kDeferred
  std::string_view last_error;
  std::int64_t dead_at_unix_ms = 0;  // kDead
};

// Receives what recovery found, on the caller's thread, before Recover returns: every live
// message once, in seq order, then every settled id still in the dedup window.
class RecoverySink {
 public:
  virtual ~RecoverySink() = default;
  // First, when the storage knows them: how many messages and settled ids follow, so the
  // sink can size its tables once instead of growing them a million times.
  virtual void OnCounts(std::size_t messages, std::size_t settled_ids) {
    (void)messages;
    (void)settled_ids;
  }
  virtual void OnMessage(const RecoveredMessageView& m) = 0;
  virtual void OnSettledId(std::string_view queue, std::string_view id,
                           std::int64_t settled_unix_ms) = 0;
};

// Ticket numbers are assigned by Append in increasing order starting at 1.
using Ticket = std::uint64_t;

struct StorageProgress {
  Ticket durable_upto = 0;  // every ticket <= this is durable (failed ones excluded below)
  // Tickets in [first, last] could not be written or synced: never treat them as durable.
  struct Failure {
    Ticket first = 0;
    Ticket last = 0;
    std::string error;
  };
  std::vector<Failure> failures;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Called first, once: takes sole ownership of what the storage keeps (the journal locks its
  // data dir) and begins a new fencing epoch, durable before this returns; returns the epoch,
  // which is higher than any epoch an earlier Open of the same storage returned (docs/broker.md
  // "Fencing"). The reactor calls it before it binds its socket, so no peer hears of an epoch
  // that a crash could hand out again. An error stops start-up (the data dir is in use, its
  // epoch file is corrupt, an I/O error).
  virtual core::Result<std::uint64_t> Open() = 0;

  // Called once, after Open (it calls Open itself when nobody did). Hands what survived to
  // `sink` and returns the highest seq ever assigned, or an error that stops start-up (e.g. the
  // data dir is unusable). Corrupt records are reported in the log and skipped.
  virtual core::Result<std::uint64_t> Recover(RecoverySink& sink) = 0;

  // Queues a record and returns its ticket. Never blocks on disk.
  virtual Ticket Append(const Record& record) = 0;
  // Hands everything appended since the last call to the writer.
  virtual void Commit() = 0;
  // End of a reactor pass: Commit, except that a storage may hold records nobody waits on
  // (deliveries, acks, nacks) for a few milliseconds, to hand them over with later ones in one
  // wake-up of its writer; HeldUntil says when they must go at the latest (the reactor wakes
  // then). A held record is lost if the process dies meanwhile: its message comes back once
  // more, which at-least-once allows. Publishes and operators' changes are never held.
  virtual void CommitPass() { Commit(); }
  virtual std::optional<core::SteadyTime> HeldUntil() const { return std::nullopt; }

  // Readable when Poll() has news; -1 if progress is only ever reported synchronously (then
  // the reactor calls Poll() after every Commit()).
  virtual int WakeFd() const = 0;
  // Durability progress since the last call (monotonic durable_upto); consumes the WakeFd
  // wake-up. A ticket <= durable_upto is durable unless it is listed in the failures of this or
  // an earlier Poll: a failure is reported no later than the Poll that first moves durable_upto
  // past it.
  virtual StorageProgress Poll() = 0;

  // Graceful stop: write and sync everything appended, then release files. Returns the error
  // if the final sync failed.
  virtual core::Status Close() = 0;

  // Figures for `mandrill-ctl stats` (e.g. journal.segments, journal.bytes).
  virtual protocol::Counters Stats() const = 0;
  // How long its syncs took (for /metrics); nothing when it does not sync.
  virtual std::optional<metrics::HistogramData> SyncLatency() const { return std::nullopt; }
};

// Recover() into a Recovered (for tests and tools; the broker streams instead). For a settled
// id, `published_unix_ms` is left 0 and `settled_unix_ms` is what storage reported.
core::Result<Recovered> RecoverAll(Storage& storage);

}  // namespace mandrill::broker
