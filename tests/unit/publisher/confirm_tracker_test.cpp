#include "publisher/confirm_tracker.h"

#include <gtest/gtest.h>

namespace mandrill::publisher {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

class ConfirmTrackerTest : public ::testing::Test {
 protected:
  TrackerOptions Options(std::size_t window) {
    TrackerOptions o;
    o.window = window;
    o.confirm_timeout = 200ms;
    o.backoff_initial = 50ms;
    o.backoff_max = 400ms;
    o.id_prefix = "p";
    return o;
  }
  std::vector<std::string> Take(ConfirmTracker& t, std::size_t max = 1000) {
    std::vector<Seq> seqs;
    t.TakeSendable(0, max, 1 << 20, seqs);
    std::vector<std::string> ids;
    for (auto s : seqs) ids.push_back(t.id(s));
    return ids;
  }
  core::VirtualClock clock_;
};

TEST_F(ConfirmTrackerTest, GeneratedIdsArePrefixDashSequence) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  t.Add("b");
  EXPECT_EQ(Take(t), (std::vector<std::string>{"p-1", "p-2"}));
  EXPECT_EQ(t.payload(2), "b");
}

TEST_F(ConfirmTrackerTest, WindowLimitsUnsettledMessages) {
  ConfirmTracker t(Options(3), clock_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t.HasRoom());
    t.Add("x");
  }
  EXPECT_FALSE(t.HasRoom());
  Take(t);
  EXPECT_FALSE(t.HasRoom());
  EXPECT_EQ(t.OnConfirm("p-2"), ConfirmOutcome::kFirst);
  EXPECT_TRUE(t.HasRoom());
  EXPECT_EQ(t.unsettled(), 2u);
}

TEST_F(ConfirmTrackerTest, StuckHeadLimitsAdmissionToTheRingSpan) {
  ConfirmTracker t(Options(8), clock_);  // ring of 16 slots
  for (int i = 0; i < 8; ++i) t.Add("x");
  Take(t);
  for (int i = 2; i <= 8; ++i) {
    ASSERT_EQ(t.OnConfirm("p-" + std::to_string(i)), ConfirmOutcome::kFirst);
  }
  // p-1 is stuck at the head; p-9..p-15 fill the window again and are confirmed too.
  for (int i = 9; i <= 15; ++i) t.Add("y");
  EXPECT_FALSE(t.HasRoom());  // window: 8 unsettled
  Take(t);
  for (int i = 9; i <= 15; ++i) t.OnConfirm("p-" + std::to_string(i));
  EXPECT_EQ(t.unsettled(), 1u);
  ASSERT_TRUE(t.HasRoom());
  t.Add("z");                 // p-16 takes the last slot of the span
  EXPECT_FALSE(t.HasRoom());  // 2 unsettled, but the ring is spanned from p-1 to p-16
  Take(t);
  EXPECT_EQ(t.OnConfirm("p-1"), ConfirmOutcome::kFirst);
  EXPECT_TRUE(t.HasRoom());  // head moved past every settled slot up to p-16
}

TEST_F(ConfirmTrackerTest, DuplicateConfirmIsReportedOnce) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");
  t.Add("y");
  Take(t);
  EXPECT_EQ(t.OnConfirm("p-2"), ConfirmOutcome::kFirst);
  EXPECT_EQ(t.OnConfirm("p-2"), ConfirmOutcome::kDuplicate);  // slot not yet freed (p-1 open)
  EXPECT_EQ(t.OnConfirm("p-1"), ConfirmOutcome::kFirst);
  EXPECT_EQ(t.OnConfirm("p-1"), ConfirmOutcome::kUnknown);  // freed: no longer ours
  EXPECT_EQ(t.counters().confirmed, 2u);
  EXPECT_EQ(t.counters().duplicate_confirms, 2u);
}

TEST_F(ConfirmTrackerTest, UnknownIdsAreIgnored) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");
  Take(t);
  EXPECT_EQ(t.OnConfirm("other-1"), ConfirmOutcome::kUnknown);
  EXPECT_EQ(t.OnConfirm("p-99"), ConfirmOutcome::kUnknown);
  EXPECT_EQ(t.OnConfirm("p-"), ConfirmOutcome::kUnknown);
  EXPECT_EQ(t.OnConfirm(""), ConfirmOutcome::kUnknown);
  EXPECT_EQ(t.unsettled(), 1u);
}

