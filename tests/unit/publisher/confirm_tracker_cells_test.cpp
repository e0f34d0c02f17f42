// The tracker with cells: where messages are sent, and how they move when a cell refuses them
// or goes down.
#include <gtest/gtest.h>

#include <set>

#include "publisher/confirm_tracker.h"

namespace mandrill::publisher {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

// Three cells; an id "p-N" prefers cell N % 3, then the next ones in turn. Cells in `down_`
// are skipped, as the publisher's route skips cells it declared down.
class ConfirmTrackerCellsTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kCells = 3;

  TrackerOptions Options(std::size_t window) {
    TrackerOptions o;
    o.window = window;
    o.confirm_timeout = 200ms;
    o.backoff_initial = 50ms;
    o.backoff_max = 400ms;
    o.id_prefix = "p";
    o.cells = kCells;
    o.route = [this](std::string_view id, std::uint32_t from) {
      const std::size_t first = std::stoul(std::string(id.substr(2))) % kCells;
      for (std::uint32_t hop = from; hop < from + kCells; ++hop) {
        const std::size_t cell = (first + hop) % kCells;
        if (!down_.contains(cell)) return CellRoute{cell, hop};
      }
      return CellRoute{(first + from) % kCells, from, false};
    };
    return o;
  }
  std::vector<std::string> Take(ConfirmTracker& t, std::size_t cell) {
    std::vector<Seq> seqs;
    t.TakeSendable(cell, 1000, 1 << 20, seqs);
    std::vector<std::string> ids;
    for (auto s : seqs) ids.push_back(t.id(s));
    return ids;
  }
  using Ids = std::vector<std::string>;
  core::VirtualClock clock_;
  std::set<std::size_t> down_;
};

TEST_F(ConfirmTrackerCellsTest, EachMessageGoesToTheCellItsRouteNames) {
  ConfirmTracker t(Options(10), clock_);
  for (int i = 0; i < 6; ++i) t.Add("x");
  EXPECT_EQ(Take(t, 0), (Ids{"p-3", "p-6"}));
  EXPECT_EQ(Take(t, 1), (Ids{"p-1", "p-4"}));
  EXPECT_EQ(Take(t, 2), (Ids{"p-2", "p-5"}));
  EXPECT_FALSE(t.HasSendable(0));
  EXPECT_EQ(t.counters().moved, 0u);
}

TEST_F(ConfirmTrackerCellsTest, ATimedOutMessageIsSentAgainToTheSameCell) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");  // p-1: cell 1
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));
  clock_.Advance(200ms);
  t.Tick();
  EXPECT_FALSE(t.HasSendable(0));
  EXPECT_FALSE(t.HasSendable(2));
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));  // where it may already be stored: dedup holds
  EXPECT_EQ(t.counters().retried, 1u);
}

TEST_F(ConfirmTrackerCellsTest, ARefusalSendsItToTheNextCellAtOnceWithoutPausing) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");  // p-1 -> cell 1
  t.Add("y");  // p-2 -> cell 2
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));
  const auto out = t.OnError({"p-1"}, ErrorCode::kQueueFull);
  EXPECT_EQ(out.moved_on, 1u);
  EXPECT_EQ(out.retrying, 0u);
  EXPECT_EQ(Take(t, 2), (Ids{"p-2", "p-1"}));  // no backoff: cell 2 takes it now
  EXPECT_EQ(t.counters().moved, 1u);
}

TEST_F(ConfirmTrackerCellsTest, RefusedByEveryCellItBacksOffThenStartsAtItsFirstCellAgain) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");  // p-1: cells 1, 2, 0
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));
  t.OnError({"p-1"}, ErrorCode::kStorageFailed);
  EXPECT_EQ(Take(t, 2), (Ids{"p-1"}));
  t.OnError({"p-1"}, ErrorCode::kShuttingDown);
  EXPECT_EQ(Take(t, 0), (Ids{"p-1"}));
  const auto out = t.OnError({"p-1"}, ErrorCode::kQueueFull);
  EXPECT_EQ(out.retrying, 1u);  // the third refusal: every cell said no
  EXPECT_EQ(out.moved_on, 0u);
  EXPECT_FALSE(t.HasSendable(1));
  clock_.Advance(50ms);
  t.Tick();
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));
}

