#pragma once
// A scriptable Storage for driving the Broker in-process. Records every appended record and
// holds tickets pending until the test says they are durable (MakeDurable) or failed (Fail);
// or, in auto mode, reports everything durable at once like MemoryStorage. Single-threaded.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "broker/storage.h"

namespace mandrill::broker::testkit {

class FakeStorage final : public Storage {
 public:
  // Auto mode: every Poll reports all appended tickets durable (WakeFd -1, so EndPass polls).
  // Manual mode: tickets stay pending until MakeDurable/Fail; WakeFd is a dummy fd, so the
  // broker waits for the test to call OnStorageProgress(Poll()).
  explicit FakeStorage(bool auto_durable = true) : auto_durable_(auto_durable) {}
  void set_auto_durable(bool on) { auto_durable_ = on; }

  void set_recovered(Recovered r) { recovered_ = std::move(r); }
  void set_recover_error(core::Error e) { recover_error_ = std::move(e); }

  // Script: the epoch Open() returns (the test's "data dir" epoch).
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
  core::Result<std::uint64_t> Open() override {
    ++open_calls_;
    return epoch_;
  }
  int open_calls() const { return open_calls_; }
  core::Result<std::uint64_t> Recover(RecoverySink& sink) override {
    ++recover_calls_;
    if (recover_error_.code) return recover_error_;
    for (const RecoveredMessage& m : recovered_.messages) {
      RecoveredMessageView v;
      v.seq = m.publish.seq;
      v.queue = m.publish.queue;
      v.id = m.publish.id;
      v.payload = m.publish.payload;
      v.headers = &m.publish.headers;
      v.published_unix_ms = m.publish.published_unix_ms;
      v.attempts = m.attempts;
      v.state = m.state;
      v.not_before_unix_ms = m.not_before_unix_ms;
      v.last_error = m.last_error;
      v.dead_at_unix_ms = m.dead_at_unix_ms;
      sink.OnMessage(v);
    }
    for (const RecoveredId& id : recovered_.settled_ids) {
      sink.OnSettledId(id.queue, id.id,
                       id.settled_unix_ms != 0 ? id.settled_unix_ms : id.published_unix_ms);
    }
    return recovered_.max_seq;
  }
  Ticket Append(const Record& record) override {
    if (throw_on_append_) throw std::runtime_error("injected: Append threw");
    records_.push_back(record);
    return ++last_;
  }
  // Script: Append throws (a bug or memory exhaustion inside storage).
  void set_throw_on_append(bool on) { throw_on_append_ = on; }
  void Commit() override {
    ++commits_;
    committed_upto_ = last_;
  }
  int WakeFd() const override { return auto_durable_ ? -1 : kDummyFd; }
  StorageProgress Poll() override {
    if (auto_durable_) progress_.durable_upto = last_;
    StorageProgress out = std::move(progress_);
    progress_ = StorageProgress{};
    progress_.durable_upto = out.durable_upto;  // monotonic
    return out;
  }
  core::Status Close() override {
    closed_ = true;
    return core::Status::Ok();
  }
  protocol::Counters Stats() const override {
    return {{"storage.fake_records", static_cast<std::int64_t>(last_)}};
  }

  // Script: every ticket <= `upto` is durable at the next Poll.
  void MakeDurable(Ticket upto) { progress_.durable_upto = std::max(progress_.durable_upto, upto); }
  void MakeAllDurable() { MakeDurable(last_); }
  // Script: tickets [first, last] failed, reported at the next Poll.
  void Fail(Ticket first, Ticket last, std::string error = "injected write failure") {
    progress_.failures.push_back({first, last, std::move(error)});
  }

  Ticket last_ticket() const { return last_; }
  Ticket committed_upto() const { return committed_upto_; }
  int commits() const { return commits_; }
  int recover_calls() const { return recover_calls_; }
  bool closed() const { return closed_; }
  const std::vector<Record>& records() const { return records_; }

  // The appended records of type T, in order.
  template <typename T>
  std::vector<T> RecordsOf() const {
    std::vector<T> out;
    for (const auto& r : records_) {
      if (const T* t = std::get_if<T>(&r)) out.push_back(*t);
    }
    return out;
  }
  // The ticket the record of type T with `seq` got (0 if none), the first such record.
  template <typename T>
  Ticket TicketOf(std::uint64_t seq) const {
    for (std::size_t i = 0; i < records_.size(); ++i) {
      const T* t = std::get_if<T>(&records_[i]);
      if (t != nullptr && t->seq == seq) return i + 1;
    }
    return 0;
  }

  static constexpr int kDummyFd = 1'000'000;  // never polled: there is no reactor in the tests

 private:
  bool auto_durable_;
  bool throw_on_append_ = false;
  Recovered recovered_;
  core::Error recover_error_;
  std::vector<Record> records_;
  Ticket last_ = 0;
  Ticket committed_upto_ = 0;
  int commits_ = 0;
  int recover_calls_ = 0;
  int open_calls_ = 0;
  std::uint64_t epoch_ = 1;
  bool closed_ = false;
  StorageProgress progress_;
};

}  // namespace mandrill::broker::testkit
