#include "shared/cells/credit_split.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <vector>

namespace mandrill::cells {
namespace {

std::uint64_t Held(const std::vector<CellLoad>& cells, const std::vector<std::uint32_t>& credit) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cells[i].connected) sum += std::max(credit[i], cells[i].in_flight);
  }
  return sum;
}

TEST(CreditSplitTest, SharesByReadyDepth) {
  // 100 to share; depths 3000 : 1000 : 0.
  const std::vector<CellLoad> cells = {{true, 3000, 0}, {true, 1000, 0}, {true, 0, 0}};
  const auto credit = SplitCredit(100, cells);
  EXPECT_EQ(credit, (std::vector<std::uint32_t>{75, 25, 0}));
}

TEST(CreditSplitTest, AShallowCellStillGetsOneAndNeverMoreThanItHolds) {
  EXPECT_EQ(SplitCredit(64, {{true, 5000, 0}, {true, 2, 0}}), (std::vector<std::uint32_t>{63, 1}));
  // Depth 2 and 3 with 64 to give: each gets its depth, the rest cannot be used by either and,
  // with no empty cell to take it, goes to them beyond their depth (more may arrive).
  const auto credit = SplitCredit(64, {{true, 2, 0}, {true, 3, 0}});
  EXPECT_EQ(credit[0] + credit[1], 64u);
  EXPECT_GE(credit[0], 2u);
  EXPECT_GE(credit[1], 3u);
  // Concurrency 1, two deep cells: the deeper one.
  EXPECT_EQ(SplitCredit(1, {{true, 10, 0}, {true, 500, 0}}), (std::vector<std::uint32_t>{0, 1}));
}

TEST(CreditSplitTest, WhenEveryCellIsEmptyCreditIsSpreadEvenly) {
  const std::vector<CellLoad> cells = {{true, 0, 0}, {true, 0, 0}, {true, 0, 0}};
  const auto credit = SplitCredit(10, cells);
  EXPECT_EQ(std::accumulate(credit.begin(), credit.end(), 0u), 10u);
  for (auto c : credit) EXPECT_TRUE(c == 3 || c == 4) << c;
}

TEST(CreditSplitTest, CreditNoDeepCellCanUseGoesToTheEmptyOnes) {
  // Depth 4 in all, concurrency 20: 4 to the deep cell, the other 16 evenly to the empty ones.
  const std::vector<CellLoad> cells = {{true, 4, 0}, {true, 0, 0}, {true, 0, 0}};
  EXPECT_EQ(SplitCredit(20, cells), (std::vector<std::uint32_t>{4, 8, 8}));
}

TEST(CreditSplitTest, HeldLeasesAreKeptAndADisconnectedCellGetsNothing) {
  const std::vector<CellLoad> cells = {{true, 100, 6}, {false, 900, 3}, {true, 100, 2}};
  const auto credit = SplitCredit(10, cells);
  EXPECT_EQ(credit[1], 0u);
  EXPECT_GE(credit[0], 6u);
  EXPECT_GE(credit[2], 2u);
  EXPECT_EQ(credit[0] + credit[2], 10u);
  EXPECT_EQ(credit, (std::vector<std::uint32_t>{7, 0, 3}));
}

TEST(CreditSplitTest, NeverMoreThanTheConcurrencyInAll) {
  std::mt19937 rng(7);
  for (int round = 0; round < 5000; ++round) {
    const std::uint32_t concurrency = 1 + rng() % 300;
    std::vector<CellLoad> cells(1 + rng() % 10);
    std::uint32_t held = 0;
    for (auto& c : cells) {
      c.connected = rng() % 5 != 0;
      c.ready = rng() % 3 == 0 ? 0 : rng() % 10'000;
      c.in_flight = rng() % 4 == 0 ? rng() % 20 : 0;
      if (c.connected) held += c.in_flight;
    }
    const auto credit = SplitCredit(concurrency, cells);
    ASSERT_EQ(credit.size(), cells.size());
    const std::uint64_t limit = std::max<std::uint64_t>(concurrency, held);
    ASSERT_LE(Held(cells, credit), limit) << "round " << round;
    bool any_connected = false;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (!cells[i].connected) {
        ASSERT_EQ(credit[i], 0u);
      }
      any_connected = any_connected || cells[i].connected;
    }
    // Nothing is stranded: all of the concurrency is handed out while a cell is connected.
    if (any_connected) {
      ASSERT_EQ(Held(cells, credit), limit) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace mandrill::cells
