// Recovery: what storage returns at start comes back in the right state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using State = RecoveredMessage::State;

class BrokerRecoveryTest : public BrokerHarness {
 protected:
  BrokerRecoveryTest() {
    options_.heartbeat = 60s;  // quiet heartbeats: the clock moves by seconds below
    options_.dedup_window = 600s;
  }

  RecoveredMessage Message(std::uint64_t seq, const std::string& id, State state,
                           std::uint32_t attempts, const std::string& queue = kQueue) {
    RecoveredMessage m;
    m.publish = PublishRecord{seq, queue, id, "payload of " + id, {{"h", id}},
                              clock_.WallMs() - 1000};
    m.state = state;
    m.attempts = attempts;
    return m;
  }

  // a, b ready; c deferred 5 s; c2 deferred until a moment already past; d dead; e ready in q2;
  // settled ids s1 (published 599 s ago), s2 (60 s ago); max_seq 42.
  Recovered Typical() {
    const std::int64_t wall = clock_.WallMs();
    Recovered r;
    r.messages.push_back(Message(3, "a", State::kReady, 0));
    r.messages.push_back(Message(5, "b", State::kReady, 2));
    auto c = Message(7, "c", State::kDeferred, 1);
    c.not_before_unix_ms = wall + 5000;
    c.last_error = "busy";
    r.messages.push_back(c);
    auto c2 = Message(8, "c2", State::kDeferred, 1);
    c2.not_before_unix_ms = wall - 1000;
    r.messages.push_back(c2);
    auto d = Message(9, "d", State::kDead, 5);
    d.last_error = "poison";
    d.dead_at_unix_ms = 1234;
    r.messages.push_back(d);
    r.messages.push_back(Message(10, "e", State::kReady, 0, "q2"));
    r.settled_ids.push_back({kQueue, "s1", wall - 599'000});
    r.settled_ids.push_back({kQueue, "s2", wall - 60'000});
    r.max_seq = 42;
    return r;
  }
  void StartRecovered(Recovered r) {
    storage_.set_recovered(std::move(r));
    Start();
    EXPECT_EQ(storage_.recover_calls(), 1);
  }
};

TEST_F(BrokerRecoveryTest, RecoveredMessagesComeBackInTheirStates) {
  StartRecovered(Typical());
  auto q = QueueStats();
  EXPECT_EQ(q.ready, 2u);
  EXPECT_EQ(q.deferred, 2u);
  EXPECT_EQ(q.dead, 1u);
  EXPECT_EQ(q.in_flight, 0u);
  EXPECT_EQ(QueueStats("q2").ready, 1u);
  EXPECT_EQ(Counter("broker.leases"), 0);

  Pass();  // c2's time has passed: it is released at once
  q = QueueStats();
  EXPECT_EQ(q.ready, 3u);
  EXPECT_EQ(q.deferred, 1u);
}

TEST_F(BrokerRecoveryTest, RecoveredReadyMessagesAreDeliveredWithTheirAttemptsCounted) {
  StartRecovered(Typical());
  ReadyAndPass("w1", 10);
  const auto items = TakeDeliveries("w1");
  EXPECT_EQ(Ids(items), (std::vector<std::string>{"c2", "a", "b"}));
  std::map<std::string, std::uint32_t> attempt;
  for (const auto& i : items) attempt[i.id] = i.attempt;
  EXPECT_EQ(attempt["a"], 1u);
  EXPECT_EQ(attempt["b"], 3u);
  EXPECT_EQ(attempt["c2"], 2u);
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items[1].payload, "payload of a");
  EXPECT_EQ(items[1].headers, (protocol::Headers{{"h", "a"}}));
}

TEST_F(BrokerRecoveryTest, RecoveredDeferredMessageIsDeliverableAtItsNotBefore) {
  StartRecovered(Typical());
  const auto t0 = clock_.Now();
  ReadyAndPass("w1", 10);
  transport_.Clear();
  EXPECT_LE(broker().NextWakeup(), t0 + 5s);
  Advance(5s - 1ms);
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  Advance(1ms);
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, "c");
  EXPECT_EQ(items[0].attempt, 2u);
}

TEST_F(BrokerRecoveryTest, RecoveredDeadLetterIsListedWithItsHistory) {
  StartRecovered(Typical());
  Send(kAdmin, protocol::DlqListRequest{1, kQueue, 10});
  Pass();
  const auto replies = transport_.To<protocol::DlqListReply>(kAdmin);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].items.size(), 1u);
  const auto& d = replies[0].items[0];
  EXPECT_EQ(d.id, "d");
  EXPECT_EQ(d.attempts, 5u);
  EXPECT_EQ(d.last_error, "poison");
  EXPECT_EQ(d.dead_at_unix_ms, 1234);
}

