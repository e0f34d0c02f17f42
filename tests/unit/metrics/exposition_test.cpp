// The Prometheus text format 0.0.4 as Exposition writes it: HELP/TYPE once per family, escaped
// label values, integer and double samples, and histograms as cumulative _bucket lines ending
// with le="+Inf", then _sum and _count.
#include "shared/metrics/exposition.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace mandrill::metrics {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::size_t Occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(ExpositionTest, FamilyWritesHelpThenTypeOnce) {
  Exposition e;
  e.Family("mandrill_things", "gauge", "How many things.");
  e.Sample("mandrill_things", {{"kind", "a"}}, std::int64_t{1});
  e.Sample("mandrill_things", {{"kind", "b"}}, std::int64_t{2});
  EXPECT_EQ(e.text(),
            "# HELP mandrill_things How many things.\n"
            "# TYPE mandrill_things gauge\n"
            "mandrill_things{kind=\"a\"} 1\n"
            "mandrill_things{kind=\"b\"} 2\n");
  EXPECT_EQ(Occurrences(e.text(), "# TYPE "), 1u);
  EXPECT_EQ(Occurrences(e.text(), "# HELP "), 1u);
}

TEST(ExpositionTest, HelpEscapesBackslashAndNewlineOnly) {
  Exposition e;
  e.Family("m", "counter", "a\\b \"q\"\nnext");
  EXPECT_EQ(Lines(e.text()).at(0), "# HELP m a\\\\b \"q\"\\nnext");
  EXPECT_EQ(Lines(e.text()).at(1), "# TYPE m counter");
  EXPECT_EQ(Lines(e.text()).size(), 2u);
}

TEST(ExpositionTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  Exposition e;
  e.Sample("m", {{"v", "a\\b\"c\nd"}}, std::int64_t{3});
  EXPECT_EQ(e.text(), "m{v=\"a\\\\b\\\"c\\nd\"} 3\n");
}

TEST(ExpositionTest, SeveralLabelsAreCommaSeparatedInOrder) {
  Exposition e;
  e.Sample("m", {{"queue", "q1"}, {"reason", "full"}}, std::int64_t{0});
  EXPECT_EQ(e.text(), "m{queue=\"q1\",reason=\"full\"} 0\n");
}

TEST(ExpositionTest, NoLabelsNoBraces) {
  Exposition e;
  e.Sample("m", {}, std::int64_t{7});
  e.Sample("d", {}, 0.5);
  EXPECT_EQ(e.text(), "m 7\nd 0.5\n");
}

TEST(ExpositionTest, IntegersArePrintedExactly) {
  Exposition e;
  e.Sample("a", {}, std::int64_t{-3});
  e.Sample("b", {}, std::uint64_t{9007199254740993ULL});  // 2^53 + 1: not exact as a double
  e.Sample("c", {}, std::int64_t{std::numeric_limits<std::int64_t>::max()});
  EXPECT_EQ(e.text(), "a -3\nb 9007199254740993\nc 9223372036854775807\n");
}

TEST(ExpositionTest, UnsignedAboveInt64MaxIsNotPrintedNegative) {
  // Sample(uint64) casts to int64: a counter past 2^63 would go negative (and a counter that
  // goes backwards is a reset to Prometheus). Unreachable for today's counters, but the API
  // takes a uint64.
  Exposition e;
  e.Sample("big", {}, std::uint64_t{9223372036854775808ULL});
  EXPECT_EQ(e.text(), "big 9223372036854775808\n");
}

TEST(ExpositionTest, DoublesUseTheShortestRoundTripFormAndSpecialValues) {
  Exposition e;
  e.Sample("a", {}, 0.25);
  e.Sample("b", {}, 2.0);
  e.Sample("c", {}, 1.5e-7);
  e.Sample("d", {}, std::numeric_limits<double>::quiet_NaN());
  e.Sample("e", {}, std::numeric_limits<double>::infinity());
  e.Sample("f", {}, -std::numeric_limits<double>::infinity());
  const auto lines = Lines(e.text());
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "a 0.25");
  EXPECT_EQ(lines[1], "b 2");
  EXPECT_EQ(std::strtod(lines[2].substr(2).c_str(), nullptr), 1.5e-7) << lines[2];
  EXPECT_EQ(lines[3], "d NaN");
  EXPECT_EQ(lines[4], "e +Inf");
  EXPECT_EQ(lines[5], "f -Inf");
}

TEST(ExpositionTest, HistogramIsCumulativeEndingWithInfThenSumAndCount) {
  constexpr double kBounds[] = {0.1, 0.5, 1};
  metrics::Histogram h(kBounds);
  for (double v : {0.05, 0.1, 0.3, 2.0, 7.0}) h.Observe(v);
  Exposition e;
  e.Histogram("lat", {}, h.data());
  const auto lines = Lines(e.text());
  ASSERT_EQ(lines.size(), 6u) << e.text();
  EXPECT_EQ(lines[0], "lat_bucket{le=\"0.1\"} 2");
  EXPECT_EQ(lines[1], "lat_bucket{le=\"0.5\"} 3");
  EXPECT_EQ(lines[2], "lat_bucket{le=\"1\"} 3");
  EXPECT_EQ(lines[3], "lat_bucket{le=\"+Inf\"} 5");
  ASSERT_EQ(lines[4].rfind("lat_sum ", 0), 0u) << lines[4];
  EXPECT_NEAR(std::strtod(lines[4].substr(8).c_str(), nullptr), 9.45, 1e-9);
  EXPECT_EQ(lines[5], "lat_count 5");
}

