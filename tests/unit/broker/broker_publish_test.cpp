// PUBLISH: confirm only once durable, storage failures, deduplication, depth limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr auto kPublishByte = static_cast<std::uint8_t>(Command::kPublish);

class BrokerPublishTest : public BrokerHarness {
 protected:
  // Storage reports nothing durable until the test says so.
  void StartManual() {
    storage_.set_auto_durable(false);
    Start();
  }
  // Ids listed by STORAGE_FAILED errors to `peer`, checking each error's shape.
  std::vector<std::string> StorageFailedIds(const std::string& peer = kPublisher) {
    std::vector<std::string> ids;
    for (const auto& e : Errors(peer)) {
      EXPECT_EQ(e.code, ErrorCode::kStorageFailed);
      EXPECT_EQ(e.answers, kPublishByte);
      EXPECT_EQ(e.queue, kQueue);
      ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    }
    return ids;
  }
};

TEST_F(BrokerPublishTest, NoConfirmAndNoDeliveryUntilStorageReportsDurable) {
  StartManual();
  ReadyAndPass("w1", 10);
  transport_.Clear();

  Publish({"a", "b"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), IsEmpty());
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  ASSERT_EQ(storage_.RecordsOf<PublishRecord>().size(), 2u);
  EXPECT_GE(storage_.committed_upto(), 2u) << "the pass hands the records to the writer";
  EXPECT_EQ(Counter("broker.pending_durable"), 2);
  EXPECT_EQ(QueueStats().ready, 0u);

  Pass();  // more passes change nothing while storage is silent
  EXPECT_THAT(ConfirmedIds(), IsEmpty());

  MakeAllDurable();
  Pass();
  const auto confirms = transport_.To<protocol::Confirm>(kPublisher);
  ASSERT_EQ(confirms.size(), 1u) << "one CONFIRM per publisher and queue per pass";
  EXPECT_EQ(confirms[0].queue, kQueue);
  EXPECT_THAT(confirms[0].ids, ElementsAre("a", "b"));
  EXPECT_EQ(Ids(transport_.Deliveries("w1")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(QueueStats().published, 2u);
}

TEST_F(BrokerPublishTest, OnlyTheDurablePrefixIsConfirmed) {
  StartManual();
  ReadyAndPass("w1", 10);
  transport_.Clear();
  Publish({"a", "b", "c"});
  Pass();

  storage_.MakeDurable(storage_.TicketOf<PublishRecord>(2));  // a and b
  broker().OnStorageProgress(storage_.Poll());
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a", "b"));
  EXPECT_EQ(Ids(transport_.Deliveries("w1")), (std::vector<std::string>{"a", "b"}));
  transport_.Clear();

  MakeAllDurable();
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("c"));
  EXPECT_EQ(Ids(transport_.Deliveries("w1")), (std::vector<std::string>{"c"}));
}

TEST_F(BrokerPublishTest, ConfirmsAreBatchedPerPublisherAndQueueWithinAPass) {
  StartManual();
  Publish({"a"}, "q1", "pub-1");
  Publish({"b"}, "q1", "pub-1");
  Publish({"c"}, "q2", "pub-1");
  Publish({"d"}, "q1", "pub-2");
  Publish({"e"}, "q1", "pub-1");
  Pass();
  MakeAllDurable();
  Pass();

  const auto p1 = transport_.To<protocol::Confirm>("pub-1");
  ASSERT_EQ(p1.size(), 2u);
  for (const auto& c : p1) {
    if (c.queue == "q1") {
      EXPECT_THAT(c.ids, ElementsAre("a", "b", "e"));
    } else {
      EXPECT_EQ(c.queue, "q2");
      EXPECT_THAT(c.ids, ElementsAre("c"));
    }
  }
  const auto p2 = transport_.To<protocol::Confirm>("pub-2");
  ASSERT_EQ(p2.size(), 1u);
  EXPECT_EQ(p2[0].queue, "q1");
  EXPECT_THAT(p2[0].ids, ElementsAre("d"));

  // The next pass starts new batches (the grouping index does not outlive its pass).
  transport_.Clear();
  Publish({"f"}, "q2", "pub-1");
  Publish({"g"}, "q1", "pub-1");
  Publish({"h"}, "q2", "pub-1");
  Pass();
  MakeAllDurable();
  Pass();
  const auto next = transport_.To<protocol::Confirm>("pub-1");
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].queue, "q2");
  EXPECT_THAT(next[0].ids, ElementsAre("f", "h"));
  EXPECT_THAT(next[1].ids, ElementsAre("g"));
}

