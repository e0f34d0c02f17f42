#pragma once
// Writes the Prometheus text exposition format (version 0.0.4): one # HELP and # TYPE per
// family, then its samples. Label values are escaped (\\, \", \n); names are the caller's
// constants. Runs on the metrics server's thread, from a snapshot, never on a hot path.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "shared/metrics/histogram.h"

namespace mandrill::metrics {

using Label = std::pair<std::string_view, std::string_view>;

class Exposition {
 public:
  Exposition() { out_.reserve(16 << 10); }  // a broker's page with a few queues: ~15 KB
  // Starts a family: type is "counter", "gauge" or "histogram".
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void Sample(std::string_view name, std::initializer_list<Label> labels, std::int64_t value);
  void Sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
  // _bucket{le=...} (cumulative), _sum and _count of one labelled histogram.
  void Histogram(std::string_view name, std::initializer_list<Label> labels,
                 const HistogramData& h);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Labels(std::initializer_list<Label> labels, const Label* extra = nullptr);
  std::string out_;
};

// The content type Prometheus expects for this format.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace mandrill::metrics
