#pragma once
// Latency histograms in the Prometheus shape: fixed upper bounds (seconds), a count per bucket,
// the sum and the count. Histogram has one writer (the thread that owns it); AtomicHistogram is
// written by one thread and read by another (the journal's writer thread observes fsyncs, the
// reactor copies them into its metrics snapshot). Buckets are fixed at construction so an
// observation is a search over a dozen doubles and two additions: nothing allocates.
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

namespace mandrill::metrics {

// Bounds for what takes microseconds to seconds (confirms, fsyncs, loop lag).
std::span<const double> LatencyBounds();
// Bounds for handlers: a millisecond to ten minutes.
std::span<const double> HandlerBounds();

// A copy of a histogram's figures: counts[i] is the number of observations <= bounds[i]
// (non-cumulative); counts.back() those above every bound.
struct HistogramData {
  std::span<const double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;
};

class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void Observe(double seconds);
  const HistogramData& data() const { return data_; }

 private:
  HistogramData data_;
};

class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::span<const double> bounds);
  void Observe(double seconds);  // one writer thread
  HistogramData Read() const;    // any thread; each figure is current, not one consistent cut

 private:
  std::span<const double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Index of the bucket `seconds` falls into.
std::size_t BucketOf(std::span<const double> bounds, double seconds);

}  // namespace mandrill::metrics