TEST_F(ConfirmTrackerTest, ExplicitIdIsMatched) {
  ConfirmTracker t(Options(10), clock_);
  t.AddWithId("restart-x7q2", "x");
  EXPECT_EQ(Take(t), (std::vector<std::string>{"restart-x7q2"}));
  EXPECT_EQ(t.OnConfirm("restart-x7q2"), ConfirmOutcome::kFirst);
  EXPECT_EQ(t.unsettled(), 0u);
}

TEST_F(ConfirmTrackerTest, UnconfirmedMessageIsResentWithSameIdAfterTimeout) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  t.Add("b");
  Take(t);
  t.OnConfirm("p-1");
  clock_.Advance(199ms);
  t.Tick();
  EXPECT_FALSE(t.HasSendable(0));
  clock_.Advance(1ms);
  t.Tick();
  EXPECT_EQ(Take(t), (std::vector<std::string>{"p-2"}));
  EXPECT_EQ(t.counters().retried, 1u);
  EXPECT_EQ(t.counters().published, 2u);
  // And again after another timeout, measured from the re-send.
  clock_.Advance(150ms);
  t.Tick();
  EXPECT_FALSE(t.HasSendable(0));
  clock_.Advance(50ms);
  t.Tick();
  EXPECT_EQ(Take(t), (std::vector<std::string>{"p-2"}));
}

TEST_F(ConfirmTrackerTest, LateConfirmOfTheFirstSendSettlesAndTheResendIsDropped) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  Take(t);
  clock_.Advance(200ms);
  t.Tick();  // queued for re-send
  EXPECT_EQ(t.OnConfirm("p-1"), ConfirmOutcome::kFirst);
  EXPECT_FALSE(t.HasSendable(0));
  EXPECT_TRUE(Take(t).empty());
}

TEST_F(ConfirmTrackerTest, NextDeadlineIsTheEarliestConfirmTimeout) {
  ConfirmTracker t(Options(10), clock_);
  EXPECT_FALSE(t.NextDeadline().has_value());
  const auto start = clock_.Now();
  t.Add("a");
  Take(t);
  ASSERT_TRUE(t.NextDeadline().has_value());
  EXPECT_EQ(*t.NextDeadline(), start + 200ms);
}

TEST_F(ConfirmTrackerTest, RetryableRefusalBacksOffThenResends) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  t.Add("b");
  Take(t);
  const auto out = t.OnError({"p-1", "p-2"}, ErrorCode::kQueueFull);
  EXPECT_EQ(out.retrying, 2u);
  EXPECT_EQ(out.refused, 0u);
  t.Add("c");  // admitted, but held while backing off
  EXPECT_FALSE(t.HasSendable(0));
  EXPECT_TRUE(Take(t).empty());
  clock_.Advance(49ms);
  t.Tick();
  EXPECT_TRUE(Take(t).empty());
  clock_.Advance(1ms);
  t.Tick();
  const auto ids = Take(t);
  EXPECT_EQ(ids, (std::vector<std::string>{"p-3", "p-1", "p-2"}));
  EXPECT_EQ(t.counters().retried, 2u);
}

TEST_F(ConfirmTrackerTest, BackoffDoublesPerRefusalAndResetsOnConfirm) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  Take(t);
  t.OnError({"p-1"}, ErrorCode::kStorageFailed);
  EXPECT_EQ(t.current_backoff(), 100ms);
  clock_.Advance(50ms);
  t.Tick();
  Take(t);
  t.OnError({"p-1"}, ErrorCode::kShuttingDown);
  EXPECT_EQ(t.current_backoff(), 200ms);
  clock_.Advance(100ms);
  t.Tick();
  Take(t);
  t.OnError({"p-1"}, ErrorCode::kQueueFull);
  clock_.Advance(200ms);
  t.Tick();
  Take(t);
  t.OnError({"p-1"}, ErrorCode::kQueueFull);
  EXPECT_EQ(t.current_backoff(), 400ms);  // capped
  clock_.Advance(400ms);
  t.Tick();
  Take(t);
  EXPECT_EQ(t.OnConfirm("p-1"), ConfirmOutcome::kFirst);
  EXPECT_EQ(t.current_backoff(), 50ms);
}

