#pragma once
// Storage that keeps nothing: every record is "durable" at once and nothing survives a restart.
// For tests and benchmarks of the reactor alone (`--storage memory`).
#include <chrono>

#include "broker/storage.h"

namespace mandrill::broker {

class MemoryStorage final : public Storage {
 public:
  // There is no data dir to keep an epoch in: the epoch is the start time in Unix milliseconds.
  // It still differs at every start (two starts within one millisecond are not a thing), and
  // grows across restarts as long as the wall clock does; nothing that a restart could fence
  // survives one anyway (no message does).
  core::Result<std::uint64_t> Open() override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return static_cast<std::uint64_t>(ms > 0 ? ms : 1);
  }
  core::Result<std::uint64_t> Recover(RecoverySink&) override { return std::uint64_t{0}; }
  Ticket Append(const Record&) override { return ++last_; }
  void Commit() override {}
  int WakeFd() const override { return -1; }
  StorageProgress Poll() override { return StorageProgress{last_, {}}; }
  core::Status Close() override { return core::Status::Ok(); }
  protocol::Counters Stats() const override { return {{"storage.memory", 1}, {"storage.records", static_cast<std::int64_t>(last_)}}; }

 private:
  Ticket last_ = 0;
};

}  // namespace mandrill::broker
