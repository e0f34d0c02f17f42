// Queue: its ready list (new at the back, returned at the front), its dead letters, and the
// counts of what other structures hold for it.
#include "broker/queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mandrill::broker {
namespace {

class QueueTest : public ::testing::Test {
 protected:
  ~QueueTest() override {
    for (Message* m : loose_) FreeMessage(m);
  }
  // A message of the queue that is on none of its lists yet.
  Message* Add(const std::string& id) {
    Message* m = NewMessage(++seq_, id, "payload of " + id, "", 0);
    m->queue = &queue_;
    return m;
  }
  std::vector<std::string> DrainReady() {
    std::vector<std::string> out;
    while (Message* m = queue_.PopReady()) {
      out.emplace_back(m->id());
      loose_.push_back(m);
    }
    return out;
  }

  Queue queue_{"jobs"};
  std::uint64_t seq_ = 0;
  std::vector<Message*> loose_;  // taken off the queue's lists: freed by the test
};

TEST_F(QueueTest, ReadyOrderIsBackForNewAndFrontForReturned) {
  Message* a = Add("a");
  Message* b = Add("b");
  Message* c = Add("c");
  queue_.PushReady(a, false);
  queue_.PushReady(b, false);
  queue_.PushReady(c, /*front=*/true);
  EXPECT_EQ(c->state, MessageState::kReady);
  EXPECT_EQ(queue_.ready_count(), 3u);
  EXPECT_TRUE(queue_.HasReady());
  EXPECT_EQ(queue_.FrontReady(), c);
  EXPECT_EQ(DrainReady(), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(queue_.ready_count(), 0u);
  EXPECT_EQ(queue_.PopReady(), nullptr);
}

TEST_F(QueueTest, TakeReadyRemovesFromTheMiddle) {
  Message* a = Add("a");
  Message* b = Add("b");
  Message* c = Add("c");
  for (Message* m : {a, b, c}) queue_.PushReady(m, false);
  queue_.TakeReady(b);
  loose_.push_back(b);
  EXPECT_EQ(queue_.NextReady(a), c);
  EXPECT_EQ(DrainReady(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(QueueTest, BuryKeepsTheReasonAndTimeAndExhumeTakesItBack) {
  Message* a = Add("a");
  queue_.Bury(a, "boom", 1234);
  EXPECT_EQ(a->state, MessageState::kDead);
  EXPECT_EQ(a->last_error(), "boom");
  EXPECT_EQ(a->dead_at_unix_ms(), 1234);
  EXPECT_EQ(queue_.OldestDead(), a);
  EXPECT_EQ(queue_.dead_count(), 1u);

  queue_.Exhume(a);
  EXPECT_EQ(queue_.dead_count(), 0u);
  EXPECT_EQ(queue_.OldestDead(), nullptr);
  queue_.PushReady(a, false);  // requeued, as DLQ_REQUEUE does
  EXPECT_EQ(queue_.ready_count(), 1u);
  EXPECT_EQ(a->last_error(), "boom") << "the last error stays with the message";
}

TEST_F(QueueTest, DeadLettersAreListedInTheOrderTheyDied) {
  Message* a = Add("a");
  Message* b = Add("b");
  Message* c = Add("c");
  queue_.Bury(c, "x", 1);
  queue_.Bury(a, "x", 2);
  queue_.Bury(b, "x", 3);
  std::vector<std::string> ids;
  for (const Message* m = queue_.OldestDead(); m != nullptr; m = queue_.NextDead(m)) {
    ids.emplace_back(m->id());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"c", "a", "b"}));
}

TEST_F(QueueTest, DepthCountsWhatOthersHoldButNotDeadLetters) {
  Message* a = Add("a");
  Message* c = Add("c");
  queue_.PushReady(a, false);
  queue_.Bury(c, "poison", 0);
  queue_.pending = 1;
  queue_.deferred = 1;
  queue_.leased = 2;
  EXPECT_EQ(queue_.size(), 6u);
  EXPECT_EQ(queue_.depth(), 5u) << "ready + pending + deferred + leased, not dead";
  EXPECT_FALSE(queue_.unused());
  queue_.pending = queue_.deferred = queue_.leased = 0;
}

TEST_F(QueueTest, UnusedOnlyWithNothingInItNoSubscriberAndNoRememberedId) {
  EXPECT_TRUE(queue_.unused());
  queue_.subscribers = 1;
  EXPECT_FALSE(queue_.unused());
  queue_.subscribers = 0;
  queue_.dedup_ids = 1;
  EXPECT_FALSE(queue_.unused());
  queue_.dedup_ids = 0;
  Message* a = Add("a");
  queue_.PushReady(a, false);
  EXPECT_FALSE(queue_.unused());
  DrainReady();
  EXPECT_TRUE(queue_.unused());
}

}  // namespace
}  // namespace mandrill::broker
