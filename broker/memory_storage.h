#pragma once
// Storage that keeps nothing: every record is "durable" at once and nothing survives a restart.
// For tests and benchmarks of the reactor alone (`--storage memory`).
#include "broker/storage.h"

namespace mandrill::broker {

class MemoryStorage final : public Storage {
 public:
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