TEST_F(BrokerPublishTest, StorageFailureRefusesThoseIdsAndConfirmsTheRest) {
  StartManual();
  ReadyAndPass("w1", 10);
  transport_.Clear();
  Publish({"a", "b", "c", "d"});
  Pass();
  const Ticket tb = storage_.TicketOf<PublishRecord>(2);
  const Ticket tc = storage_.TicketOf<PublishRecord>(3);
  ASSERT_EQ(tc, tb + 1);
  storage_.Fail(tb, tc, "disk on fire");
  storage_.MakeAllDurable();
  broker().OnStorageProgress(storage_.Poll());
  Pass();

  EXPECT_THAT(ConfirmedIds(), ElementsAre("a", "d"));
  EXPECT_THAT(StorageFailedIds(), UnorderedElementsAre("b", "c"));
  for (const auto& e : Errors(kPublisher)) {
    EXPECT_NE(e.reason.find("disk on fire"), std::string::npos) << e.reason;
  }
  EXPECT_EQ(Ids(transport_.Deliveries("w1")), (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(Counter("broker.storage_failures"), 2);
  EXPECT_EQ(QueueStats().published, 2u);
  EXPECT_EQ(Counter("broker.pending_durable"), 0);
  transport_.Clear();

  // The failed messages are gone: nothing more is delivered, ever.
  Advance(1h);
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
}

TEST_F(BrokerPublishTest, RetryOfAFailedIdIsAcceptedAsNew) {
  StartManual();
  Publish({"a"});
  Pass();
  storage_.Fail(1, storage_.last_ticket());
  broker().OnStorageProgress(storage_.Poll());
  Pass();
  ASSERT_THAT(StorageFailedIds(), ElementsAre("a"));
  transport_.Clear();

  Publish({"a"});
  Pass();
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 2u) << "written again, not deduplicated";
  EXPECT_EQ(QueueStats().deduplicated, 0u);
  MakeAllDurable();
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a"));
  EXPECT_EQ(QueueStats().ready, 1u);
}

TEST_F(BrokerPublishTest, FailureReportedAheadOfDurabilityDoesNotConfirmEarlierTickets) {
  // storage.h allows a failure to be reported before durable_upto reaches it ("no later than
  // the Poll that first moves durable_upto past it"). Tickets before the failure that are not
  // yet durable must stay unconfirmed; the failed one is refused (now or once the earlier ones
  // are decided) and never confirmed.
  StartManual();
  Publish({"a", "b", "c"});
  Pass();
  const Ticket tc = storage_.TicketOf<PublishRecord>(3);
  storage_.Fail(tc, tc, "write failed");
  broker().OnStorageProgress(storage_.Poll());  // durable_upto still 0
  Pass();
  // Regression: the highest failed ticket used to act as the durability horizon, confirming
  // a and b here.
  EXPECT_THAT(ConfirmedIds(), IsEmpty());
  auto refused = StorageFailedIds();
  transport_.Clear();

  MakeAllDurable();
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a", "b"));
  for (const auto& id : StorageFailedIds()) refused.push_back(id);
  EXPECT_THAT(refused, ElementsAre("c")) << "refused exactly once";
  EXPECT_EQ(Counter("broker.pending_durable"), 0);
}

TEST_F(BrokerPublishTest, DuplicateWhilePendingIsConfirmedTogetherWithTheOriginal) {
  StartManual();
  ReadyAndPass("w1", 10);
  transport_.Clear();
  Publish({"a"}, kQueue, "pub-1");
  Pass();
  Publish({"a"}, kQueue, "pub-2");  // a retry from elsewhere while the first is in flight
  Pass();
  EXPECT_THAT(ConfirmedIds("pub-1"), IsEmpty());
  EXPECT_THAT(ConfirmedIds("pub-2"), IsEmpty()) << "not confirmed before the original is durable";
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 1u);

  MakeAllDurable();
  Pass();
  EXPECT_THAT(ConfirmedIds("pub-1"), ElementsAre("a"));
  EXPECT_THAT(ConfirmedIds("pub-2"), ElementsAre("a"));
  EXPECT_EQ(Ids(transport_.Deliveries("w1")), (std::vector<std::string>{"a"}))
      << "one message";
  EXPECT_EQ(QueueStats().published, 1u);
  EXPECT_EQ(QueueStats().deduplicated, 1u);
}

TEST_F(BrokerPublishTest, DuplicateWhilePendingSharesTheOriginalsStorageFailure) {
  StartManual();
  Publish({"a"}, kQueue, "pub-1");
  Pass();
  Publish({"a"}, kQueue, "pub-2");
  Pass();
  storage_.Fail(1, 1);
  broker().OnStorageProgress(storage_.Poll());
  Pass();
  EXPECT_THAT(StorageFailedIds("pub-1"), ElementsAre("a"));
  EXPECT_THAT(StorageFailedIds("pub-2"), ElementsAre("a"));
  EXPECT_THAT(ConfirmedIds("pub-1"), IsEmpty());
  EXPECT_THAT(ConfirmedIds("pub-2"), IsEmpty());
}

