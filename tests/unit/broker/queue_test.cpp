// Queue: owns its messages and keeps each in one place (ready, deferred, dead).
#include "broker/queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace mandrill::broker {
namespace {

using namespace std::chrono_literals;

class QueueTest : public ::testing::Test {
 protected:
  StoredMessage* Add(const std::string& id) {
    auto m = std::make_unique<StoredMessage>();
    m->seq = ++seq_;
    m->id = id;
    return queue_.Adopt(std::move(m));
  }
  std::vector<std::string> DrainReady() {
    std::vector<std::string> out;
    while (StoredMessage* m = queue_.PopReady()) out.push_back(m->id);
    return out;
  }

  Queue queue_{"jobs", 10min};
  std::uint64_t seq_ = 0;
  const core::SteadyTime t0_{std::chrono::hours(1)};
};

TEST_F(QueueTest, AdoptedMessageBelongsToTheQueueIsDeduplicatedAndCountsInDepth) {
  StoredMessage* m = Add("a");
  EXPECT_EQ(m->queue, &queue_);
  EXPECT_EQ(queue_.dedup.Find("a").live, m) << "its id is live in the queue's dedup index";
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(queue_.depth(), 1u);
  EXPECT_FALSE(queue_.HasReady());
  EXPECT_EQ(queue_.PopReady(), nullptr);
}

TEST_F(QueueTest, ReadyOrderIsBackForNewAndFrontForReturned) {
  StoredMessage* a = Add("a");
  StoredMessage* b = Add("b");
  StoredMessage* c = Add("c");
  queue_.PushReady(a, false);
  queue_.PushReady(b, false);
  queue_.PushReady(c, /*front=*/true);
  EXPECT_EQ(c->state, MessageState::kReady);
  EXPECT_EQ(queue_.ready_count(), 3u);
  EXPECT_TRUE(queue_.HasReady());
  EXPECT_EQ(DrainReady(), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(queue_.ready_count(), 0u);
}

TEST_F(QueueTest, ReleaseDueMovesOnlyMessagesWhoseTimeHasCome) {
  StoredMessage* a = Add("a");
  StoredMessage* b = Add("b");
  queue_.Defer(a, t0_ + 100ms);
  queue_.Defer(b, t0_ + 200ms);
  EXPECT_EQ(a->state, MessageState::kDeferred);
  EXPECT_EQ(queue_.deferred_count(), 2u);
  EXPECT_EQ(queue_.NextDeferred(), t0_ + 100ms);

  EXPECT_EQ(queue_.ReleaseDue(t0_ + 99ms), 0u);
  EXPECT_EQ(queue_.ReleaseDue(t0_ + 100ms), 1u) << "due exactly at not_before";
  EXPECT_EQ(a->state, MessageState::kReady);
  EXPECT_EQ(queue_.NextDeferred(), t0_ + 200ms);
  EXPECT_EQ(DrainReady(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(queue_.ReleaseDue(t0_ + 1h), 1u);
  EXPECT_FALSE(queue_.NextDeferred().has_value());
  EXPECT_EQ(DrainReady(), (std::vector<std::string>{"b"}));
}

TEST_F(QueueTest, DeferredMessagesComeDueInTimeOrderWhateverTheDeferOrder) {
  StoredMessage* a = Add("a");
  StoredMessage* b = Add("b");
  StoredMessage* c = Add("c");
  StoredMessage* d = Add("d");
  queue_.Defer(d, t0_ + 400ms);
  queue_.Defer(b, t0_ + 200ms);
  queue_.Defer(c, t0_ + 300ms);
  queue_.Defer(a, t0_ + 100ms);
  std::vector<std::string> order;
  for (auto t : {100ms, 200ms, 300ms, 400ms}) {
    ASSERT_EQ(queue_.NextDeferred(), t0_ + t);
    ASSERT_EQ(queue_.ReleaseDue(t0_ + t), 1u);
    for (auto& id : DrainReady()) order.push_back(id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(queue_.deferred_count(), 0u);
}

TEST_F(QueueTest, ReleasedMessagesAreReadyInDueThenSeqOrderAheadOfTheBacklog) {
  StoredMessage* backlog = Add("backlog");
  StoredMessage* a = Add("a");  // seq 2
  StoredMessage* b = Add("b");  // seq 3
  StoredMessage* c = Add("c");  // seq 4
  queue_.PushReady(backlog, false);
  queue_.Defer(c, t0_ + 100ms);
  queue_.Defer(b, t0_ + 200ms);
  queue_.Defer(a, t0_ + 200ms);
  ASSERT_EQ(queue_.ReleaseDue(t0_ + 1s), 3u);
  const auto order = DrainReady();
  // Regression: released one by one to the front, they used to end up in reverse order.
  EXPECT_EQ(order, (std::vector<std::string>{"c", "a", "b", "backlog"}));
}

TEST_F(QueueTest, BuryExhumeAndFindDead) {
  StoredMessage* a = Add("a");
  StoredMessage* b = Add("b");
  queue_.Bury(a, "boom", 1234);
  EXPECT_EQ(a->state, MessageState::kDead);
  EXPECT_EQ(a->last_error, "boom");
  EXPECT_EQ(a->dead_at_unix_ms, 1234);
  EXPECT_EQ(queue_.FindDead("a"), a);
  EXPECT_EQ(queue_.FindDead("b"), nullptr);
  EXPECT_EQ(queue_.dead().size(), 1u);

  EXPECT_EQ(queue_.Exhume(b->seq), nullptr) << "b is not dead";
  EXPECT_EQ(queue_.Exhume(a->seq), a);
  EXPECT_TRUE(queue_.dead().empty());
  EXPECT_EQ(queue_.Exhume(a->seq), nullptr) << "only once";
  queue_.PushReady(a, false);  // requeued, as DLQ_REQUEUE does
  EXPECT_EQ(queue_.FindDead("a"), nullptr);
  EXPECT_EQ(queue_.ready_count(), 1u);
}

TEST_F(QueueTest, DeadListIsInSeqOrder) {
  StoredMessage* a = Add("a");
  StoredMessage* b = Add("b");
  StoredMessage* c = Add("c");
  queue_.Bury(c, "x", 1);
  queue_.Bury(a, "x", 2);
  queue_.Bury(b, "x", 3);
  std::vector<std::string> ids;
  for (const auto& [seq, m] : queue_.dead()) ids.push_back(m->id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(QueueTest, DepthExcludesDeadLetters) {
  StoredMessage* a = Add("a");
  StoredMessage* b = Add("b");
  StoredMessage* c = Add("c");
  Add("pending");
  queue_.PushReady(a, false);
  queue_.Defer(b, t0_ + 1s);
  queue_.Bury(c, "poison", 0);
  EXPECT_EQ(queue_.size(), 4u);
  EXPECT_EQ(queue_.depth(), 3u) << "ready + deferred + pending, not dead";
  EXPECT_EQ(queue_.ready_count(), 1u);
  EXPECT_EQ(queue_.deferred_count(), 1u);
}

TEST_F(QueueTest, EraseDeletesASettledMessage) {
  StoredMessage* a = Add("a");
  Add("b");
  a->state = MessageState::kSettled;
  queue_.dedup.Settle(a, t0_);
  queue_.Erase(a);
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(queue_.depth(), 1u);
}

}  // namespace
}  // namespace mandrill::broker
