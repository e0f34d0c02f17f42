// The worker's /metrics text: the network thread's figures always, the loop's WorkerStatus when
// it has published one; every series labelled worker=NAME; promtool accepts it.
#include "worker/app/worker_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "shared/metrics/histogram.h"
#include "tests/support/promtool.h"

namespace mandrill::worker {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::map<std::string, std::string> TypesOf(const std::string& text) {
  std::map<std::string, std::string> t;
  for (const auto& line : Lines(text)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream in(line.substr(7));
    std::string name, type;
    in >> name >> type;
    EXPECT_EQ(t.count(name), 0u) << name << " declared twice";
    t[name] = type;
  }
  return t;
}

std::optional<std::string> Value(const std::string& text, const std::string& series) {
  std::optional<std::string> found;
  for (const auto& line : Lines(text)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      EXPECT_FALSE(found.has_value()) << "sample " << series << " appears twice";
      found = line.substr(series.size() + 1);
    }
  }
  return found;
}
double Number(const std::string& text, const std::string& series) {
  const auto v = Value(text, series);
  if (!v) {
    ADD_FAILURE() << "no sample " << series << " in\n" << text;
    return -12345;
  }
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  EXPECT_EQ(*end, '\0') << series << " = '" << *v << "'";
  return d;
}

std::vector<std::string> SampleLines(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& line : Lines(text)) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}


const runtime::TimePoint kNow = runtime::TimePoint{} + 1000s;
const std::string kW = "{worker=\"w-1\"}";

void FillNet(NetCounters& net) {
  net.welcomed = true;
  net.credit = 7;
  net.reconnects = 2;
  net.delivered = 40;
  net.lease_lost = 1;
  net.errors = 3;
}

metrics::HistogramData HandlerHistogram(std::initializer_list<double> values) {
  metrics::Histogram h(metrics::HandlerBounds());
  for (double v : values) h.Observe(v);
  return h.data();
}

WorkerStatus FilledStatus() {
  WorkerStatus s;
  s.taken_at = kNow - 500ms;
  s.in_flight = 3;
  s.totals.received = 40;
  s.totals.acked = 30;
  s.totals.nacked_error = 4;
  s.totals.nacked_timeout = 2;
  s.totals.lease_lost = 1;
  s.totals.nacked_shutdown = 0;
  s.totals.internal_errors = 5;
  s.lease_extensions = 17;
  // One histogram per outcome, with 1..5 observations so each label is told apart.
  s.handler_seconds[0] = HandlerHistogram({0.002});                    // acked
  s.handler_seconds[1] = HandlerHistogram({0.002, 0.2});               // error
  s.handler_seconds[2] = HandlerHistogram({300, 300, 300});            // timeout
  s.handler_seconds[3] = HandlerHistogram({1, 1, 1, 1});               // lease_lost
  s.handler_seconds[4] = HandlerHistogram({700, 700, 700, 700, 700});  // shutdown
  metrics::Histogram lag(metrics::LatencyBounds());
  lag.Observe(0.0001);
  lag.Observe(0.02);
  s.loop_lag = lag.data();
  s.tasks = {RunningTask{11, "m-11", 2s}, RunningTask{12, "m-12", 1s}};
  return s;
}

TEST(WorkerMetricsTest, WithoutStatusOnlyTheNetworkSeries) {
  NetCounters net;
  FillNet(net);
  const std::string text = RenderWorkerMetrics("w-1", nullptr, kNow, net);
  auto types = TypesOf(text);
  EXPECT_EQ(types["mandrill_worker_connected"], "gauge");
  EXPECT_EQ(types["mandrill_worker_credit"], "gauge");
  EXPECT_EQ(types["mandrill_worker_reconnects_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_delivered_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_lease_lost_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_net_errors_total"], "counter");
  EXPECT_EQ(Number(text, "mandrill_worker_connected" + kW), 1);
  EXPECT_EQ(Number(text, "mandrill_worker_credit" + kW), 7);
  EXPECT_EQ(Value(text, "mandrill_worker_reconnects_total" + kW), "2");
  EXPECT_EQ(Value(text, "mandrill_worker_delivered_total" + kW), "40");
  EXPECT_EQ(Value(text, "mandrill_worker_lease_lost_total" + kW), "1");
  EXPECT_EQ(Value(text, "mandrill_worker_net_errors_total" + kW), "3");
  for (const char* loop_only :
       {"mandrill_worker_messages_in_flight", "mandrill_worker_longest_running_seconds",
        "mandrill_worker_handler_seconds", "mandrill_worker_loop_lag_seconds",
        "mandrill_worker_messages_total", "mandrill_worker_status_age_seconds"}) {
    EXPECT_EQ(text.find(loop_only), std::string::npos) << loop_only;
  }
}

