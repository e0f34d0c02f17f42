#pragma once
// The production Outbox: accumulates the loop's settlements in a loop-local batch and hands it
// to the network thread's Settlements once per loop iteration (a CallSoon scheduled by the first
// addition), so a burst of acks costs one lock and at most one eventfd write.
//
// Loop thread only. Must outlive the loop's run (a scheduled flush refers to it).
#include "shared/runtime/loop.h"
#include "worker/loop/outbox.h"
#include "worker/net/settlements.h"

namespace mandrill::worker {

class SettlementsOutbox final : public Outbox {
 public:
  SettlementsOutbox(runtime::Loop& loop, SettlementsInput& settlements)
      : loop_(loop), settlements_(settlements) {}

  void Ack(std::uint64_t lease_id) override {
    batch_.acks.push_back(lease_id);
    Schedule();
  }
  void Nack(std::uint64_t lease_id, std::uint32_t delay_ms, std::string reason) override {
    batch_.nacks.push_back({lease_id, delay_ms, std::move(reason)});
    Schedule();
  }
  void Extend(std::uint64_t lease_id, std::uint32_t duration_ms) override {
    batch_.extends[duration_ms].push_back(lease_id);
    Schedule();
  }
  void SetCredit(std::uint32_t credit) override {
    batch_.credit = credit;
    Schedule();
  }
  void Flush() override {
    scheduled_ = false;
    if (!batch_.empty()) settlements_.Add(std::move(batch_));
    batch_ = Settlements::Batch{};
  }

 private:
  void Schedule() {
    if (scheduled_) return;
    scheduled_ = true;
    loop_.CallSoon([this] {
      if (scheduled_) Flush();
    });
  }

  runtime::Loop& loop_;
  SettlementsInput& settlements_;
  Settlements::Batch batch_;
  bool scheduled_ = false;
};

}  // namespace mandrill::worker
