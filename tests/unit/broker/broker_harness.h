#pragma once
// A Broker driven in-process: VirtualClock, FakeStorage, RecordingTransport, and helpers that send
// it frames the way the reactor would (OnFrame..., then OnTimers + EndPass per pass).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "shared/core/clock.h"
#include "tests/unit/broker/fake_storage.h"
#include "tests/unit/broker/recording_transport.h"

namespace mandrill::broker::testkit {

using namespace std::chrono_literals;
using protocol::Command;
using protocol::ErrorCode;

inline constexpr char kPublisher[] = "pub-1";
inline constexpr char kAdmin[] = "ctl-1";
inline constexpr char kQueue[] = "restarts";

class BrokerHarness : public ::testing::Test {
 protected:
  BrokerHarness() {
    spdlog::set_level(spdlog::level::off);
    options_.lease = 30s;
    options_.max_lease = 300s;
    options_.heartbeat = 1s;
    options_.liveness = 3;
    options_.max_deliveries = 5;
    options_.queue_limit = 1000;
    options_.dedup_window = 600s;
  }

  // Builds the broker from options_ and loads what storage_ "recovered".
  void Start() {
    transport_.set_limits(options_.limits);
    broker_ = std::make_unique<Broker>(options_, storage_, clock_, transport_);
    auto st = broker_->Recover();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  Broker& broker() { return *broker_; }

  // Every frame the broker sent must be one its peers can decode.
  void TearDown() override {
    for (const auto& what : transport_.undecodable()) {
      ADD_FAILURE() << "the broker sent a frame its peers refuse: " << what;
    }
  }

  // ---- frames in ----
  void Send(const std::string& peer, protocol::Message m, int fd = -1) {
    broker_->OnFrame(peer, fd, std::move(m));
  }
  void Publish(const std::vector<std::string>& ids, const std::string& queue = kQueue,
               const std::string& peer = kPublisher) {
    protocol::Publish p;
    for (const auto& id : ids) p.items.push_back({queue, id, "payload of " + id, {}});
    Send(peer, std::move(p));
  }
  void Ready(const std::string& worker, std::uint32_t credit,
             std::vector<std::string> queues = {kQueue}, int fd = -1) {
    Send(worker, protocol::Ready{worker, std::move(queues), credit}, fd);
  }
  void Ack(const std::string& worker, std::vector<std::uint64_t> leases, int fd = -1) {
    Send(worker, protocol::Ack{std::move(leases)}, fd);
  }
  void Extend(const std::string& worker, std::uint32_t ms, std::vector<std::uint64_t> leases) {
    Send(worker, protocol::Extend{ms, std::move(leases)});
  }
  void Nack(const std::string& worker, std::uint64_t lease, std::uint32_t delay_ms,
            std::string reason = "handler failed") {
    Send(worker, protocol::Nack{{{lease, delay_ms, std::move(reason)}}});
  }
  void Credit(const std::string& worker, std::uint32_t credit) {
    Send(worker, protocol::Credit{credit});
  }

  // One reactor pass with nothing received: timers, then dispatch/commit/flush.
  void Pass() {
    broker_->OnTimers();
    broker_->EndPass();
    const auto st = broker_->CheckInvariants();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  // Manual storage: everything appended so far becomes durable and the broker hears of it.
  void MakeAllDurable() {
    storage_.MakeAllDurable();
    broker_->OnStorageProgress(storage_.Poll());
  }
  void Advance(std::chrono::nanoseconds d) { clock_.Advance(d); }

  // Publishes, passes (auto-durable storage confirms at once), forgets what was sent.
  void PublishAndPass(const std::vector<std::string>& ids) {
    Publish(ids);
    Pass();
    transport_.Clear();
  }
  // Registers a worker and forgets its WELCOME.
  void ReadyAndPass(const std::string& worker, std::uint32_t credit,
                    std::vector<std::string> queues = {kQueue}, int fd = -1) {
    Ready(worker, credit, std::move(queues), fd);
    Pass();
  }

  // ---- what came out ----
  std::vector<protocol::DeliverItem> TakeDeliveries(const std::string& worker) {
    auto items = transport_.Deliveries(worker);
    transport_.Clear();
    return items;
  }
  static std::vector<std::string> Ids(const std::vector<protocol::DeliverItem>& items) {
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(i.id);
    return out;
  }
  static std::vector<std::uint64_t> Leases(const std::vector<protocol::DeliverItem>& items) {
    std::vector<std::uint64_t> out;
    for (const auto& i : items) out.push_back(i.lease_id);
    return out;
  }
  std::vector<std::string> ConfirmedIds(const std::string& peer = kPublisher) const {
    std::vector<std::string> out;
    for (const auto& c : transport_.To<protocol::Confirm>(peer)) {
      out.insert(out.end(), c.ids.begin(), c.ids.end());
    }
    return out;
  }
  std::vector<protocol::Error> Errors(const std::string& peer) const {
    return transport_.To<protocol::Error>(peer);
  }

  protocol::QueueStats QueueStats(const std::string& name = kQueue) const {
    for (auto& q : broker_->Stats(0).queues) {
      if (q.name == name) return q;
    }
    ADD_FAILURE() << "no queue " << name << " in stats";
    return {};
  }
  protocol::WorkerStats WorkerStats(const std::string& name) const {
    for (auto& w : broker_->Stats(0).workers) {
      if (w.name == name) return w;
    }
    ADD_FAILURE() << "no worker " << name << " in stats";
    return {};
  }
  bool HasWorker(const std::string& name) const {
    for (auto& w : broker_->Stats(0).workers) {
      if (w.name == name) return true;
    }
    return false;
  }
  // The dead letter `id` of `queue`, or nullptr.
  const Message* Dead(const std::string& id, const std::string& queue = kQueue) const {
    const Queue* q = broker_->FindQueue(queue);
    for (const Message* m = q == nullptr ? nullptr : q->OldestDead(); m != nullptr;
         m = q->NextDead(m)) {
      if (m->id() == id) return m;
    }
    return nullptr;
  }
  std::vector<std::string> DeadIds(const std::string& queue = kQueue) const {
    std::vector<std::string> out;
    const Queue* q = broker_->FindQueue(queue);
    for (const Message* m = q == nullptr ? nullptr : q->OldestDead(); m != nullptr;
         m = q->NextDead(m)) {
      out.emplace_back(m->id());
    }
    return out;
  }
  std::int64_t Counter(const std::string& name) const {
    for (auto& [k, v] : broker_->Stats(0).counters) {
      if (k == name) return v;
    }
    ADD_FAILURE() << "no counter " << name;
    return -1;
  }

  BrokerOptions options_;
  core::VirtualClock clock_;
  FakeStorage storage_;
  RecordingTransport transport_;
  std::unique_ptr<Broker> broker_;
};

}  // namespace mandrill::broker::testkit