TEST_F(BrokerRecoveryTest, RecoveredLiveIdsAreDeduplicated) {
  StartRecovered(Typical());
  Publish({"a", "c", "d"});
  Publish({"e"}, "q2");
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a", "c", "d", "e"));
  EXPECT_THAT(storage_.RecordsOf<PublishRecord>(), IsEmpty());
  EXPECT_EQ(QueueStats().deduplicated, 3u);
}

TEST_F(BrokerRecoveryTest, RecoveredSettledIdsAreDeduplicatedUntilTheirWindowEnds) {
  StartRecovered(Typical());
  Publish({"s1", "s2"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("s1", "s2"));
  EXPECT_THAT(storage_.RecordsOf<PublishRecord>(), IsEmpty());
  transport_.Clear();

  // s1 was published 599 s ago: its 600 s window ends in 1 s (pruned at the next timer pass).
  Advance(60s);
  Pass();
  Publish({"s1", "s2"});
  Pass();
  const auto records = storage_.RecordsOf<PublishRecord>();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, "s1") << "s1 is new again; s2 is still inside its window";
}

TEST_F(BrokerRecoveryTest, SettledIdsOutsideTheWindowAreNotDeduplicated) {
  Recovered r;
  r.settled_ids.push_back({kQueue, "old", clock_.WallMs() - 601'000});
  r.max_seq = 1;
  StartRecovered(std::move(r));
  Publish({"old"});
  Pass();
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 1u);
}

TEST_F(BrokerRecoveryTest, SequenceNumbersContinueAfterTheHighestRecovered) {
  StartRecovered(Typical());
  Publish({"n1", "n2"});
  Pass();
  const auto records = storage_.RecordsOf<PublishRecord>();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].seq, 43u);
  EXPECT_EQ(records[1].seq, 44u);
}

TEST_F(BrokerRecoveryTest, RecoveredMessagesCountAgainstTheQueueLimit) {
  options_.queue_limit = 5;  // restarts holds a b c c2 d; d is dead and does not count
  StartRecovered(Typical());
  Publish({"n1", "n2"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("n1"));
  ASSERT_EQ(Errors(kPublisher).size(), 1u);
  EXPECT_EQ(Errors(kPublisher)[0].code, ErrorCode::kQueueFull);
}

TEST_F(BrokerRecoveryTest, RecoverFailureIsReturnedToTheCaller) {
  storage_.set_recover_error(core::Error{core::Errc::kIo, "data dir is not writable"});
  Broker broker(options_, storage_, clock_, transport_);
  const auto st = broker.Recover();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "data dir is not writable");
}

TEST_F(BrokerRecoveryTest, LiveIdAlsoListedAsSettledStaysDeduplicatedWhileLive) {
  // Storage may list a settled id that a live message reuses (republished after the old one's
  // window, e.g. after a restart with a longer --dedup-window). The live one must stay deduplicated.
  Recovered r;
  r.messages.push_back(Message(9, "x", State::kReady, 0));
  r.settled_ids.push_back({kQueue, "x", clock_.WallMs() - 599'000});
  r.max_seq = 9;
  StartRecovered(std::move(r));
  Advance(60s);  // the settled entry's window ends
  Pass();
  Publish({"x"});
  Pass();
  // Regression: the settled entry overwrote the live one and was pruned with its window, so this
  // retry of the live message was stored as a second message.
  EXPECT_THAT(storage_.RecordsOf<PublishRecord>(), IsEmpty());
  EXPECT_THAT(ConfirmedIds(), ElementsAre("x"));
  EXPECT_EQ(QueueStats().ready, 1u);
}

}  // namespace
}  // namespace mandrill::broker::testkit
