// The SDK's PublishClient (publisher/publish_client.h) against the fake broker: confirms in
// batches, a lost confirm resent with the same id, queue-full retried, a permanent refusal
// reported with its reason, silence ending in timed-out outcomes, a broker that starts late.
#include "publisher/publish_client.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "tests/integration/publisher/fake_broker.h"
#include "tests/support/process.h"

namespace mandrill::publisher::testing {
namespace {

using namespace std::chrono_literals;
using client::OutgoingMessage;
using client::PublishClient;
using client::PublishClientOptions;

class PublishClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = mandrill::testing::LoopbackEndpoint(mandrill::testing::FreePort());
  }
  std::unique_ptr<PublishClient> Connect(PublishClientOptions o = {}) {
    o.broker = endpoint_;
    auto c = PublishClient::Connect(o);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? std::move(c).value() : nullptr;
  }
  static std::vector<OutgoingMessage> Messages(int n, const std::string& prefix = "m") {
    std::vector<OutgoingMessage> out;
    for (int i = 0; i < n; ++i) {
      out.push_back({"restarts", prefix + std::to_string(i), "restart h" + std::to_string(i), {}});
    }
    return out;
  }
  std::string endpoint_;
};

TEST_F(PublishClientTest, EveryMessageIsConfirmedInBatchesOfMaxBatch) {
  FakeBroker broker(endpoint_, {});
  PublishClientOptions o;
  o.max_batch = 100;
  auto c = Connect(o);
  auto outcomes = c->Publish(Messages(1000), 10s);
  ASSERT_TRUE(outcomes.ok()) << outcomes.error().message;
  ASSERT_EQ(outcomes->size(), 1000u);
  for (std::size_t i = 0; i < outcomes->size(); ++i) {
    EXPECT_TRUE((*outcomes)[i].confirmed()) << i << ": " << (*outcomes)[i].reason;
    EXPECT_EQ((*outcomes)[i].id, "m" + std::to_string(i));
  }
  EXPECT_EQ(broker.items_received(), 1000u);
  EXPECT_EQ(broker.frames_received(), 10u);
}

TEST_F(PublishClientTest, AnEmptyIdGetsAUniqueOneThatTheOutcomeReports) {
  FakeBroker broker(endpoint_, {});
  auto c = Connect();
  std::vector<OutgoingMessage> m(3, OutgoingMessage{"restarts", "", "x", {}});
  auto outcomes = c->Publish(m, 10s);
  ASSERT_TRUE(outcomes.ok());
  std::set<std::string> ids;
  for (const auto& o : *outcomes) {
    EXPECT_TRUE(o.confirmed());
    ids.insert(o.id);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(broker.times_received().size(), 3u);
}

TEST_F(PublishClientTest, AMessageWhoseConfirmIsLostIsResentWithTheSameId) {
  FakeBrokerScript script;
  script.drop_first_confirm = {"m1"};
  FakeBroker broker(endpoint_, script);
  PublishClientOptions o;
  o.resend_after = 200ms;
  auto c = Connect(o);
  auto outcomes = c->Publish(Messages(3), 10s);
  ASSERT_TRUE(outcomes.ok());
  for (const auto& x : *outcomes) EXPECT_TRUE(x.confirmed()) << x.id << ": " << x.reason;
  const auto times = broker.times_received();
  EXPECT_EQ(times.at("m0"), 1);
  EXPECT_EQ(times.at("m1"), 2);
  EXPECT_EQ(times.at("m2"), 1);
}

TEST_F(PublishClientTest, QueueFullIsRetriedUntilConfirmed) {
  FakeBrokerScript script;
  script.queue_full_frames = 3;
  FakeBroker broker(endpoint_, script);
  auto c = Connect();
  auto outcomes = c->Publish(Messages(5), 10s);
  ASSERT_TRUE(outcomes.ok());
  for (const auto& x : *outcomes) EXPECT_TRUE(x.confirmed()) << x.id << ": " << x.reason;
  EXPECT_GE(broker.frames_received(), 4u);
}

TEST_F(PublishClientTest, APermanentRefusalIsReportedWithItsCodeAndTheRestAreConfirmed) {
  FakeBrokerScript script;
  script.refuse = {"m2"};
  FakeBroker broker(endpoint_, script);
  auto c = Connect();
  auto outcomes = c->Publish(Messages(4), 10s);
  ASSERT_TRUE(outcomes.ok());
  EXPECT_EQ((*outcomes)[2].code, protocol::ErrorCode::kInvalidArgument);
  EXPECT_FALSE((*outcomes)[2].reason.empty());
  EXPECT_FALSE((*outcomes)[2].timed_out);
  for (int i : {0, 1, 3}) EXPECT_TRUE((*outcomes)[i].confirmed()) << i;
  EXPECT_EQ(broker.times_received().at("m2"), 1);  // never retried

  const auto one = c->PublishOne({"restarts", "m2", "again", {}}, 5s);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().code, protocol::ErrorCode::kInvalidArgument);
}

