// CellFanout: a worker of several cells sees one stream of leases; settlements go back to the
// cell that issued each lease; one cell's losses stay its own; the credit follows the depths.
#include "worker/net/cell_fanout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace mandrill::worker {
namespace {

using namespace std::chrono_literals;

protocol::DeliverItem CellItem(std::uint64_t lease_id, std::string id) {
  protocol::DeliverItem item;
  item.lease_id = lease_id;
  item.id = std::move(id);
  item.queue = "q";
  return item;
}

// The loop side: records what reaches the loop.
class LoopSide final : public DeliverySink {
 public:
  bool OnDeliveries(std::vector<protocol::DeliverItem>& items) override {
    if (refuse) return false;
    for (const auto& i : items) taken.push_back(i);
    items.clear();
    return true;
  }
  void OnLeasesLost(std::vector<std::uint64_t> leases) override {
    lost.insert(lost.end(), leases.begin(), leases.end());
  }
  void OnSessionLost(std::string) override { ++sessions_lost; }
  void OnExtended(std::vector<protocol::ExtendedItem> items) override {
    extended.insert(extended.end(), items.begin(), items.end());
  }
  void OnWelcome(const protocol::Welcome& w) override { welcomes.push_back(w); }
  void OnNetStopped(std::string reason, bool failed) override {
    stops.push_back(reason);
    stop_failed = failed;
  }

  bool refuse = false;
  std::vector<protocol::DeliverItem> taken;
  std::vector<std::uint64_t> lost;
  std::vector<protocol::ExtendedItem> extended;
  std::vector<protocol::Welcome> welcomes;
  std::vector<std::string> stops;
  bool stop_failed = false;
  int sessions_lost = 0;
};

class CellFanoutTest : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kConcurrency = 12;

  CellFanoutTest()
      : fanout_({"cell-1", "cell-2", "cell-3"}, loop_,
                {&settlements_[0], &settlements_[1], &settlements_[2]}, kConcurrency, 3s, clock_) {}

  void Welcome(std::size_t cell, const std::string& broker_id) {
    protocol::Welcome w;
    w.broker_id = broker_id;
    w.lease_ms = 30'000;
    fanout_.sink(cell).OnWelcome(w);
  }
  // Delivers leases `ids` from `cell`; returns the local ids the loop saw.
  std::vector<std::uint64_t> Deliver(std::size_t cell, std::vector<std::uint64_t> ids) {
    std::vector<protocol::DeliverItem> items;
    for (auto id : ids) items.push_back(CellItem(id, "m" + std::to_string(id)));
    const std::size_t before = loop_.taken.size();
    EXPECT_TRUE(fanout_.sink(cell).OnDeliveries(items));
    std::vector<std::uint64_t> local;
    for (std::size_t i = before; i < loop_.taken.size(); ++i)
      local.push_back(loop_.taken[i].lease_id);
    return local;
  }
  SettlementBatch Taken(std::size_t cell) { return settlements_[cell].Take(); }
  std::uint32_t TotalCredit() {
    const auto c = fanout_.credits();
    return std::accumulate(c.begin(), c.end(), 0u);
  }

  core::VirtualClock clock_;
  LoopSide loop_;
  Settlements settlements_[3];
  CellFanout fanout_;
};

TEST_F(CellFanoutTest, TheSameLeaseIdFromTwoCellsIsTwoLeasesAndEachAckGoesHome) {
  Welcome(0, "b1");
  Welcome(1, "b2");
  const auto a = Deliver(0, {7, 8});
  const auto b = Deliver(1, {7});  // cell-2 happens to issue 7 too
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(a[0], b[0]);
  EXPECT_EQ(loop_.taken[2].id, "m7");
  SettlementBatch batch;
  batch.acks = {b[0], a[1]};
  batch.nacks.push_back({a[0], 500, "boom"});
  fanout_.Add(std::move(batch));
  const auto one = Taken(0);
  const auto two = Taken(1);
  EXPECT_EQ(one.acks, (std::vector<std::uint64_t>{8}));
  ASSERT_EQ(one.nacks.size(), 1u);
  EXPECT_EQ(one.nacks[0].lease_id, 7u);
  EXPECT_EQ(one.nacks[0].reason, "boom");
  EXPECT_EQ(two.acks, (std::vector<std::uint64_t>{7}));
  EXPECT_TRUE(Taken(2).acks.empty());
  // Settled: a second ack of the same local id goes nowhere.
  SettlementBatch again;
  again.acks = {b[0]};
  fanout_.Add(std::move(again));
  EXPECT_TRUE(Taken(1).acks.empty());
}

