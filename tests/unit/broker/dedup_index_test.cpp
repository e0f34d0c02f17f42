// DedupIndex: ids are deduplicated while live and for the window after they settle.
#include "broker/dedup_index.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker/stored_message.h"
#include "shared/core/clock.h"

namespace mandrill::broker {
namespace {

using namespace std::chrono_literals;

class DedupIndexTest : public ::testing::Test {
 protected:
  StoredMessage* Message(const std::string& id) {
    auto m = std::make_unique<StoredMessage>();
    m->id = id;
    messages_.push_back(std::move(m));
    return messages_.back().get();
  }

  core::FakeClock clock_;
  DedupIndex index_{10min};
  std::vector<std::unique_ptr<StoredMessage>> messages_;
};

TEST_F(DedupIndexTest, LiveIdIsFoundWithItsMessage) {
  StoredMessage* m = Message("a");
  index_.AddLive(m);
  auto hit = index_.Find("a");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, m);
  EXPECT_FALSE(index_.Find("b").found);
  EXPECT_EQ(index_.size(), 1u);
}

TEST_F(DedupIndexTest, LiveIdIsNeverPruned) {
  index_.AddLive(Message("a"));
  clock_.Advance(24h);
  index_.Prune(clock_.Now());
  EXPECT_TRUE(index_.Find("a").found);
}

TEST_F(DedupIndexTest, SettledIdIsFoundUntilTheWindowPassesThenPruned) {
  StoredMessage* m = Message("a");
  index_.AddLive(m);
  index_.Settle(m, clock_.Now());
  auto hit = index_.Find("a");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, nullptr);

  clock_.Advance(10min - 1ms);
  index_.Prune(clock_.Now());
  EXPECT_TRUE(index_.Find("a").found) << "still inside the window";

  clock_.Advance(1ms);
  index_.Prune(clock_.Now());
  EXPECT_FALSE(index_.Find("a").found) << "pruned once the window has passed";
  EXPECT_EQ(index_.size(), 0u);
}

TEST_F(DedupIndexTest, PruneKeepsIdsSettledLater) {
  StoredMessage* a = Message("a");
  StoredMessage* b = Message("b");
  index_.AddLive(a);
  index_.AddLive(b);
  index_.Settle(a, clock_.Now());
  clock_.Advance(5min);
  index_.Settle(b, clock_.Now());
  clock_.Advance(5min);
  index_.Prune(clock_.Now());
  EXPECT_FALSE(index_.Find("a").found);
  EXPECT_TRUE(index_.Find("b").found);
  clock_.Advance(5min);
  index_.Prune(clock_.Now());
  EXPECT_FALSE(index_.Find("b").found);
}

TEST_F(DedupIndexTest, ForgetDropsTheIdAtOnce) {
  StoredMessage* m = Message("a");
  index_.AddLive(m);
  index_.Forget(m);
  EXPECT_FALSE(index_.Find("a").found);
  EXPECT_EQ(index_.size(), 0u);
  index_.Forget(m);  // idempotent
  EXPECT_EQ(index_.size(), 0u);
}

TEST_F(DedupIndexTest, AddSettledRemembersTheIdUntilItsExplicitExpiry) {
  index_.AddSettled("r", clock_.Now() + 30s);
  auto hit = index_.Find("r");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, nullptr);
  clock_.Advance(30s - 1ms);
  index_.Prune(clock_.Now());
  EXPECT_TRUE(index_.Find("r").found);
  clock_.Advance(1ms);
  index_.Prune(clock_.Now());
  EXPECT_FALSE(index_.Find("r").found);
}

TEST_F(DedupIndexTest, IdRepublishedAfterPruningIsLiveAgain) {
  StoredMessage* first = Message("a");
  index_.AddLive(first);
  index_.Settle(first, clock_.Now());
  clock_.Advance(10min);
  index_.Prune(clock_.Now());
  ASSERT_FALSE(index_.Find("a").found);

  StoredMessage* second = Message("a");
  index_.AddLive(second);
  auto hit = index_.Find("a");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, second);
  clock_.Advance(1h);
  index_.Prune(clock_.Now());
  EXPECT_EQ(index_.Find("a").live, second) << "live again: not pruned";
}

TEST_F(DedupIndexTest, StaleExpiryEntryDoesNotPruneAnIdSettledAgainLater) {
  // "a" is remembered until +1 min, then again until +5 min: the first expiry entry must not
  // remove the renewed one.
  index_.AddSettled("a", clock_.Now() + 1min);
  index_.AddSettled("a", clock_.Now() + 5min);
  clock_.Advance(1min);
  index_.Prune(clock_.Now());
  EXPECT_TRUE(index_.Find("a").found);
  clock_.Advance(4min);
  index_.Prune(clock_.Now());
  EXPECT_FALSE(index_.Find("a").found);
}

TEST_F(DedupIndexTest, IdsAreCaseSensitiveAndExact) {
  index_.AddLive(Message("Host-1"));
  EXPECT_FALSE(index_.Find("host-1").found);
  EXPECT_FALSE(index_.Find("Host-1 ").found);
  EXPECT_TRUE(index_.Find("Host-1").found);
}

}  // namespace
}  // namespace mandrill::broker
