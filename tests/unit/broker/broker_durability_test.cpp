// Issue 11 (item 3, broker side): operator changes are answered only once durable, a failed
// settle record is written again, the dedup window after a restart counts from the settle, and
// a handler that throws is answered INTERNAL instead of taking the broker down.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class BrokerDurabilityTest : public BrokerHarness {
 protected:
  BrokerDurabilityTest() { options_.max_deliveries = 1; }

  // a and b die on their only attempt; storage is manual from here on.
  void KillTwo() {
    Start();
    ReadyAndPass("w1", 2);
    Publish({"a", "b"});
    Pass();
    for (const auto& i : TakeDeliveries("w1")) Nack("w1", i.lease_id, 0, "poison");
    Pass();
    ASSERT_EQ(DeadIds(), (std::vector<std::string>{"a", "b"}));
    storage_.set_auto_durable(false);
    transport_.Clear();
  }
};

TEST_F(BrokerDurabilityTest, RequeueIsAnsweredAndAppliedOnlyOnceItsRecordsAreDurable) {
  KillTwo();
  Send(kAdmin, protocol::DlqRequeueRequest{3, kQueue, {"a"}});
  Pass();
  EXPECT_THAT(transport_.To<protocol::AdminOk>(kAdmin), IsEmpty()) << "not durable yet";
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"a", "b"})) << "nothing changed yet";
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  MakeAllDurable();
  Pass();
  const auto ok = transport_.To<protocol::AdminOk>(kAdmin);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].count, 1u);
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Ids(transport_.Deliveries("w1")), (std::vector<std::string>{"a"}));
}

TEST_F(BrokerDurabilityTest, AFailedPurgeIsAnsweredStorageFailedAndChangesNothing) {
  KillTwo();
  Send(kAdmin, protocol::DlqPurgeRequest{4, kQueue, {}});
  Pass();
  const Ticket first = storage_.TicketOf<PurgeRecord>(1) != 0 ? storage_.TicketOf<PurgeRecord>(1)
                                                              : storage_.last_ticket() - 1;
  storage_.Fail(first, storage_.last_ticket(), "No space left on device");
  storage_.MakeAllDurable();
  broker().OnStorageProgress(storage_.Poll());
  Pass();
  EXPECT_THAT(transport_.To<protocol::AdminOk>(kAdmin), IsEmpty());
  const auto errors = Errors(kAdmin);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kStorageFailed);
  EXPECT_EQ(errors[0].request_id, 4u);
  EXPECT_NE(errors[0].reason.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(DeadIds(), (std::vector<std::string>{"a", "b"})) << "memory agrees with the disk";
}

TEST_F(BrokerDurabilityTest, AFailedAckRecordIsWrittenAgain) {
  options_.max_deliveries = 5;
  options_.heartbeat = 2s;
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  storage_.set_auto_durable(false);
  Ack("w1", {items[0].lease_id});
  Pass();
  ASSERT_EQ(storage_.RecordsOf<AckRecord>().size(), 1u);
  const Ticket t = storage_.last_ticket();
  storage_.Fail(t, t, "EIO");
  storage_.MakeAllDurable();
  broker().OnStorageProgress(storage_.Poll());
  Advance(1s);  // rewritten on the housekeeping timer, not in a busy loop
  Pass();
  const auto acks = storage_.RecordsOf<AckRecord>();
  ASSERT_EQ(acks.size(), 2u) << "the ack is written again: the message must not come back";
  EXPECT_EQ(acks[1].seq, acks[0].seq);
  EXPECT_EQ(acks[1].settled_unix_ms, acks[0].settled_unix_ms);
  EXPECT_EQ(Counter("broker.settle_rewrites"), 1);
  EXPECT_GE(Counter("broker.storage_failed_records"), 1);
}

TEST_F(BrokerDurabilityTest, AckAndPurgeRecordsCarryTheSettleTime) {
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  Advance(5s);
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  Ack("w1", {items[0].lease_id});
  Pass();
  const auto acks = storage_.RecordsOf<AckRecord>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].settled_unix_ms, clock_.WallMs());
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>()[0].published_unix_ms + 5000,
            acks[0].settled_unix_ms);
}

TEST_F(BrokerDurabilityTest, AfterARestartTheDedupWindowCountsFromTheSettleNotThePublish) {
  options_.dedup_window = 60s;
  Recovered r;
  // Published 2 minutes ago, settled 30 s ago: still inside a 60 s window counted from the
  // settle (it would have expired counted from the publish).
  r.settled_ids.push_back(
      RecoveredId{kQueue, "late-ack", clock_.WallMs() - 120'000, clock_.WallMs() - 30'000});
  r.settled_ids.push_back(
      RecoveredId{kQueue, "old", clock_.WallMs() - 120'000, clock_.WallMs() - 61'000});
  r.max_seq = 10;
  storage_.set_recovered(r);
  Start();
  Publish({"late-ack", "old"});
  Pass();
  EXPECT_EQ(QueueStats().deduplicated, 1u);
  EXPECT_EQ(QueueStats().published, 1u) << "'old' left the window: accepted as new";
}

TEST_F(BrokerDurabilityTest, AHandlerThatThrowsIsAnsweredInternalAndTheBrokerGoesOn) {
  Start();
  storage_.set_throw_on_append(true);
  Publish({"a"});
  Pass();
  const auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kInternal);
  EXPECT_NE(errors[0].reason.find("injected"), std::string::npos);
  EXPECT_EQ(broker().counters().internal_errors, 1);
  storage_.set_throw_on_append(false);
  transport_.Clear();
  Publish({"b"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("b"));
}

TEST_F(BrokerDurabilityTest, FramesDuringShutdownAreAnsweredShuttingDown) {
  KillTwo();
  broker().BeginShutdown("SIGTERM");
  Send(kAdmin, protocol::DlqRequeueRequest{5, kQueue, {}});
  Pass();
  const auto errors = Errors(kAdmin);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kShuttingDown);
  EXPECT_EQ(errors[0].request_id, 5u);
}

TEST_F(BrokerDurabilityTest, AFullDiskLogsABurstAndACountNotALinePerRefusedMessage) {
  // Issue 10: on a full disk the broker logged a line per refused message (14,567 in 90 s).
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10'000);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("broker-test", sink);
  logger->set_level(spdlog::level::info);
  logger->set_pattern("%v");
  spdlog::set_default_logger(logger);
  options_.heartbeat = 2s;
  options_.queue_limit = 10'000;
  storage_.set_auto_durable(false);
  Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) ids.push_back("m" + std::to_string(i));
  Publish(ids);
  Pass();
  storage_.Fail(1, storage_.last_ticket(), "No space left on device");
  storage_.MakeAllDurable();
  broker().OnStorageProgress(storage_.Poll());
  Pass();
  EXPECT_EQ(Errors(kPublisher).size(), 2000u) << "every publisher is still told";
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (const auto& line : sink->last_formatted()) n += line.find(needle) != std::string::npos;
    return n;
  };
  EXPECT_EQ(count("could not be stored"), 5u);
  Advance(10s);
  Pass();
  EXPECT_EQ(count("... and 1995 more like it in the last 10 s"), 1u);
  spdlog::set_default_logger(previous);
}

}  // namespace
}  // namespace mandrill::broker::testkit