TEST_F(CellFanoutTest, ExtendsAndTheirAnswersAreTranslatedBothWays) {
  Welcome(2, "b3");
  const auto local = Deliver(2, {41});
  SettlementBatch batch;
  batch.extends[20'000] = {local[0]};
  fanout_.Add(std::move(batch));
  EXPECT_EQ(Taken(2).extends.at(20'000), (std::vector<std::uint64_t>{41}));
  fanout_.sink(2).OnExtended({protocol::ExtendedItem{41, 20'000}, protocol::ExtendedItem{99, 1}});
  ASSERT_EQ(loop_.extended.size(), 1u);  // 99 is no lease of ours
  EXPECT_EQ(loop_.extended[0].lease_id, local[0]);
}

TEST_F(CellFanoutTest, ACellThatForgetsTheWorkerLosesOnlyItsOwnLeases) {
  Welcome(0, "b1");
  Welcome(1, "b2");
  const auto a = Deliver(0, {1, 2});
  const auto b = Deliver(1, {3});
  fanout_.sink(0).OnSessionLost("not ready");
  EXPECT_EQ(loop_.sessions_lost, 0) << "the loop must not drop cell-2's lease";
  auto lost = loop_.lost;
  std::sort(lost.begin(), lost.end());
  EXPECT_EQ(lost, a);
  // cell-2's lease still settles at home.
  SettlementBatch batch;
  batch.acks = {b[0]};
  fanout_.Add(std::move(batch));
  EXPECT_EQ(Taken(1).acks, (std::vector<std::uint64_t>{3}));
}

TEST_F(CellFanoutTest, ARestartedCellLosesItsLeasesAndTheLoopSeesOneBrokerThatNeverRestarts) {
  Welcome(0, "b1");
  Welcome(1, "b2");
  const auto a = Deliver(0, {1});
  Deliver(1, {2});
  Welcome(0, "b1-after-restart");
  EXPECT_EQ(loop_.lost, a);
  ASSERT_EQ(loop_.welcomes.size(), 3u);
  for (const auto& w : loop_.welcomes) EXPECT_EQ(w.broker_id, loop_.welcomes.front().broker_id);
  EXPECT_EQ(loop_.welcomes.back().lease_ms, 30'000u);
  // Lost leases of a cell, by its ids, reach the loop as local ids.
  const auto c = Deliver(1, {5});
  fanout_.sink(1).OnLeasesLost({5, 6});
  EXPECT_EQ(loop_.lost.back(), c[0]);
  EXPECT_EQ(loop_.lost.size(), 2u);
}

TEST_F(CellFanoutTest, ARefusedBatchKeepsItsCellsIdsForTheRetry) {
  Welcome(0, "b1");
  loop_.refuse = true;
  std::vector<protocol::DeliverItem> items{CellItem(11, "a"), CellItem(12, "b")};
  EXPECT_FALSE(fanout_.sink(0).OnDeliveries(items));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].lease_id, 11u);
  EXPECT_EQ(items[1].lease_id, 12u);
  loop_.refuse = false;
  EXPECT_TRUE(fanout_.sink(0).OnDeliveries(items));
  SettlementBatch batch;
  batch.acks = {loop_.taken[0].lease_id};
  fanout_.Add(std::move(batch));
  EXPECT_EQ(Taken(0).acks, (std::vector<std::uint64_t>{11}));
}

TEST_F(CellFanoutTest, CreditFollowsTheDepthsAndNeverExceedsTheConcurrency) {
  for (std::size_t k = 0; k < 3; ++k) Welcome(k, "b" + std::to_string(k));
  EXPECT_EQ(TotalCredit(), kConcurrency);  // no depth yet: shared by the connected cells
  fanout_.sink(0).OnReadyDepth(10'000);
  fanout_.sink(1).OnReadyDepth(0);
  fanout_.sink(2).OnReadyDepth(0);
  auto c = fanout_.credits();
  EXPECT_LE(TotalCredit(), kConcurrency);
  EXPECT_GT(c[0], c[1]) << "the deep cell is drained";
  EXPECT_GT(c[0], c[2]);
  // Each cell's Settlements was told its share.
  EXPECT_EQ(Taken(0).credit, c[0]);
  // The loop drains: every cell gets 0.
  SettlementBatch drain;
  drain.credit = 0;
  fanout_.Add(std::move(drain));
  EXPECT_EQ(fanout_.credits(), (std::vector<std::uint32_t>{0, 0, 0}));
  EXPECT_EQ(Taken(1).credit, 0u);
}

TEST_F(CellFanoutTest, ASilentCellsCreditGoesToTheOthers) {
  for (std::size_t k = 0; k < 3; ++k) Welcome(k, "b" + std::to_string(k));
  for (std::size_t k = 0; k < 3; ++k) fanout_.sink(k).OnReadyDepth(1000);
  EXPECT_GT(fanout_.credits()[2], 0u);
  // cell-3 goes quiet; the others keep reporting.
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(1s);
    fanout_.sink(0).OnReadyDepth(1000);
    fanout_.sink(1).OnReadyDepth(1000);
  }
  const auto c = fanout_.credits();
  EXPECT_EQ(c[2], 0u);
  EXPECT_EQ(c[0] + c[1], kConcurrency);
  // It is back: it gets its share again.
  fanout_.sink(2).OnReadyDepth(1000);
  EXPECT_GT(fanout_.credits()[2], 0u);
}

TEST_F(CellFanoutTest, CloseReachesEveryCellAndOnlyTheLastStopIsReported) {
  SettlementBatch close;
  close.close = true;
  fanout_.Add(std::move(close));
  for (std::size_t k = 0; k < 3; ++k) EXPECT_TRUE(Taken(k).close);
  fanout_.sink(0).OnNetStopped("closed", false);
  fanout_.sink(1).OnNetStopped("closed", false);
  EXPECT_TRUE(loop_.stops.empty());
  fanout_.sink(2).OnNetStopped("closed", false);
  EXPECT_EQ(loop_.stops.size(), 1u);
  EXPECT_FALSE(loop_.stop_failed);
}

TEST_F(CellFanoutTest, ANetworkThreadThatFailsStopsTheWorkerAtOnce) {
  fanout_.sink(1).OnNetStopped("cannot connect", true);
  ASSERT_EQ(loop_.stops.size(), 1u);
  EXPECT_TRUE(loop_.stop_failed);
  EXPECT_NE(loop_.stops[0].find("cell 2"), std::string::npos) << loop_.stops[0];
}

TEST_F(CellFanoutTest, InitialCreditsShareTheConcurrencyEvenly) {
  std::uint32_t sum = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(fanout_.initial_credit(k), 4u);
    sum += fanout_.initial_credit(k);
  }
  EXPECT_EQ(sum, kConcurrency);
}

}  // namespace
}  // namespace mandrill::worker
