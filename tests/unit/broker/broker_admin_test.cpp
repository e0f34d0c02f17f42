// Operator commands over frames (STATS, QUEUES, DLQ_LIST/REQUEUE/PURGE), stats figures, and
// frames the broker cannot use (bad or wrong-way frames).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class BrokerAdminTest : public BrokerHarness {
 protected:
  BrokerAdminTest() { options_.max_deliveries = 1; }

  // a, b and c die on their first (and only) attempt, nacked with "reason <id>".
  void KillThree() {
    Start();
    ReadyAndPass("w1", 3);
    Publish({"a", "b", "c"});
    Pass();
    const auto items = TakeDeliveries("w1");
    ASSERT_EQ(items.size(), 3u);
    for (const auto& i : items) Nack("w1", i.lease_id, 0, "reason " + i.id);
    Pass();
    ASSERT_EQ(QueueStats().dead, 3u);
    transport_.Clear();
  }
  protocol::AdminOk TakeAdminOk() {
    auto ok = transport_.Take<protocol::AdminOk>(kAdmin);
    EXPECT_EQ(ok.size(), 1u);
    return ok.empty() ? protocol::AdminOk{} : ok[0];
  }
};

TEST_F(BrokerAdminTest, DlqListShowsDeadLettersInOrderUpToTheLimit) {
  KillThree();
  const std::int64_t died_at = clock_.WallMs();
  Send(kAdmin, protocol::DlqListRequest{7, kQueue, 2});
  Pass();
  const auto replies = transport_.To<protocol::DlqListReply>(kAdmin);
  ASSERT_EQ(replies.size(), 1u);
  const auto& r = replies[0];
  EXPECT_EQ(r.request_id, 7u);
  EXPECT_EQ(r.queue, kQueue);
  EXPECT_EQ(r.total, 3u);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].id, "a");
  EXPECT_EQ(r.items[0].attempts, 1u);
  EXPECT_EQ(r.items[0].last_error, "reason a");
  EXPECT_EQ(r.items[0].dead_at_unix_ms, died_at);
  EXPECT_EQ(r.items[0].payload, "payload of a");
  EXPECT_EQ(r.items[1].id, "b");
}

TEST_F(BrokerAdminTest, DlqListPayloadIsAPreviewOfTheFirst256Bytes) {
  Start();
  ReadyAndPass("w1", 1);
  const std::string big(1000, 'x');
  Send(kPublisher, protocol::Publish{{{kQueue, "big", big, {}}}});
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  Nack("w1", items[0].lease_id, 0, "too big");
  Send(kAdmin, protocol::DlqListRequest{1, kQueue, 10});
  Pass();
  const auto replies = transport_.To<protocol::DlqListReply>(kAdmin);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].items.size(), 1u);
  EXPECT_EQ(replies[0].items[0].payload, big.substr(0, 256));
}

TEST_F(BrokerAdminTest, DlqRequeueOfNamedIdsResetsAttemptsAndMakesThemDeliverable) {
  KillThree();
  Send(kAdmin, protocol::DlqRequeueRequest{8, kQueue, {"b", "nope"}});
  Pass();
  const auto items = transport_.Deliveries("w1");
  const auto ok = TakeAdminOk();
  EXPECT_EQ(ok.request_id, 8u);
  EXPECT_EQ(ok.count, 1u);
  EXPECT_THAT(ok.message, HasSubstr("1 id(s) were not dead letters"));
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"a", "c"}));
  ASSERT_EQ(items.size(), 1u) << "delivered in the same pass";
  EXPECT_EQ(items[0].id, "b");
  EXPECT_EQ(items[0].attempt, 1u) << "attempts were reset";
  const auto requeues = storage_.RecordsOf<RequeueRecord>();
  ASSERT_EQ(requeues.size(), 1u);
}

TEST_F(BrokerAdminTest, DlqRequeueWithNoIdsRequeuesEveryDeadLetter) {
  KillThree();
  Credit("w1", 0);
  Send(kAdmin, protocol::DlqRequeueRequest{9, kQueue, {}});
  Pass();
  EXPECT_EQ(TakeAdminOk().count, 3u);
  EXPECT_THAT(DeadIds(), IsEmpty());
  EXPECT_EQ(QueueStats().ready, 3u);
  EXPECT_EQ(QueueStats().dead, 0u);
}

