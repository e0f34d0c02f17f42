// TimerQueue (the timing wheel + near heap) against a reference ordered set: random adds over
// every scale from nanoseconds to days, cancellations, past deadlines, equal deadlines, clock
// jumps; pops must come out in (deadline, insertion) order, exactly when due, and NextDeadline
// must be exact (or, when allowed, never late).
#include "shared/runtime/timer_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace mandrill::runtime::detail {
namespace {

struct TestNode : TimerNode {
  int id = 0;
  std::int64_t when = 0;
  std::uint64_t seq = 0;
};

TimePoint At(std::int64_t ns) { return TimePoint(Duration(ns)); }

class Reference {
 public:
  using Key = std::tuple<std::int64_t, std::uint64_t, int>;
  void Add(TestNode* n) { set_.insert(Key{n->when, n->seq, n->id}); }
  void Remove(TestNode* n) { set_.erase(Key{n->when, n->seq, n->id}); }
  bool empty() const { return set_.empty(); }
  const Key& front() const { return *set_.begin(); }
  std::size_t size() const { return set_.size(); }

 private:
  std::set<Key> set_;
};

class Harness {
 public:
  explicit Harness(std::uint32_t seed, std::int64_t start) : rng_(seed), now_(start) {
    nodes_.reserve(4096);
  }

  TestNode* NewNode() {
    nodes_.push_back(std::make_unique<TestNode>());
    nodes_.back()->id = static_cast<int>(nodes_.size()) - 1;
    return nodes_.back().get();
  }

  void Add(TestNode* n, std::int64_t when) {
    n->when = when;
    n->seq = seq_++;
    q_.Add(n, At(when));
    ref_.Add(n);
  }

  std::int64_t RandomDelay() {
    // Every scale: same tick, a few ticks, each wheel level, and the far future.
    static constexpr std::int64_t kScales[] = {1,          100,        5'000,         300'000,
                                               20'000'000, 2'000'000'000, 90'000'000'000,
                                               5'000'000'000'000};
    std::int64_t scale = kScales[rng_() % std::size(kScales)];
    return static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(scale));
  }

  void Step() {
    std::uint32_t op = rng_() % 100;
    if (op < 45) {
      TestNode* n = NewNode();
      std::int64_t when = now_ + RandomDelay();
      if (rng_() % 20 == 0) when = now_ - RandomDelay();  // already due
      if (rng_() % 10 == 0 && !armed_.empty()) when = armed_[rng_() % armed_.size()]->when;
      Add(n, when);
      armed_.push_back(n);
    } else if (op < 65) {
      if (armed_.empty()) return;
      std::size_t i = rng_() % armed_.size();
      TestNode* n = armed_[i];
      q_.Cancel(n);
      EXPECT_FALSE(n->armed());
      ref_.Remove(n);
      armed_[i] = armed_.back();
      armed_.pop_back();
    } else if (op < 80) {
      CheckNextDeadline();
    } else {
      // Advance the clock: mostly small steps, sometimes to the next deadline, sometimes far.
      std::uint32_t how = rng_() % 10;
      if (how < 6) {
        now_ += RandomDelay() / 64;
      } else if (how < 9) {
        if (!ref_.empty()) now_ = std::max(now_, std::get<0>(ref_.front()));
      } else {
        now_ += RandomDelay();
      }
      PopAllDue();
    }
  }

  void CheckNextDeadline() {
    std::optional<TimePoint> loose = q_.NextDeadline(/*exact=*/false);
    std::optional<TimePoint> exact = q_.NextDeadline(/*exact=*/true);
    if (ref_.empty()) {
      EXPECT_FALSE(loose.has_value());
      EXPECT_FALSE(exact.has_value());
      return;
    }
    ASSERT_TRUE(exact.has_value());
    ASSERT_TRUE(loose.has_value());
    EXPECT_EQ(exact->time_since_epoch().count(), std::get<0>(ref_.front()));
    EXPECT_LE(loose->time_since_epoch().count(), std::get<0>(ref_.front()));
  }

  void PopAllDue() {
    while (TimerNode* popped = q_.PopExpired(At(now_))) {
      auto* n = static_cast<TestNode*>(popped);
      ASSERT_FALSE(ref_.empty());
      EXPECT_EQ(n->id, std::get<2>(ref_.front())) << "out of order at now=" << now_;
      EXPECT_LE(n->when, now_);
      EXPECT_FALSE(n->armed());
      ref_.Remove(n);
      for (std::size_t i = 0; i < armed_.size(); ++i) {
        if (armed_[i] == n) {
          armed_[i] = armed_.back();
          armed_.pop_back();
          break;
        }
      }
    }
    // Nothing due is left behind.
    if (!ref_.empty()) {
      EXPECT_GT(std::get<0>(ref_.front()), now_);
    }
    EXPECT_EQ(q_.size(), ref_.size());
  }

  // Cancels the armed nodes among `nodes` for which pick() says so (nodes added with Add, not
  // by Step).
  template <class Pick>
  void Cancel(const std::vector<TestNode*>& nodes, Pick pick) {
    for (TestNode* n : nodes) {
      if (!n->armed() || !pick()) continue;
      q_.Cancel(n);
      ref_.Remove(n);
    }
  }
  std::size_t pending() const { return ref_.size(); }

  void PopAllDueAt(std::int64_t now) {
    now_ = now;
    PopAllDue();
  }

  void Drain() {
    now_ = INT64_MAX / 2;
    PopAllDue();
    EXPECT_TRUE(ref_.empty());
    EXPECT_EQ(q_.size(), 0u);
  }

