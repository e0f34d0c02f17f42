// DedupIndex: ids are deduplicated per queue while live and for the window after they settle;
// each id is stored once, and the number of settled ids is bounded.
#include "broker/dedup_index.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker/queue.h"
#include "shared/core/clock.h"

namespace mandrill::broker {
namespace {

using namespace std::chrono_literals;

class DedupIndexTest : public ::testing::Test {
 protected:
  ~DedupIndexTest() override {
    for (Message* m : messages_) FreeMessage(m);
  }
  Message* Msg(const std::string& id, Queue* q = nullptr) {
    Message* m = NewMessage(messages_.size() + 1, id, "payload", "", 0);
    m->queue = q == nullptr ? &q_ : q;
    messages_.push_back(m);
    return m;
  }
  DedupIndex::Hit Find(const std::string& id) { return index_.Find(&q_, id); }
  void Prune() {
    std::vector<Queue*> released;
    index_.Prune(clock_.Now(), &released);
  }

  core::VirtualClock clock_;
  Queue q_{"restarts"};
  Queue other_{"saves"};
  DedupIndex index_{10min, 1'000'000};
  std::vector<Message*> messages_;
};

TEST_F(DedupIndexTest, LiveIdIsFoundWithItsMessage) {
  Message* m = Msg("a");
  index_.AddLive(m);
  auto hit = Find("a");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, m);
  EXPECT_FALSE(Find("b").found);
  EXPECT_EQ(index_.size(), 1u);
}

TEST_F(DedupIndexTest, LiveIdIsNeverPruned) {
  index_.AddLive(Msg("a"));
  clock_.Advance(24h);
  Prune();
  EXPECT_TRUE(Find("a").found);
}

TEST_F(DedupIndexTest, SettledIdIsFoundUntilTheWindowPassesThenPruned) {
  Message* m = Msg("a");
  index_.AddLive(m);
  index_.Settle(m, clock_.Now());
  auto hit = Find("a");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, nullptr);
  EXPECT_EQ(q_.dedup_ids, 1u);

  clock_.Advance(10min - 1ms);
  Prune();
  EXPECT_TRUE(Find("a").found) << "still inside the window";

  clock_.Advance(1ms);
  std::vector<Queue*> released;
  index_.Prune(clock_.Now(), &released);
  EXPECT_FALSE(Find("a").found) << "pruned once the window has passed";
  EXPECT_EQ(index_.size(), 0u);
  EXPECT_EQ(q_.dedup_ids, 0u);
  EXPECT_EQ(released, (std::vector<Queue*>{&q_})) << "the queue's last remembered id went";
}

TEST_F(DedupIndexTest, PruneKeepsIdsSettledLater) {
  Message* a = Msg("a");
  Message* b = Msg("b");
  index_.AddLive(a);
  index_.AddLive(b);
  index_.Settle(a, clock_.Now());
  clock_.Advance(5min);
  index_.Settle(b, clock_.Now());
  clock_.Advance(5min);
  Prune();
  EXPECT_FALSE(Find("a").found);
  EXPECT_TRUE(Find("b").found);
  clock_.Advance(5min);
  Prune();
  EXPECT_FALSE(Find("b").found);
}

TEST_F(DedupIndexTest, RemoveLiveDropsTheIdAtOnce) {
  Message* m = Msg("a");
  index_.AddLive(m);
  index_.RemoveLive(m);
  EXPECT_FALSE(Find("a").found);
  EXPECT_EQ(index_.size(), 0u);
  index_.RemoveLive(m);  // idempotent
  EXPECT_EQ(index_.size(), 0u);
}

TEST_F(DedupIndexTest, AddSettledRemembersTheIdUntilItsExplicitExpiry) {
  index_.AddSettled(&q_, "r", clock_.Now() + 30s);
  auto hit = Find("r");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, nullptr);
  clock_.Advance(30s - 1ms);
  Prune();
  EXPECT_TRUE(Find("r").found);
  clock_.Advance(1ms);
  Prune();
  EXPECT_FALSE(Find("r").found);
}