TEST(ExpositionTest, HistogramKeepsItsLabelsAndAddsLeLast) {
  constexpr double kBounds[] = {1, 2};
  metrics::Histogram h(kBounds);
  h.Observe(1.5);
  Exposition e;
  e.Histogram("h", {{"worker", "w\"1"}, {"outcome", "acked"}}, h.data());
  const auto lines = Lines(e.text());
  ASSERT_EQ(lines.size(), 5u) << e.text();
  EXPECT_EQ(lines[0], "h_bucket{worker=\"w\\\"1\",outcome=\"acked\",le=\"1\"} 0");
  EXPECT_EQ(lines[1], "h_bucket{worker=\"w\\\"1\",outcome=\"acked\",le=\"2\"} 1");
  EXPECT_EQ(lines[2], "h_bucket{worker=\"w\\\"1\",outcome=\"acked\",le=\"+Inf\"} 1");
  EXPECT_EQ(lines[3], "h_sum{worker=\"w\\\"1\",outcome=\"acked\"} 1.5");
  EXPECT_EQ(lines[4], "h_count{worker=\"w\\\"1\",outcome=\"acked\"} 1");
}

TEST(ExpositionTest, StandardBoundsPrintInIncreasingOrderAndParseBack) {
  Histogram h(LatencyBounds());
  h.Observe(0.00005);  // the first bound itself
  h.Observe(0.003);
  h.Observe(60);  // above every bound
  Exposition e;
  e.Histogram("x", {}, h.data());
  const auto lines = Lines(e.text());
  ASSERT_EQ(lines.size(), LatencyBounds().size() + 3);
  double previous_le = -1;
  std::uint64_t previous_count = 0;
  for (std::size_t i = 0; i <= LatencyBounds().size(); ++i) {
    const std::string& l = lines[i];
    const auto open = l.find("{le=\"");
    const auto close = l.find("\"}", open);
    ASSERT_EQ(l.rfind("x_bucket{le=\"", 0), 0u) << l;
    ASSERT_NE(close, std::string::npos) << l;
    const std::string le = l.substr(open + 5, close - open - 5);
    const std::uint64_t count = std::strtoull(l.substr(close + 3).c_str(), nullptr, 10);
    EXPECT_GE(count, previous_count) << l;  // cumulative
    previous_count = count;
    if (i == LatencyBounds().size()) {
      EXPECT_EQ(le, "+Inf");
      EXPECT_EQ(count, 3u);
    } else {
      char* end = nullptr;
      const double v = std::strtod(le.c_str(), &end);
      EXPECT_EQ(*end, '\0') << le;
      EXPECT_EQ(v, LatencyBounds()[i]) << le;  // round-trips exactly
      EXPECT_GT(v, previous_le);
      previous_le = v;
    }
  }
  EXPECT_EQ(lines[1].substr(lines[1].rfind(' ') + 1), "1");  // le=0.0001: the 50 us one only
  EXPECT_EQ(lines.back(), "x_count 3");
  EXPECT_EQ(lines[lines.size() - 2].rfind("x_sum ", 0), 0u);
}

TEST(ExpositionTest, CountEqualsTheInfBucketEvenIfTheFiguresRaced) {
  // AtomicHistogram::Read's figures are not one consistent cut; _count must still equal the
  // +Inf bucket or Prometheus' histogram_quantile sees an inconsistent histogram.
  constexpr double kBounds[] = {1};
  HistogramData d;
  d.bounds = kBounds;
  d.counts = {4, 1};
  d.count = 7;  // stale
  d.sum = 3;
  Exposition e;
  e.Histogram("r", {}, d);
  EXPECT_NE(e.text().find("r_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << e.text();
  EXPECT_NE(e.text().find("r_count 5\n"), std::string::npos) << e.text();
}

TEST(ExpositionTest, AnEmptyHistogramHasOnlyTheInfBucket) {
  Exposition e;
  e.Histogram("none", {}, HistogramData{});
  EXPECT_EQ(e.text(), "none_bucket{le=\"+Inf\"} 0\nnone_sum 0\nnone_count 0\n");
}

TEST(ExpositionTest, TakeMovesTheText) {
  Exposition e;
  e.Sample("m", {}, std::int64_t{1});
  EXPECT_EQ(e.Take(), "m 1\n");
}

TEST(ExpositionTest, ContentTypeIsTheTextFormat004) {
  EXPECT_EQ(std::string(kContentType), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace mandrill::metrics
