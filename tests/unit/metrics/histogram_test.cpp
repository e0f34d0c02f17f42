// Histogram buckets follow Prometheus' `le` (<=): a value equal to a bound is counted in that
// bound's bucket; values above every bound go to the last (+Inf) bucket.
#include "shared/metrics/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <thread>
#include <vector>

namespace mandrill::metrics {
namespace {

constexpr double kBounds[] = {0.1, 0.5, 1, 5};

TEST(BucketOfTest, ValueEqualToABoundFallsIntoThatBoundsBucket) {
  EXPECT_EQ(BucketOf(kBounds, 0.1), 0u);
  EXPECT_EQ(BucketOf(kBounds, 0.5), 1u);
  EXPECT_EQ(BucketOf(kBounds, 1), 2u);
  EXPECT_EQ(BucketOf(kBounds, 5), 3u);
}

TEST(BucketOfTest, ValuesJustAboveABoundGoToTheNextBucket) {
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(0.1, 1.0)), 1u);
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(0.5, 1.0)), 2u);
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(1.0, 2.0)), 3u);
  EXPECT_EQ(BucketOf(kBounds, 0.3), 1u);
  EXPECT_EQ(BucketOf(kBounds, 4.999), 3u);
}

TEST(BucketOfTest, ValuesJustBelowABoundStayInThatBoundsBucket) {
  EXPECT_EQ(BucketOf(kBounds, 0), 0u);
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(0.1, 0.0)), 0u);
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(0.5, 0.0)), 1u);
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(5.0, 0.0)), 3u);
}

TEST(BucketOfTest, ValuesAboveEveryBoundGoToTheOverflowBucket) {
  EXPECT_EQ(BucketOf(kBounds, std::nextafter(5.0, 6.0)), 4u);
  EXPECT_EQ(BucketOf(kBounds, 1e12), 4u);
  EXPECT_EQ(BucketOf(kBounds, std::numeric_limits<double>::infinity()), 4u);
}

TEST(BucketOfTest, EveryStandardBoundIsItsOwnBucket) {
  for (auto bounds : {LatencyBounds(), HandlerBounds()}) {
    ASSERT_FALSE(bounds.empty());
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      if (i > 0) {
        EXPECT_LT(bounds[i - 1], bounds[i]) << "bounds must increase, at " << i;
      }
      EXPECT_EQ(BucketOf(bounds, bounds[i]), i) << bounds[i];
      EXPECT_EQ(BucketOf(bounds, std::nextafter(bounds[i], 1e9)), i + 1) << bounds[i];
    }
  }
}

TEST(StandardBoundsTest, CoverTheDocumentedRanges) {
  // docs/observability.md: latency 50 us .. 10 s, handlers 1 ms .. 600 s.
  EXPECT_DOUBLE_EQ(LatencyBounds().front(), 0.00005);
  EXPECT_DOUBLE_EQ(LatencyBounds().back(), 10);
  EXPECT_DOUBLE_EQ(HandlerBounds().front(), 0.001);
  EXPECT_DOUBLE_EQ(HandlerBounds().back(), 600);
}

TEST(HistogramTest, StartsEmptyWithOneCountPerBucketPlusOverflow) {
  Histogram h(kBounds);
  const HistogramData& d = h.data();
  ASSERT_EQ(d.bounds.size(), 4u);
  EXPECT_EQ(d.bounds.data(), kBounds);
  EXPECT_EQ(d.counts, (std::vector<std::uint64_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(d.count, 0u);
  EXPECT_EQ(d.sum, 0);
}

TEST(HistogramTest, CountsEachObservationInItsBucketAndSumsThem) {
  Histogram h(kBounds);
  for (double v : {0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0, 7.0, 100.0}) h.Observe(v);
  const HistogramData& d = h.data();
  // <=0.1: 0.05 0.1 | <=0.5: 0.3 0.5 | <=1: 1 | <=5: 2 5 | above: 7 100
  EXPECT_EQ(d.counts, (std::vector<std::uint64_t>{2, 2, 1, 2, 2}));
  EXPECT_EQ(d.count, 9u);
  EXPECT_NEAR(d.sum, 115.95, 1e-9);
}

TEST(HistogramTest, NegativeAndNaNCountAsZero) {
  Histogram h(kBounds);
  h.Observe(-3);
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  const HistogramData& d = h.data();
  EXPECT_EQ(d.counts[0], 2u);
  EXPECT_EQ(d.count, 2u);
  EXPECT_EQ(d.sum, 0);  // not NaN, not negative
}

TEST(AtomicHistogramTest, StartsEmpty) {
  AtomicHistogram h(kBounds);
  const HistogramData d = h.Read();
  EXPECT_EQ(d.bounds.data(), kBounds);
  EXPECT_EQ(d.counts, (std::vector<std::uint64_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(d.count, 0u);
  EXPECT_EQ(d.sum, 0);
}

TEST(AtomicHistogramTest, ReadSeesWhatAnotherThreadObserved) {
  AtomicHistogram h(kBounds);
  constexpr int kRounds = 1000;
  std::thread writer([&] {
    for (int i = 0; i < kRounds; ++i) {
      h.Observe(0.1);   // bucket 0 (equal to the bound)
      h.Observe(0.25);  // bucket 1
      h.Observe(5);     // bucket 3 (equal to the bound)
      h.Observe(6);     // overflow
    }
  });
  writer.join();
  const HistogramData d = h.Read();
  EXPECT_EQ(d.counts, (std::vector<std::uint64_t>{kRounds, kRounds, 0, kRounds, kRounds}));
  EXPECT_EQ(d.count, 4u * kRounds);
  EXPECT_NEAR(d.sum, kRounds * (0.1 + 0.25 + 5 + 6), 1e-6);
}

TEST(AtomicHistogramTest, SumKeepsSubMicrosecondResolution) {
  AtomicHistogram h(LatencyBounds());
  h.Observe(0.000000250);  // 250 ns
  h.Observe(0.000001);     // 1 us
  const HistogramData d = h.Read();
  EXPECT_NEAR(d.sum, 0.00000125, 1e-12);
  EXPECT_EQ(d.counts[0], 2u);
}

TEST(AtomicHistogramTest, NegativeAndNaNCountAsZero) {
  AtomicHistogram h(kBounds);
  h.Observe(-1);
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  const HistogramData d = h.Read();
  EXPECT_EQ(d.counts[0], 2u);
  EXPECT_EQ(d.count, 2u);
  EXPECT_EQ(d.sum, 0);
}

TEST(AtomicHistogramTest, ConcurrentReadsAreConsistentWithTheirBuckets) {
  AtomicHistogram h(kBounds);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) h.Observe(i % 2 == 0 ? 0.05 : 3);
    done = true;
  });
  std::uint64_t last = 0;
  while (!done) {
    const HistogramData d = h.Read();
    EXPECT_EQ(d.count, std::accumulate(d.counts.begin(), d.counts.end(), std::uint64_t{0}));
    EXPECT_GE(d.count, last);
    last = d.count;
  }
  writer.join();
  EXPECT_EQ(h.Read().count, 20000u);
}

}  // namespace
}  // namespace mandrill::metrics