TEST_F(BrokerAdminTest, DlqPurgeDeletesOnlyTheNamedIds) {
  KillThree();
  Send(kAdmin, protocol::DlqPurgeRequest{10, kQueue, {"a", "c", "nope"}});
  Pass();
  const auto ok = TakeAdminOk();
  EXPECT_EQ(ok.request_id, 10u);
  EXPECT_EQ(ok.count, 2u);
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(broker().FindQueue(kQueue)->size(), 1u) << "purged messages are deleted";
  EXPECT_EQ(storage_.RecordsOf<PurgeRecord>().size(), 2u);

  // A purged id was settled: a retry is deduplicated, not stored again.
  Publish({"a"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a"));
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 3u);
  transport_.Clear();

  Send(kAdmin, protocol::DlqPurgeRequest{11, kQueue, {}});
  Pass();
  EXPECT_EQ(TakeAdminOk().count, 1u);
  EXPECT_THAT(DeadIds(), IsEmpty());
}

TEST_F(BrokerAdminTest, DlqRequeueWithARepeatedIdRequeuesItOnce) {
  KillThree();
  Credit("w1", 0);
  Send(kAdmin, protocol::DlqRequeueRequest{12, kQueue, {"b", "b"}});
  Pass();
  const auto ok = TakeAdminOk();
  // Regression: the repeated id was pushed onto the ready deque twice (and then leased twice).
  EXPECT_EQ(broker().FindQueue(kQueue)->ready_count(), 1u);
  EXPECT_EQ(ok.count, 1u);
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(BrokerAdminTest, DlqPurgeWithARepeatedIdPurgesItOnce) {
  KillThree();
  // Requeue and purge pick dead letters the same way. Probe with a requeue of a repeated id,
  // which is harmless: if it takes the message twice, a purge would free it twice
  // (the heap-use-after-free this test was written for), so stop before that.
  Credit("w1", 0);
  Send(kAdmin, protocol::DlqRequeueRequest{30, kQueue, {"c", "c"}});
  Pass();
  transport_.Clear();
  ASSERT_EQ(broker().FindQueue(kQueue)->ready_count(), 1u)
      << "repeated ids are taken twice: DLQ_PURGE would free a message twice";
  Send(kAdmin, protocol::DlqPurgeRequest{13, kQueue, {"a", "a"}});
  Pass();
  EXPECT_EQ(TakeAdminOk().count, 1u);
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(storage_.RecordsOf<PurgeRecord>().size(), 1u);
}

TEST_F(BrokerAdminTest, DlqListReplyNeverExceedsTheProtocolBatchLimit) {
  // mandrill-ctl accepts --limit up to 100,000, but peers refuse arrays over max_batch (10,000).
  Recovered r;
  const std::size_t n = options_.limits.max_batch + 1;
  for (std::size_t i = 1; i <= n; ++i) {
    RecoveredMessage m;
    m.publish = PublishRecord{i, kQueue, "m" + std::to_string(i), "p", {}, 0};
    m.state = RecoveredMessage::State::kDead;
    m.attempts = 1;
    m.last_error = "poison";
    r.messages.push_back(std::move(m));
  }
  r.max_seq = n;
  storage_.set_recovered(std::move(r));
  Start();
  Send(kAdmin, protocol::DlqListRequest{14, kQueue, 100'000});
  Pass();
  EXPECT_THAT(transport_.undecodable(), IsEmpty());
  const auto replies = transport_.To<protocol::DlqListReply>(kAdmin);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].total, n);
  EXPECT_LE(replies[0].items.size(), options_.limits.max_batch);
}

TEST_F(BrokerAdminTest, DlqCommandsOnAnUnknownQueueAnswerUnknownQueueWithTheRequestId) {
  Start();
  Send(kAdmin, protocol::DlqListRequest{21, "ghost", 10});
  Send(kAdmin, protocol::DlqRequeueRequest{22, "ghost", {}});
  Send(kAdmin, protocol::DlqPurgeRequest{23, "ghost", {"x"}});
  Pass();
  const auto errors = Errors(kAdmin);
  ASSERT_EQ(errors.size(), 3u);
  const Command commands[] = {Command::kDlqList, Command::kDlqRequeue, Command::kDlqPurge};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(errors[i].code, ErrorCode::kUnknownQueue);
    EXPECT_EQ(errors[i].request_id, 21u + i);
    EXPECT_EQ(errors[i].answers, static_cast<std::uint8_t>(commands[i]));
    EXPECT_THAT(errors[i].reason, HasSubstr("ghost"));
  }
  EXPECT_EQ(broker().FindQueue("ghost"), nullptr) << "asking does not create the queue";
}

TEST_F(BrokerAdminTest, QueuesListsEveryQueueByName) {
  Start();
  Publish({"x"}, "zeta");
  Publish({"y"}, "alpha");
  ReadyAndPass("w1", 0, {"mid"});
  Send(kAdmin, protocol::QueuesRequest{5});
  Pass();
  const auto replies = transport_.To<protocol::QueuesReply>(kAdmin);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].request_id, 5u);
  EXPECT_THAT(replies[0].names, ElementsAre("alpha", "mid", "zeta"));
}

TEST_F(BrokerAdminTest, StatsRequestIsAnsweredWithTheRequestIdAndUptime) {
  Start();
  Advance(1500ms);
  Send(kAdmin, protocol::StatsRequest{99});
  Pass();
  const auto replies = transport_.To<protocol::StatsReply>(kAdmin);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].request_id, 99u);
  EXPECT_EQ(replies[0].broker_id, broker().broker_id());
  EXPECT_EQ(replies[0].uptime_ms, 1500);
}