TEST_F(DedupIndexTest, IdRepublishedAfterPruningIsLiveAgain) {
  Message* first = Msg("a");
  index_.AddLive(first);
  index_.Settle(first, clock_.Now());
  clock_.Advance(10min);
  Prune();
  ASSERT_FALSE(Find("a").found);

  Message* second = Msg("a");
  index_.AddLive(second);
  auto hit = Find("a");
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.live, second);
  clock_.Advance(1h);
  Prune();
  EXPECT_EQ(Find("a").live, second) << "live again: not pruned";
}

TEST_F(DedupIndexTest, StaleExpiryEntryDoesNotPruneAnIdSettledAgainLater) {
  // "a" is remembered until +1 min, then again until +5 min: the first record must not
  // remove the renewed one.
  index_.AddSettled(&q_, "a", clock_.Now() + 1min);
  index_.AddSettled(&q_, "a", clock_.Now() + 5min);
  clock_.Advance(1min);
  Prune();
  EXPECT_TRUE(Find("a").found);
  clock_.Advance(4min);
  Prune();
  EXPECT_FALSE(Find("a").found);
}

TEST_F(DedupIndexTest, IdsAreCaseSensitiveAndExact) {
  index_.AddLive(Msg("Host-1"));
  EXPECT_FALSE(Find("host-1").found);
  EXPECT_FALSE(Find("Host-1 ").found);
  EXPECT_TRUE(Find("Host-1").found);
}

TEST_F(DedupIndexTest, TheSameIdInAnotherQueueIsAnotherMessage) {
  Message* a = Msg("req-42");
  index_.AddLive(a);
  EXPECT_FALSE(index_.Find(&other_, "req-42").found);
  Message* b = Msg("req-42", &other_);
  index_.AddLive(b);
  EXPECT_EQ(index_.Find(&other_, "req-42").live, b);
  EXPECT_EQ(Find("req-42").live, a);
}

TEST_F(DedupIndexTest, PastTheBoundTheOldestSettledIdsAreForgottenEarly) {
  DedupIndex small(10min, 3);
  std::vector<Message*> ms;
  for (int i = 0; i < 5; ++i) {
    Message* m = Msg("id-" + std::to_string(i));
    small.AddLive(m);
    ms.push_back(m);
  }
  for (Message* m : ms) small.Settle(m, clock_.Now());
  EXPECT_EQ(small.settled(), 3u);
  EXPECT_EQ(small.evicted(), 2);
  EXPECT_FALSE(small.Find(&q_, "id-0").found);
  EXPECT_FALSE(small.Find(&q_, "id-1").found);
  for (int i = 2; i < 5; ++i) EXPECT_TRUE(small.Find(&q_, "id-" + std::to_string(i)).found);
  EXPECT_EQ(q_.dedup_ids, 3u);
  std::vector<Queue*> released;
  clock_.Advance(10min);
  small.Prune(clock_.Now(), &released);
  EXPECT_EQ(small.settled(), 0u);
  EXPECT_EQ(q_.dedup_ids, 0u);
}

TEST_F(DedupIndexTest, ArenaBlocksAreGivenBackAsIdsExpire) {
  for (int i = 0; i < 20'000; ++i) {
    index_.AddSettled(&q_, "cattle-host-" + std::to_string(i), clock_.Now() + 1min);
  }
  const auto full = index_.arena_bytes();
  EXPECT_GT(full, 20'000u * 16) << "every id is stored";
  EXPECT_LT(full, 20'000u * 64) << "about one small record per id";
  clock_.Advance(1min);
  Prune();
  EXPECT_EQ(index_.size(), 0u);
  EXPECT_LE(index_.arena_bytes(), 64u * 1024) << "at most one block kept for reuse";
}

}  // namespace
}  // namespace mandrill::broker