  TimerQueue& queue() { return q_; }
  std::size_t armed() const { return armed_.size(); }

 private:
  std::mt19937 rng_;
  std::int64_t now_;
  std::uint64_t seq_ = 0;
  TimerQueue q_;
  Reference ref_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<TestNode*> armed_;
};

TEST(TimerQueueTest, MatchesReferenceUnderRandomOperations) {
  for (std::uint32_t seed = 1; seed <= 12; ++seed) {
    // Start at a steady-clock-like time and at the virtual clock's epoch (1 h).
    Harness h(seed, seed % 2 == 0 ? 123'456'789'012'345 : 3'600'000'000'000);
    for (int i = 0; i < 6000; ++i) {
      h.Step();
      if (::testing::Test::HasFailure()) FAIL() << "seed " << seed << " step " << i;
    }
    h.Drain();
  }
}

TEST(TimerQueueTest, EqualDeadlinesFireInInsertionOrder) {
  Harness h(7, 1'000'000'000);
  std::vector<TestNode*> nodes;
  for (int i = 0; i < 300; ++i) {
    TestNode* n = h.NewNode();
    h.Add(n, 1'000'000'000 + 50'000'000 * (i % 3));  // three deadlines, interleaved
    nodes.push_back(n);
  }
  std::vector<int> fired;
  while (TimerNode* n = h.queue().PopExpired(At(2'000'000'000))) {
    fired.push_back(static_cast<TestNode*>(n)->id);
  }
  ASSERT_EQ(fired.size(), 300u);
  for (std::size_t i = 1; i < fired.size(); ++i) {
    const TestNode* a = nodes[static_cast<std::size_t>(fired[i - 1])];
    const TestNode* b = nodes[static_cast<std::size_t>(fired[i])];
    EXPECT_TRUE(a->when < b->when || (a->when == b->when && a->seq < b->seq));
  }
}

TEST(TimerQueueTest, ManyCancellationsAreCompactedAway) {
  TimerQueue q;
  std::vector<TestNode> nodes(50'000);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    q.Add(&nodes[i], At(1'000'000 + static_cast<std::int64_t>(i) * 1'000'000));
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (i % 10 != 0) q.Cancel(&nodes[i]);
  }
  EXPECT_EQ(q.size(), 5'000u);
  std::size_t armed = 0;
  q.ForEachArmed([&armed](TimerNode*) { ++armed; });
  EXPECT_EQ(armed, 5'000u);
  std::size_t fired = 0;
  std::int64_t last = 0;
  while (TimerNode* n = q.PopExpired(At(INT64_MAX / 2))) {
    auto idx = static_cast<std::size_t>(static_cast<TestNode*>(n) - nodes.data());
    EXPECT_EQ(idx % 10, 0u);
    auto when = 1'000'000 + static_cast<std::int64_t>(idx) * 1'000'000;
    EXPECT_GT(when, last);
    last = when;
    ++fired;
  }
  EXPECT_EQ(fired, 5'000u);
  EXPECT_FALSE(q.NextDeadline().has_value());
}

TEST(TimerQueueTest, CrowdedBucketsKeepOrderThroughCancellationAndCompaction) {
  // 20,000 timers inside 2 ms land in a handful of buckets, each a chain of many blocks; two in
  // three are cancelled (compacting the chains on the way), and the rest must still fire in
  // (deadline, insertion) order when the buckets cascade.
  Harness h(11, 7'000'000'000);
  ASSERT_EQ(h.queue().PopExpired(At(7'000'000'000)), nullptr);  // sets the current tick
  std::mt19937 rng(3);
  std::vector<TestNode*> nodes;
  for (int i = 0; i < 20'000; ++i) {
    TestNode* n = h.NewNode();
    h.Add(n, 7'000'000'000 + static_cast<std::int64_t>(rng() % 2'000'000));
    nodes.push_back(n);
  }
  h.Cancel(nodes, [&rng] { return rng() % 3 != 0; });
  ASSERT_EQ(h.queue().size(), h.pending());
  ASSERT_GT(h.pending(), 5'000u);
  for (std::int64_t now = 7'000'000'000; now <= 7'002'000'000; now += 50'000) {
    h.PopAllDueAt(now);
    if (::testing::Test::HasFailure()) FAIL() << "at " << now;
  }
  h.Drain();
}

TEST(TimerQueueTest, LooseNextDeadlineNeverLateAndConverges) {
  // The real-clock mode may report a bucket start; waking then and popping must converge on the
  // exact deadline within a few wake-ups per wheel level.
  TimerQueue q;
  TestNode n;
  const std::int64_t start = 5'000'000'000'000;
  ASSERT_EQ(q.PopExpired(At(start)), nullptr);  // sets the wheel's current tick
  const std::int64_t when = start + 30'000'000'000 + 12'345;  // 30 s later
  q.Add(&n, At(when));
  std::int64_t now = start;
  int wakeups = 0;
  TimerNode* fired = nullptr;
  while (fired == nullptr) {
    std::optional<TimePoint> next = q.NextDeadline(/*exact=*/false);
    ASSERT_TRUE(next.has_value());
    ASSERT_LE(next->time_since_epoch().count(), when);
    now = std::max(now, next->time_since_epoch().count());
    fired = q.PopExpired(At(now));
    ASSERT_LT(++wakeups, 3 * TimerQueue::kLevels);
  }
  EXPECT_EQ(fired, &n);
  EXPECT_EQ(now, when);
}

}  // namespace
}  // namespace mandrill::runtime::detail