TEST(WorkerMetricsTest, DisconnectedWorkerShowsZeroConnectedAndCredit) {
  NetCounters net;
  const std::string text = RenderWorkerMetrics("w-1", nullptr, kNow, net);
  EXPECT_EQ(Number(text, "mandrill_worker_connected" + kW), 0);
  EXPECT_EQ(Number(text, "mandrill_worker_credit" + kW), 0);
}

TEST(WorkerMetricsTest, StatusFiguresAreRendered) {
  NetCounters net;
  FillNet(net);
  const WorkerStatus s = FilledStatus();
  const std::string text = RenderWorkerMetrics("w-1", &s, kNow, net);
  auto types = TypesOf(text);
  EXPECT_EQ(types["mandrill_worker_messages_in_flight"], "gauge");
  EXPECT_EQ(types["mandrill_worker_longest_running_seconds"], "gauge");
  EXPECT_EQ(types["mandrill_worker_handler_seconds"], "histogram");
  EXPECT_EQ(types["mandrill_worker_loop_lag_seconds"], "histogram");
  EXPECT_EQ(types["mandrill_worker_lease_extensions_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_received_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_messages_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_internal_errors_total"], "counter");
  EXPECT_EQ(types["mandrill_worker_status_age_seconds"], "gauge");

  EXPECT_EQ(Number(text, "mandrill_worker_messages_in_flight" + kW), 3);
  // The longest task ran 2 s when the snapshot was taken, 0.5 s ago.
  EXPECT_DOUBLE_EQ(Number(text, "mandrill_worker_longest_running_seconds" + kW), 2.5);
  EXPECT_DOUBLE_EQ(Number(text, "mandrill_worker_status_age_seconds" + kW), 0.5);
  EXPECT_EQ(Value(text, "mandrill_worker_lease_extensions_total" + kW), "17");
  EXPECT_EQ(Value(text, "mandrill_worker_received_total" + kW), "40");
  EXPECT_EQ(Value(text, "mandrill_worker_internal_errors_total" + kW), "5");
  const std::string m = "mandrill_worker_messages_total{worker=\"w-1\",outcome=\"";
  EXPECT_EQ(Value(text, m + "acked\"}"), "30");
  EXPECT_EQ(Value(text, m + "error\"}"), "4");
  EXPECT_EQ(Value(text, m + "timeout\"}"), "2");
  EXPECT_EQ(Value(text, m + "lease_lost\"}"), "1");
  EXPECT_EQ(Value(text, m + "shutdown\"}"), "0");
  // The network series are still there.
  EXPECT_EQ(Number(text, "mandrill_worker_connected" + kW), 1);
  EXPECT_EQ(Number(text, "mandrill_worker_credit" + kW), 7);
}

TEST(WorkerMetricsTest, HandlerHistogramPerOutcome) {
  NetCounters net;
  const WorkerStatus s = FilledStatus();
  const std::string text = RenderWorkerMetrics("w-1", &s, kNow, net);
  const std::string h = "mandrill_worker_handler_seconds";
  const char* outcomes[] = {"acked", "error", "timeout", "lease_lost", "shutdown"};
  for (int i = 0; i < 5; ++i) {
    const std::string l = std::string("{worker=\"w-1\",outcome=\"") + outcomes[i] + "\"";
    EXPECT_EQ(Value(text, h + "_count" + l + "}"), std::to_string(i + 1)) << outcomes[i];
    EXPECT_EQ(Value(text, h + "_bucket" + l + ",le=\"+Inf\"}"), std::to_string(i + 1))
        << outcomes[i];
  }
  const std::string acked = "{worker=\"w-1\",outcome=\"acked\"";
  EXPECT_EQ(Value(text, h + "_bucket" + acked + ",le=\"0.001\"}"), "0");
  EXPECT_EQ(Value(text, h + "_bucket" + acked + ",le=\"0.005\"}"), "1");
  EXPECT_NEAR(Number(text, h + "_sum" + acked + "}"), 0.002, 1e-12);
  const std::string error = "{worker=\"w-1\",outcome=\"error\"";
  EXPECT_EQ(Value(text, h + "_bucket" + error + ",le=\"0.1\"}"), "1");
  EXPECT_EQ(Value(text, h + "_bucket" + error + ",le=\"0.5\"}"), "2");
  const std::string timeout = "{worker=\"w-1\",outcome=\"timeout\"";
  EXPECT_EQ(Value(text, h + "_bucket" + timeout + ",le=\"60\"}"), "0");
  EXPECT_EQ(Value(text, h + "_bucket" + timeout + ",le=\"300\"}"), "3");  // le is <=
  const std::string shutdown = "{worker=\"w-1\",outcome=\"shutdown\"";
  EXPECT_EQ(Value(text, h + "_bucket" + shutdown + ",le=\"600\"}"), "0");  // 700 s: +Inf only
  EXPECT_NEAR(Number(text, h + "_sum" + shutdown + "}"), 3500, 1e-9);
  // One family for all five.
  std::size_t types = 0;
  for (const auto& line : Lines(text)) types += line == "# TYPE " + h + " histogram";
  EXPECT_EQ(types, 1u);
}

