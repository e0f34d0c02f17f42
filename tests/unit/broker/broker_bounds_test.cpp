// Issue 10: every resource a peer can make the broker hold has a bound, a counter and a clear
// refusal — queues, dead letters, dedup ids, header bytes, peers and the memory budget — and
// admin replies are paged so any number of queues can be listed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class BrokerBoundsTest : public BrokerHarness {
 protected:
  std::vector<std::string> Names(const std::string& prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
    return out;
  }
  std::size_t QueueCount() const { return broker_->Stats(0).queues_total; }
};

TEST_F(BrokerBoundsTest, ReadyNamingMoreNewQueuesThanTheBoundAllowsIsRefusedAndCreatesNone) {
  options_.max_queues = 10;
  Start();
  Ready("w1", 1, Names("q", 11));
  Pass();
  const auto errors = Errors("w1");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kLimitReached);
  EXPECT_NE(errors[0].reason.find("--max-queues"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(QueueCount(), 0u) << "all or nothing";
  EXPECT_EQ(broker().worker_count(), 0u);
  EXPECT_EQ(Counter("broker.refused_queues"), 1);

  Ready("w1", 1, Names("q", 10));
  Pass();
  EXPECT_EQ(QueueCount(), 10u);
  EXPECT_EQ(broker().worker_count(), 1u);
}

TEST_F(BrokerBoundsTest, PublishToOneQueueTooManyIsRefusedWithLimitReachedAndTheRestGoesOn) {
  options_.max_queues = 2;
  Start();
  protocol::Publish p;
  p.items.push_back({"a", "1", "x", {}});
  p.items.push_back({"b", "2", "x", {}});
  p.items.push_back({"c", "3", "x", {}});
  p.items.push_back({"a", "4", "x", {}});
  Send(kPublisher, std::move(p));
  Pass();
  const auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kLimitReached);
  EXPECT_EQ(errors[0].queue, "c");
  EXPECT_THAT(errors[0].ids, ElementsAre("3"));
  EXPECT_THAT(ConfirmedIds(), ::testing::UnorderedElementsAre("1", "2", "4"));
  EXPECT_EQ(QueueCount(), 2u);
}

TEST_F(BrokerBoundsTest, AnEmptyUnusedQueueIsRemovedAfterTheIdleTimeoutAndAUsedOneIsKept) {
  options_.queue_idle = 60s;
  options_.dedup_window = 10s;
  options_.heartbeat = 2s;  // housekeeping (pruning ids, removing queues) every second
  Start();
  Ready("w1", 0, {"kept"});  // subscribed: kept however long it is empty
  Ready("w2", 0, {"unused"});
  Pass();
  Send("w2", protocol::Disconnect{"bye"});
  Pass();
  EXPECT_EQ(QueueCount(), 2u);
  for (int i = 0; i < 60; ++i) {  // a minute of passes, w1 heartbeating
    Advance(1s);
    Send("w1", protocol::Heartbeat{});
    Pass();
  }
  EXPECT_EQ(QueueCount(), 1u) << "'unused' had nothing for a minute";
  EXPECT_NE(broker().FindQueue("kept"), nullptr);
  EXPECT_EQ(broker().FindQueue("unused"), nullptr);
  EXPECT_EQ(Counter("broker.queues_removed"), 1);

  // A queue whose settled ids are in the dedup window is not empty yet: its ids would be lost.
  ReadyAndPass("w3", 1, {"acked"});
  Publish({"m"}, "acked");
  Pass();
  const auto items = TakeDeliveries("w3");
  ASSERT_EQ(items.size(), 1u);
  Ack("w3", {items[0].lease_id});
  Send("w3", protocol::Disconnect{"bye"});
  Pass();
  for (int i = 0; i < 9; ++i) {
    Advance(1s);
    Send("w1", protocol::Heartbeat{});
    Pass();
  }
  ASSERT_NE(broker().FindQueue("acked"), nullptr) << "its id is still remembered";
  for (int i = 0; i < 62; ++i) {  // the window ends, then a minute idle
    Advance(1s);
    Send("w1", protocol::Heartbeat{});
    Pass();
  }
  EXPECT_EQ(broker().FindQueue("acked"), nullptr);
  EXPECT_NE(broker().FindQueue("kept"), nullptr);
}

TEST_F(BrokerBoundsTest, DeadLettersPastTheBoundPurgeTheOldest) {
  options_.max_dead_letters = 2;
  options_.max_deliveries = 1;
  Start();
  ReadyAndPass("w1", 10);
  Publish({"a", "b", "c"});
  Pass();
  for (const auto& item : TakeDeliveries("w1")) Nack("w1", item.lease_id, 0, "poison");
  Pass();
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"b", "c"})) << "a, the oldest, made room";
  EXPECT_EQ(Counter("broker.dead_letters_dropped"), 1);
  const auto purges = storage_.RecordsOf<PurgeRecord>();
  ASSERT_EQ(purges.size(), 1u) << "purged as an operator would: it does not come back";
  EXPECT_EQ(purges[0].settled_unix_ms, clock_.WallMs());
  Publish({"a"});
  Pass();
  EXPECT_EQ(QueueStats().deduplicated, 1u) << "its id is remembered like any purged one";
}