TEST_F(PublishClientTest, ASilentBrokerEndsTheCallWithTimedOutOutcomesAfterResends) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  PublishClientOptions o;
  o.resend_after = 100ms;
  auto c = Connect(o);
  const auto start = std::chrono::steady_clock::now();
  auto outcomes = c->Publish(Messages(2), 700ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(outcomes.ok());
  for (const auto& x : *outcomes) {
    EXPECT_TRUE(x.timed_out);
    EXPECT_FALSE(x.confirmed());
  }
  EXPECT_GE(took, 700ms);
  EXPECT_LT(took, 5s);
  EXPECT_GE(broker.times_received().at("m0"), 3);  // sent, then resent with the same id

  const auto one = c->PublishOne({"restarts", "solo", "x", {}}, 300ms);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().code, core::Errc::kUnavailable);
}

TEST_F(PublishClientTest, ABrokerThatStartsLateStillGetsEveryMessage) {
  auto c = Connect();
  std::optional<FakeBroker> broker;
  std::thread late([&] {
    std::this_thread::sleep_for(300ms);  // the point of the test: nobody is listening yet
    broker.emplace(endpoint_, FakeBrokerScript{});
  });
  auto outcomes = c->Publish(Messages(50), 15s);
  late.join();
  ASSERT_TRUE(outcomes.ok());
  for (const auto& x : *outcomes) EXPECT_TRUE(x.confirmed()) << x.id << ": " << x.reason;
}

TEST_F(PublishClientTest, WhatTheProtocolRefusesAnywayIsRefusedBeforeSending) {
  FakeBroker broker(endpoint_, {});
  auto c = Connect();
  std::vector<OutgoingMessage> m = {{"restarts", "ok", "x", {}},
                                    {"bad queue!", "q", "x", {}},
                                    {"restarts", "has space", "x", {}},
                                    {"restarts", "big", std::string((1 << 20) + 1, 'x'), {}}};
  auto outcomes = c->Publish(m, 10s);
  ASSERT_TRUE(outcomes.ok());
  EXPECT_TRUE((*outcomes)[0].confirmed());
  EXPECT_EQ((*outcomes)[1].code, protocol::ErrorCode::kInvalidArgument);
  EXPECT_EQ((*outcomes)[2].code, protocol::ErrorCode::kInvalidArgument);
  EXPECT_EQ((*outcomes)[3].code, protocol::ErrorCode::kTooLarge);
  EXPECT_EQ(broker.times_received(), (std::map<std::string, int>{{"ok", 1}}));
}

// The real broker with a lower --max-payload-bytes refuses a whole frame without naming ids:
// the messages that shared a frame with the big one are still confirmed.
TEST_F(PublishClientTest, AFrameRefusedWholeStillConfirmsTheOthersInIt) {
  const std::string dir = mandrill::testing::MakeTempDir("mandrill-publish-client");
  mandrill::testing::Process broker({mandrill::testing::Binary("mandrill-broker"), "--bind",
                                     endpoint_, "--data-dir", dir + "/data",
                                     "--max-payload-bytes", "1000"},
                                    dir + "/broker.log");
  PublishClientOptions o;
  o.resend_after = 300ms;
  auto c = Connect(o);
  auto m = Messages(6);
  m[3].payload = std::string(5000, 'x');
  auto outcomes = c->Publish(m, 4s);
  ASSERT_TRUE(outcomes.ok());
  for (int i : {0, 1, 2, 4, 5}) {
    EXPECT_TRUE((*outcomes)[i].confirmed()) << i << ": " << (*outcomes)[i].reason << "\n"
                                            << broker.Log();
  }
  EXPECT_FALSE((*outcomes)[3].confirmed());
  EXPECT_EQ((*outcomes)[3].code, protocol::ErrorCode::kTooLarge) << (*outcomes)[3].reason;
  EXPECT_FALSE((*outcomes)[3].reason.empty());
}

TEST_F(PublishClientTest, BadOptionsAreRefusedAtConnect) {
  PublishClientOptions o;
  o.broker = "http://nope";
  EXPECT_FALSE(PublishClient::Connect(o).ok());
  o.broker = endpoint_;
  o.max_batch = 0;
  EXPECT_FALSE(PublishClient::Connect(o).ok());
  o.max_batch = 10;
  o.key_file = "/nonexistent.key";
  EXPECT_FALSE(PublishClient::Connect(o).ok());  // one key file without the other
}

}  // namespace
}  // namespace mandrill::publisher::testing