TEST_F(ConfirmTrackerTest, PermanentRefusalSettlesAsRefused) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  t.Add("b");
  Take(t);
  for (auto code : {ErrorCode::kInvalidArgument}) {
    const auto out = t.OnError({"p-1"}, code);
    EXPECT_EQ(out.refused, 1u);
  }
  EXPECT_EQ(t.OnError({"p-2"}, ErrorCode::kTooLarge).refused, 1u);
  EXPECT_EQ(t.unsettled(), 0u);
  EXPECT_EQ(t.counters().refused, 2u);
  EXPECT_EQ(t.OnError({"p-2"}, ErrorCode::kMalformed).ignored, 1u);
  EXPECT_EQ(t.OnConfirm("p-2"), ConfirmOutcome::kUnknown);
}

TEST_F(ConfirmTrackerTest, RetryableCodesAreTheDocumentedOnes) {
  EXPECT_TRUE(IsRetryable(ErrorCode::kQueueFull));
  EXPECT_TRUE(IsRetryable(ErrorCode::kStorageFailed));
  EXPECT_TRUE(IsRetryable(ErrorCode::kShuttingDown));
  EXPECT_FALSE(IsRetryable(ErrorCode::kInvalidArgument));
  EXPECT_FALSE(IsRetryable(ErrorCode::kTooLarge));
  EXPECT_FALSE(IsRetryable(ErrorCode::kMalformed));
  EXPECT_FALSE(IsRetryable(ErrorCode::kInternal));
}

TEST_F(ConfirmTrackerTest, ReturnUnsentRestoresQueueAndCounters) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  t.Add("b");
  std::vector<Seq> seqs;
  t.TakeSendable(0, 10, 1 << 20, seqs);
  EXPECT_EQ(t.counters().published, 2u);
  t.ReturnUnsent(seqs);
  EXPECT_EQ(t.counters().published, 0u);
  EXPECT_FALSE(t.NextDeadline().has_value());  // no confirm timer for what was never sent
  clock_.Advance(10s);
  EXPECT_EQ(Take(t), (std::vector<std::string>{"p-1", "p-2"}));
  EXPECT_EQ(t.counters().published, 2u);
  EXPECT_EQ(t.counters().retried, 0u);
}

TEST_F(ConfirmTrackerTest, TakeSendableStopsAtMaxItemsAndMaxBytes) {
  ConfirmTracker t(Options(100), clock_);
  for (int i = 0; i < 10; ++i) t.Add(std::string(100, 'x'));
  std::vector<Seq> seqs;
  t.TakeSendable(0, 3, 1 << 20, seqs);
  EXPECT_EQ(seqs.size(), 3u);
  t.TakeSendable(0, 100, 250, seqs);  // 103 bytes each: the third crosses 250
  EXPECT_EQ(seqs.size(), 3u);
  t.TakeSendable(0, 100, 1, seqs);  // always at least one
  EXPECT_EQ(seqs.size(), 1u);
}

TEST_F(ConfirmTrackerTest, ConfirmedMessagesLeaveNoTimersBehind) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("a");
  t.Add("b");
  Take(t);
  t.OnConfirm("p-1");
  t.OnConfirm("p-2");
  t.Tick();
  EXPECT_FALSE(t.NextDeadline().has_value());
}

TEST_F(ConfirmTrackerTest, NextDeadlineSkipsConfirmedMessages) {
  ConfirmTracker t(Options(10), clock_);
  const auto start = clock_.Now();
  t.Add("a");
  Take(t);
  clock_.Advance(50ms);
  t.Add("b");
  Take(t);
  t.OnConfirm("p-1");
  t.Tick();
  ASSERT_TRUE(t.NextDeadline().has_value());
  EXPECT_EQ(*t.NextDeadline(), start + 250ms);
}

TEST_F(ConfirmTrackerTest, SteadyStateReusesSlotsForManyMessages) {
  ConfirmTracker t(Options(64), clock_);
  std::uint64_t confirmed = 0;
  std::vector<Seq> seqs;
  for (int round = 0; round < 1000; ++round) {
    while (t.HasRoom()) t.Add("payload");
    t.TakeSendable(0, 1000, 1 << 20, seqs);
    for (auto s : seqs) {
      ASSERT_EQ(t.OnConfirm(t.id(s)), ConfirmOutcome::kFirst);
      ++confirmed;
    }
  }
  EXPECT_EQ(t.counters().confirmed, confirmed);
  EXPECT_EQ(t.unsettled(), 0u);
}

}  // namespace
}  // namespace mandrill::publisher
