#include "worker/net/reconnect_backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace mandrill::worker {
namespace {

using std::chrono::milliseconds;

TEST(ReconnectBackoffTest, CeilingDoublesUpToTheCap) {
  ReconnectBackoff b(milliseconds(100), milliseconds(5000), 1);
  EXPECT_EQ(b.Ceiling(0), milliseconds(100));
  EXPECT_EQ(b.Ceiling(1), milliseconds(200));
  EXPECT_EQ(b.Ceiling(5), milliseconds(3200));
  EXPECT_EQ(b.Ceiling(6), milliseconds(5000));
  EXPECT_EQ(b.Ceiling(60), milliseconds(5000));
}

TEST(ReconnectBackoffTest, EachDelayIsBetweenHalfTheCeilingAndTheCeiling) {
  ReconnectBackoff b(milliseconds(100), milliseconds(5000), 42);
  for (int n = 0; n < 20; ++n) {
    const auto ceiling = b.Ceiling(n);
    const auto d = b.Next();
    EXPECT_GE(d, ceiling / 2) << "attempt " << n;
    EXPECT_LE(d, ceiling) << "attempt " << n;
  }
}

TEST(ReconnectBackoffTest, ResetStartsOverAfterASuccess) {
  ReconnectBackoff b(milliseconds(100), milliseconds(5000), 7);
  for (int i = 0; i < 10; ++i) (void)b.Next();
  b.Reset();
  EXPECT_EQ(b.attempts(), 0);
  EXPECT_LE(b.Next(), milliseconds(100));
}

TEST(ReconnectBackoffTest, WorkersWithDifferentSeedsSpreadOut) {
  std::set<long> first_delays_at_cap;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    ReconnectBackoff b(milliseconds(100), milliseconds(5000), seed);
    for (int i = 0; i < 8; ++i) (void)b.Next();
    first_delays_at_cap.insert(static_cast<long>(b.Next().count()));
  }
  EXPECT_GT(first_delays_at_cap.size(), 40u) << "jitter should not put a fleet in lock-step";
}

}  // namespace
}  // namespace mandrill::worker