TEST_F(BrokerPublishTest, DuplicateOfADurableMessageIsConfirmedAtOnce) {
  Start();
  PublishAndPass({"a"});
  Publish({"a"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a"));
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 1u);
  EXPECT_EQ(QueueStats().ready, 1u);
}

TEST_F(BrokerPublishTest, AckedIdStaysDeduplicatedUntilTheWindowPassesThenIsNew) {
  options_.dedup_window = 60s;
  options_.heartbeat = 1s;
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  Ack("w1", {items[0].lease_id});
  Pass();
  ASSERT_EQ(QueueStats().acked, 1u);
  transport_.Clear();

  Publish({"a"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a")) << "a retry after a lost confirm is confirmed";
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 1u) << "but not stored again";
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  EXPECT_EQ(QueueStats().deduplicated, 1u);
  transport_.Clear();

  Advance(60s - 1ms);
  Pass();
  Publish({"a"});
  Pass();
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 1u) << "still inside the window";
  EXPECT_EQ(QueueStats().deduplicated, 2u);

  Advance(1s);  // past the window, and past the next pruning pass
  Pass();
  Publish({"a"});
  Pass();
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 2u) << "accepted as a new message";
  EXPECT_EQ(QueueStats().published, 2u);
  EXPECT_EQ(QueueStats().ready, 1u);
}

TEST_F(BrokerPublishTest, SameIdInDifferentQueuesIsTwoMessages) {
  Start();
  Publish({"a"}, "q1");
  Publish({"a"}, "q2");
  Pass();
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 2u);
  EXPECT_EQ(QueueStats("q1").ready, 1u);
  EXPECT_EQ(QueueStats("q2").ready, 1u);
}

TEST_F(BrokerPublishTest, QueueLimitAcceptsExactlyThatManyAndRefusesTheRestAsQueueFull) {
  options_.queue_limit = 3;
  Start();
  Publish({"a", "b", "c", "d", "e"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a", "b", "c"));
  const auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u) << "one ERROR per code and queue";
  EXPECT_EQ(errors[0].code, ErrorCode::kQueueFull);
  EXPECT_EQ(errors[0].answers, kPublishByte);
  EXPECT_EQ(errors[0].queue, kQueue);
  EXPECT_THAT(errors[0].ids, ElementsAre("d", "e"));
  EXPECT_EQ(QueueStats().refused_full, 2u);
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 3u);
  transport_.Clear();

  // A leased message still counts; an acked one frees its place.
  ReadyAndPass("w1", 1);
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  Publish({"d"});
  Pass();
  ASSERT_EQ(Errors(kPublisher).size(), 1u);
  EXPECT_EQ(Errors(kPublisher)[0].code, ErrorCode::kQueueFull);
  transport_.Clear();

  Ack("w1", {items[0].lease_id});
  Publish({"d"});
  Pass();
  EXPECT_THAT(Errors(kPublisher), IsEmpty());
  EXPECT_THAT(ConfirmedIds(), ElementsAre("d"));
}

TEST_F(BrokerPublishTest, PendingMessagesCountAgainstTheQueueLimit) {
  options_.queue_limit = 2;
  StartManual();
  Publish({"a", "b"});
  Pass();
  Publish({"c"});
  Pass();
  ASSERT_EQ(Errors(kPublisher).size(), 1u);
  EXPECT_EQ(Errors(kPublisher)[0].code, ErrorCode::kQueueFull);
  EXPECT_THAT(Errors(kPublisher)[0].ids, ElementsAre("c"));
}

TEST_F(BrokerPublishTest, RetryOfAnAcceptedIdIsConfirmedEvenWhenTheQueueIsFull) {
  options_.queue_limit = 1;
  Start();
  PublishAndPass({"a"});
  Publish({"a"});
  Pass();
  EXPECT_THAT(Errors(kPublisher), IsEmpty());
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a"));
}

TEST_F(BrokerPublishTest, InvalidQueueNameOrIdIsRefusedAndTheRestAccepted) {
  Start();
  protocol::Publish p;
  p.items.push_back({"bad queue!", "a", "x", {}});
  p.items.push_back({kQueue, "", "x", {}});
  p.items.push_back({kQueue, "has space", "x", {}});
  p.items.push_back({kQueue, "ok", "x", {}});
  Send(kPublisher, std::move(p));
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("ok"));
  std::vector<std::string> refused;
  for (const auto& e : Errors(kPublisher)) {
    EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.answers, kPublishByte);
    refused.insert(refused.end(), e.ids.begin(), e.ids.end());
  }
  EXPECT_THAT(refused, UnorderedElementsAre("a", "", "has space"));
  EXPECT_EQ(broker().FindQueue("bad queue!"), nullptr) << "no queue created for a bad name";
}

TEST_F(BrokerPublishTest, PayloadAndHeadersReachTheWorkerUnchanged) {
  Start();
  ReadyAndPass("w1", 1);
  std::string payload("\0\x01\xff binary", 10);
  protocol::Publish p;
  p.items.push_back({kQueue, "a", payload, {{"trace", "t-1"}, {"k", "v"}}});
  Send(kPublisher, std::move(p));
  Pass();
  const auto items = transport_.Deliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].payload, payload);
  EXPECT_EQ(items[0].headers, (protocol::Headers{{"trace", "t-1"}, {"k", "v"}}));
  EXPECT_EQ(items[0].queue, kQueue);
  EXPECT_EQ(items[0].attempt, 1u);
  const auto records = storage_.RecordsOf<PublishRecord>();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].payload, payload);
  EXPECT_EQ(records[0].published_unix_ms, clock_.WallMs());
}

}  // namespace
}  // namespace mandrill::broker::testkit