TEST(WorkerMetricsTest, LoopLagHistogram) {
  NetCounters net;
  const WorkerStatus s = FilledStatus();
  const std::string text = RenderWorkerMetrics("w-1", &s, kNow, net);
  const std::string h = "mandrill_worker_loop_lag_seconds";
  EXPECT_EQ(Value(text, h + "_bucket{worker=\"w-1\",le=\"5e-05\"}"), "0");
  EXPECT_EQ(Value(text, h + "_bucket{worker=\"w-1\",le=\"0.0001\"}"), "1");
  EXPECT_EQ(Value(text, h + "_bucket{worker=\"w-1\",le=\"0.025\"}"), "2");
  EXPECT_EQ(Value(text, h + "_bucket{worker=\"w-1\",le=\"+Inf\"}"), "2");
  EXPECT_EQ(Value(text, h + "_count" + kW), "2");
  EXPECT_NEAR(Number(text, h + "_sum" + kW), 0.0201, 1e-12);
}

TEST(WorkerMetricsTest, IdleWorkerHasZeroLongestRunning) {
  NetCounters net;
  WorkerStatus s = FilledStatus();
  s.tasks.clear();
  s.in_flight = 0;
  const std::string text = RenderWorkerMetrics("w-1", &s, kNow, net);
  EXPECT_EQ(Number(text, "mandrill_worker_longest_running_seconds" + kW), 0);
  EXPECT_EQ(Number(text, "mandrill_worker_messages_in_flight" + kW), 0);
}

TEST(WorkerMetricsTest, EveryWorkerSeriesIsLabelledWithTheWorker) {
  NetCounters net;
  FillNet(net);
  const WorkerStatus s = FilledStatus();
  for (const WorkerStatus* status : {static_cast<const WorkerStatus*>(nullptr), &s}) {
    const std::string text = RenderWorkerMetrics("w-1", status, kNow, net);
    std::size_t n = 0;
    for (const auto& line : SampleLines(text)) {
      if (line.rfind("mandrill_worker_", 0) != 0) continue;
      ++n;
      EXPECT_NE(line.find("{worker=\"w-1\""), std::string::npos) << line;
    }
    EXPECT_GT(n, 5u);
  }
}

TEST(WorkerMetricsTest, EverySeriesIsLabelledWithTheWorker) {
  // worker_metrics.h and docs/observability.md: "Label worker (its --name) on every series".
  // That includes the process figures (mandrill_process_*), which several workers on one host
  // would otherwise export indistinguishably under the same names.
  NetCounters net;
  const WorkerStatus s = FilledStatus();
  const std::string text = RenderWorkerMetrics("w-1", &s, kNow, net);
  for (const auto& line : SampleLines(text)) {
    EXPECT_NE(line.find("worker=\"w-1\""), std::string::npos) << line;
  }
}

TEST(WorkerMetricsTest, TheWorkerNameIsEscaped) {
  NetCounters net;
  const std::string text = RenderWorkerMetrics("a\"b\\c", nullptr, kNow, net);
  EXPECT_NE(text.find("mandrill_worker_connected{worker=\"a\\\"b\\\\c\"} 0\n"), std::string::npos)
      << text;
}

TEST(WorkerMetricsTest, PromtoolAcceptsTheOutputWithoutStatus) {
  NetCounters net;
  FillNet(net);
  EXPECT_PROMTOOL_ACCEPTS(RenderWorkerMetrics("w-1", nullptr, kNow, net));
}

TEST(WorkerMetricsTest, PromtoolAcceptsTheOutputWithStatus) {
  NetCounters net;
  FillNet(net);
  const WorkerStatus s = FilledStatus();
  EXPECT_PROMTOOL_ACCEPTS(RenderWorkerMetrics("w-1", &s, kNow, net));
  // A default status (histograms never built: no bounds) too.
  const WorkerStatus empty;
  EXPECT_PROMTOOL_ACCEPTS(RenderWorkerMetrics("w-1", &empty, kNow, net));
}

}  // namespace
}  // namespace mandrill::worker
