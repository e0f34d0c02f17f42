#include "shared/metrics/histogram.h"

#include <algorithm>
#include <cmath>

namespace mandrill::metrics {
namespace {

constexpr double kLatency[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                               0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,
                               2.5,     5,      10};
constexpr double kHandler[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600};

}  // namespace

std::span<const double> LatencyBounds() { return kLatency; }
std::span<const double> HandlerBounds() { return kHandler; }

std::size_t BucketOf(std::span<const double> bounds, double seconds) {
  return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) -
                                  bounds.begin());
}

Histogram::Histogram(std::span<const double> bounds) {
  data_.bounds = bounds;
  data_.counts.assign(bounds.size() + 1, 0);
}

void Histogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // a clock step backwards, or NaN: counted as instant
  ++data_.counts[BucketOf(data_.bounds, seconds)];
  data_.sum += seconds;
  ++data_.count;
}

AtomicHistogram::AtomicHistogram(std::span<const double> bounds)
    : bounds_(bounds), counts_(bounds.size() + 1) {}

void AtomicHistogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  counts_[BucketOf(bounds_, seconds)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::llround(seconds * 1e9)),
                    std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

HistogramData AtomicHistogram::Read() const {
  HistogramData d;
  d.bounds = bounds_;
  d.counts.reserve(counts_.size());
  for (const auto& c : counts_) d.counts.push_back(c.load(std::memory_order_relaxed));
  d.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  d.count = 0;
  for (auto c : d.counts) d.count += c;  // consistent with the buckets, whatever raced
  return d;
}

}  // namespace mandrill::metrics