TEST_F(BrokerBoundsTest, HeadersCountAgainstThePayloadLimit) {
  options_.limits.max_payload_bytes = 100;
  Start();
  protocol::Publish p;
  p.items.push_back({kQueue, "fits", std::string(60, 'x'), {{"k", std::string(39, 'v')}}});
  p.items.push_back({kQueue, "over", std::string(60, 'x'), {{"k", std::string(40, 'v')}}});
  Send(kPublisher, std::move(p));
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("fits"));
  const auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kTooLarge);
  EXPECT_THAT(errors[0].ids, ElementsAre("over"));
  EXPECT_EQ(Counter("broker.refused_too_large"), 1);
}

TEST_F(BrokerBoundsTest, PastTheMemoryBudgetPublishesAreRefusedBrokerFullUntilWorkDrains) {
  Start();
  const std::size_t before = broker().memory_used();
  // A budget with room for three 100 KiB messages above what an empty broker holds (and for
  // the dedup index's first 64 KiB block once they are acked).
  constexpr std::size_t kPayload = 100 * 1024;
  broker_.reset();
  options_.max_memory = before + 4 * kPayload;
  Start();
  std::vector<std::string> ids = Names("m", 6);
  protocol::Publish p;
  for (const auto& id : ids) p.items.push_back({kQueue, id, std::string(kPayload, 'x'), {}});
  Send(kPublisher, std::move(p));
  Pass();
  const auto confirmed = ConfirmedIds();
  ASSERT_EQ(confirmed.size(), 3u);
  const auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kBrokerFull);
  EXPECT_NE(errors[0].reason.find("back off and retry"), std::string::npos);
  EXPECT_EQ(errors[0].ids.size() + confirmed.size(), 6u);
  EXPECT_GT(Counter("broker.refused_memory"), 0);

  // Consumed and acked, the messages give their bytes back: the refused ids are accepted.
  transport_.Clear();
  ReadyAndPass("w1", 10);
  auto items = TakeDeliveries("w1");
  Ack("w1", Leases(items));
  Pass();
  protocol::Publish retry;
  for (const auto& id : errors[0].ids) {
    retry.items.push_back({kQueue, id, std::string(kPayload, 'x'), {}});
  }
  Send(kPublisher, std::move(retry));
  Pass();
  EXPECT_EQ(ConfirmedIds().size(), errors[0].ids.size());
}

TEST_F(BrokerBoundsTest, PeersPastTheBoundAreRefusedAndForgottenOnesMakeRoom) {
  options_.max_peers = 2;
  options_.heartbeat = 100s;
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"}, kQueue, "pub-1");
  Publish({"b"}, kQueue, "pub-2");
  Pass();
  const auto errors = Errors("pub-2");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kLimitReached);
  EXPECT_EQ(Counter("broker.refused_peers"), 1);
  Ready("w9", 1);
  Pass();
  EXPECT_EQ(Errors("w9").size(), 1u) << "a new worker is a peer too";
  EXPECT_EQ(broker().worker_count(), 1u);
  // Publishers not heard from for a minute are forgotten: room again.
  Advance(61s);
  Pass();
  transport_.Clear();
  Publish({"c"}, kQueue, "pub-2");
  Pass();
  EXPECT_THAT(ConfirmedIds("pub-2"), ElementsAre("c"));
}

TEST_F(BrokerBoundsTest, SettledIdsPastTheDedupBoundAreForgottenEarlyAndCounted) {
  options_.max_dedup_ids = 3;
  Start();
  ReadyAndPass("w1", 10);
  Publish(Names("id", 5));
  Pass();
  Ack("w1", Leases(TakeDeliveries("w1")));
  Pass();
  EXPECT_EQ(Counter("broker.dedup_evicted"), 2);
  Publish({"id0", "id4"});
  Pass();
  EXPECT_EQ(QueueStats().deduplicated, 1u) << "id4 is remembered, id0 was forgotten early";
  EXPECT_EQ(QueueStats().published, 6u);
}

TEST_F(BrokerBoundsTest, StatsAndQueuesArePagedByName) {
  options_.stats_page = 4;
  options_.queues_page = 3;
  Start();
  for (const auto& q : Names("q", 10)) Publish({"m"}, q);
  Pass();
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  do {
    protocol::StatsRequest r;
    r.request_id = ++pages;
    r.after = after;
    Send(kAdmin, r);
    Pass();
    auto replies = transport_.Take<protocol::StatsReply>(kAdmin);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_LE(replies[0].queues.size(), 4u);
    EXPECT_EQ(replies[0].queues_total, 10u);
    EXPECT_EQ(replies[0].counters.empty(), pages > 1) << "counters come with the first page";
    for (const auto& q : replies[0].queues) seen.push_back(q.name);
    after = replies[0].next;
  } while (!after.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  auto want = Names("q", 10);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);

  seen.clear();
  after.clear();
  pages = 0;
  do {
    protocol::QueuesRequest r;
    r.request_id = ++pages;
    r.after = after;
    Send(kAdmin, r);
    Pass();
    auto replies = transport_.Take<protocol::QueuesReply>(kAdmin);
    ASSERT_EQ(replies.size(), 1u);
    for (const auto& n : replies[0].names) seen.push_back(n);
    after = replies[0].next;
  } while (!after.empty() && pages < 10);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(seen, want);
}

}  // namespace
}  // namespace mandrill::broker::testkit