TEST_F(BrokerAdminTest, StatsGaugesAndCountersMatchWhatHappened) {
  options_.max_deliveries = 2;
  Start();
  ReadyAndPass("w1", 4);
  Publish({"a", "b", "c", "d", "e", "f"});
  Pass();
  const auto items = TakeDeliveries("w1");  // a b c d
  ASSERT_EQ(Ids(items), (std::vector<std::string>{"a", "b", "c", "d"}));
  Credit("w1", 0);
  Ack("w1", {items[0].lease_id});                  // a: acked
  Nack("w1", items[1].lease_id, 60'000, "later");  // b: deferred
  Nack("w1", items[2].lease_id, 0, "once");        // c: back to ready
  Pass();
  Credit("w1", 2);  // d still held: one more, c (at the front)
  Pass();
  const auto again = TakeDeliveries("w1");
  ASSERT_EQ(Ids(again), (std::vector<std::string>{"c"}));
  EXPECT_EQ(again[0].attempt, 2u);
  Credit("w1", 0);
  Nack("w1", again[0].lease_id, 0, "twice");  // c: dead
  Publish({"a"});                              // deduplicated (settled)
  Ack("w1", {12345});                          // lease lost
  Pass();

  const auto q = QueueStats();
  EXPECT_EQ(q.ready, 2u);      // e f
  EXPECT_EQ(q.in_flight, 1u);  // d
  EXPECT_EQ(q.deferred, 1u);   // b
  EXPECT_EQ(q.dead, 1u);       // c
  EXPECT_EQ(q.published, 6u);
  EXPECT_EQ(q.acked, 1u);
  EXPECT_EQ(q.nacked, 3u);
  EXPECT_EQ(q.redelivered, 1u);
  EXPECT_EQ(q.expired, 0u);
  EXPECT_EQ(q.dead_lettered, 1u);
  EXPECT_EQ(q.deduplicated, 1u);
  EXPECT_EQ(q.refused_full, 0u);

  const auto w = WorkerStats("w1");
  EXPECT_EQ(w.in_flight, 1u);
  EXPECT_EQ(w.credit, 0u);
  EXPECT_EQ(w.delivered, 5u);
  EXPECT_EQ(w.acked, 1u);
  EXPECT_EQ(w.nacked, 3u);

  EXPECT_EQ(Counter("broker.leases"), 1);
  EXPECT_EQ(Counter("broker.lease_lost"), 1);
  EXPECT_EQ(Counter("broker.pending_durable"), 0);
  EXPECT_EQ(Counter("broker.dedup_ids"), 6) << "a settled, b..f live";
  EXPECT_EQ(Counter("broker.frames_in"), broker().counters().frames_in);
  EXPECT_EQ(Counter("storage.fake_records"),
            static_cast<std::int64_t>(storage_.last_ticket()))
      << "storage figures are appended";

  // A minute later b is due and d's 30 s lease has expired: both come back and, with e and f,
  // go out again.
  Credit("w1", 5);
  Advance(60s);
  Send("w1", protocol::Heartbeat{});
  Pass();
  EXPECT_EQ(QueueStats().deferred, 0u);
  EXPECT_EQ(QueueStats().expired, 1u);
  EXPECT_EQ(QueueStats().ready, 0u);
  EXPECT_EQ(QueueStats().in_flight, 4u);
  EXPECT_EQ(Counter("broker.leases"), 4);
}

TEST_F(BrokerAdminTest, BadFrameIsAnsweredWithItsCodeAndCommandByteAndTheSessionGoesOn) {
  Start();
  broker().OnBadFrame(kPublisher,
                      core::Error{ErrorCode::kTooLarge, "payload too large"},
                      static_cast<std::uint8_t>(Command::kPublish));
  broker().OnBadFrame("someone", core::Error{ErrorCode::kMalformed, "bad"}, 0);
  Publish({"a"});
  Pass();
  auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kTooLarge);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kPublish));
  EXPECT_EQ(errors[0].reason, "payload too large");
  errors = Errors("someone");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kMalformed);
  EXPECT_EQ(errors[0].answers, 0u);
  EXPECT_EQ(broker().counters().bad_frames, 2);
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a")) << "the session continues";
}

TEST_F(BrokerAdminTest, BrokerToPeerCommandSentToTheBrokerIsUnexpected) {
  Start();
  Send(kPublisher, protocol::Confirm{kQueue, {"a"}});
  Send("w1", protocol::Deliver{});
  Pass();
  auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kUnexpectedCommand);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kConfirm));
  errors = Errors("w1");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kDeliver));
  EXPECT_EQ(broker().counters().bad_frames, 2);
}

}  // namespace
}  // namespace mandrill::broker::testkit