TEST_F(ConfirmTrackerCellsTest, APermanentRefusalSettlesWithoutMoving) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");
  Take(t, 1);
  const auto out = t.OnError({"p-1"}, ErrorCode::kPermissionDenied);
  EXPECT_EQ(out.refused, 1u);
  EXPECT_EQ(t.unsettled(), 0u);
  EXPECT_FALSE(t.HasSendable(2));
}

TEST_F(ConfirmTrackerCellsTest, EvacuatingADownCellMovesItsQueuedAndInFlightMessages) {
  ConfirmTracker t(Options(10), clock_);
  for (int i = 0; i < 6; ++i) t.Add("x");
  EXPECT_EQ(Take(t, 1), (Ids{"p-1", "p-4"}));  // in flight to cell 1
  t.Add("x");                                  // p-7: queued for cell 1
  down_.insert(1);
  EXPECT_EQ(t.Evacuate(1), 3u);
  EXPECT_FALSE(t.HasSendable(1));
  EXPECT_EQ(Take(t, 2), (Ids{"p-2", "p-5", "p-1", "p-4", "p-7"}));
  EXPECT_EQ(t.counters().moved, 3u);
  // A confirm from the cell that went away still settles them, once.
  EXPECT_EQ(t.OnConfirm("p-1"), ConfirmOutcome::kFirst);
  EXPECT_NE(t.OnConfirm("p-1"), ConfirmOutcome::kFirst);
}

TEST_F(ConfirmTrackerCellsTest, EvacuatingWhenEveryOtherCellIsDownKeepsMessagesWhereTheyAre) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");  // p-1 -> cell 1
  t.Add("x");  // p-2 -> cell 2
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));
  down_ = {0, 1, 2};
  t.Evacuate(1);
  // Nowhere better to go: p-1 is queued again where it was, not duplicated.
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"})) << "in flight: queued again for its own cell";
  EXPECT_EQ(Take(t, 2), (Ids{"p-2"}));
  EXPECT_EQ(t.counters().moved, 0u);
}

TEST_F(ConfirmTrackerCellsTest, ResendInFlightQueuesACellsMessagesAgainAtOnce) {
  ConfirmTracker t(Options(10), clock_);
  t.Add("x");  // p-1 -> 1
  t.Add("x");  // p-2 -> 2
  Take(t, 1);
  Take(t, 2);
  EXPECT_EQ(t.ResendInFlight(1), 1u);
  EXPECT_EQ(Take(t, 1), (Ids{"p-1"}));
  EXPECT_FALSE(t.HasSendable(2));
  // Its old confirm deadline is stale: the timeout counts from the new send only.
  clock_.Advance(199ms);
  t.Tick();
  EXPECT_FALSE(t.HasSendable(1));
}

TEST_F(ConfirmTrackerCellsTest, MessagesQueuedForACellThatComesBackStayItsOwn) {
  ConfirmTracker t(Options(10), clock_);
  down_.insert(1);
  t.Add("x");  // p-1 prefers 1: placed on 2 while 1 is down
  EXPECT_EQ(Take(t, 2), (Ids{"p-1"}));
  down_.clear();
  t.Add("x");  // p-2 -> 2
  t.Add("x");  // p-3 -> 0
  t.Add("x");  // p-4 -> 1 again
  EXPECT_EQ(Take(t, 1), (Ids{"p-4"}));
  // p-1's timeout re-send goes where it went (cell 2 may hold it), not back to cell 1.
  clock_.Advance(200ms);
  t.Tick();
  EXPECT_EQ(Take(t, 2), (Ids{"p-2", "p-1"}));
}

}  // namespace
}  // namespace mandrill::publisher
