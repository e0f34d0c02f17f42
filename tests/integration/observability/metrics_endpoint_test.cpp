// Every endpoint's /metrics is valid Prometheus text (promtool), has the documented families and
// figures that match what happened; /healthz and /readyz answer as probes expect.
#include <csignal>
#include <regex>

#include "tests/integration/observability/observability_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

// The value of the first sample whose line starts with `series` (name and labels, exactly).
std::optional<double> Sample(const std::string& text, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const auto at = ("\n" + text).find(needle);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + series.size()));
}

#define REQUIRE_TOOL(name)                                                     \
  if (!PrometheusTool(name)) {                                                 \
    if (std::getenv("CI") != nullptr) FAIL() << name << " missing under CI";   \
    GTEST_SKIP() << name << " is not installed (Debian package prometheus)";  \
  }

TEST_F(ObservabilityTest, PromtoolAcceptsTheBrokersAndAWorkersMetricsAndTheFiguresAddUp) {
  REQUIRE_TOOL("promtool");
  StartBroker();
  StartWorker("w1", "jobs", 4, "1:3");
  Publish("jobs", 50);
  // The broker publishes a snapshot once per second: the figures catch up within a few.
  std::string broker, worker;
  EXPECT_TRUE(Eventually(
      [&] {
        broker = HttpGet(broker_metrics_, "/metrics").body;
        return Sample(broker, "mandrill_queue_acked_total{queue=\"jobs\"}") == 50.0;
      },
      15s))
      << broker;
  EXPECT_TRUE(Eventually(
      [&] {
        worker = HttpGet(worker_metrics_[0], "/metrics").body;
        return Sample(worker, "mandrill_worker_messages_total{worker=\"w1\",outcome=\"acked\"}") ==
               50.0;
      },
      15s))
      << worker;
  EXPECT_EQ(PromtoolComplaint(broker), "");
  EXPECT_EQ(PromtoolComplaint(worker), "");

  const auto scrape = HttpGet(broker_metrics_, "/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.content_type.find("version=0.0.4"), std::string::npos) << scrape.content_type;
  for (const char* family :
       {"mandrill_queue_messages_ready", "mandrill_queue_messages_unacked",
        "mandrill_queue_messages_deferred", "mandrill_queue_messages_dead",
        "mandrill_queue_oldest_ready_age_seconds", "mandrill_queue_published_total",
        "mandrill_queue_acked_total", "mandrill_queue_nacked_total",
        "mandrill_queue_redelivered_total", "mandrill_queue_expired_total",
        "mandrill_queue_dead_lettered_total", "mandrill_queue_refused_total",
        "mandrill_workers_connected", "mandrill_lease_lost_total",
        "mandrill_publish_confirm_seconds", "mandrill_journal_fsync_seconds",
        "mandrill_journal_bytes", "mandrill_journal_segments", "mandrill_storage_failures_total",
        "mandrill_process_resident_memory_bytes"}) {
    EXPECT_NE(broker.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  EXPECT_EQ(Sample(broker, "mandrill_queue_published_total{queue=\"jobs\"}"), 50.0);
  EXPECT_EQ(Sample(broker, "mandrill_queue_messages_ready{queue=\"jobs\"}"), 0.0);
  EXPECT_EQ(Sample(broker, "mandrill_workers_connected"), 1.0);
  // One confirm per publish frame at least, and the journal synced them.
  EXPECT_GE(Sample(broker, "mandrill_publish_confirm_seconds_count").value_or(0), 1.0);
  EXPECT_GE(Sample(broker, "mandrill_journal_fsync_seconds_count").value_or(0), 1.0);
  EXPECT_GT(Sample(broker, "mandrill_process_resident_memory_bytes").value_or(0), 1e6);

  for (const char* family :
       {"mandrill_worker_messages_in_flight", "mandrill_worker_credit",
        "mandrill_worker_handler_seconds", "mandrill_worker_loop_lag_seconds",
        "mandrill_worker_lease_extensions_total", "mandrill_worker_reconnects_total"}) {
    EXPECT_NE(worker.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  EXPECT_EQ(Sample(worker, "mandrill_worker_credit{worker=\"w1\"}"), 4.0);
  EXPECT_EQ(Sample(worker, "mandrill_worker_connected{worker=\"w1\"}"), 1.0);
  EXPECT_EQ(
      Sample(worker, "mandrill_worker_handler_seconds_count{worker=\"w1\",outcome=\"acked\"}"),
      50.0);
  EXPECT_GE(Sample(worker, "mandrill_worker_loop_lag_seconds_count{worker=\"w1\"}").value_or(0),
            1.0);
}

TEST_F(ObservabilityTest, ProbesSayWhenEachProcessIsReady) {
  // The worker first, with no broker: alive, not ready.
  StartWorker("w1", "jobs", 2, "1:2");
  const std::string& w = worker_metrics_[0];
  ASSERT_TRUE(Eventually([&] { return HttpGet(w, "/healthz").status == 200; }, 10s))
      << workers_[0]->Log();
  const auto not_ready = HttpGet(w, "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find("not ready: not welcomed"), std::string::npos) << not_ready.body;

  StartBroker();
  EXPECT_EQ(HttpGet(broker_metrics_, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(broker_metrics_, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(broker_metrics_, "/nothing-here").status, 404);
  EXPECT_TRUE(Eventually([&] { return HttpGet(w, "/readyz").status == 200; }, 15s))
      << workers_[0]->Log();

  // The broker goes away: the worker is no longer ready (but still alive).
  broker_->Signal(SIGKILL);
  ASSERT_TRUE(broker_->Wait(10s).has_value());
  EXPECT_TRUE(Eventually([&] { return HttpGet(w, "/readyz").status == 503; }, 15s));
  EXPECT_EQ(HttpGet(w, "/healthz").status, 200);
}

TEST_F(ObservabilityTest, AMetricsPortInUseStopsTheProcessWithAClearError) {
  StartBroker();
  // The worker asks for the broker's metrics port.
  Process& worker = StartWorker("w1", "jobs", 1, "1:2");
  std::vector<std::string> argv = {Binary("mandrill-worker"), "--broker", endpoint_, "--ledger",
                                   dir_ + "/second.db", "--metrics-bind", broker_metrics_};
  std::string out;
  EXPECT_EQ(Run(argv, &out, 20s), 1) << out;
  EXPECT_NE(out.find("cannot listen there"), std::string::npos) << out;
  EXPECT_TRUE(worker.running());  // the first one, on its own port, is unaffected
  EXPECT_EQ(Run({Binary("mandrill-broker"), "--metrics-bind", "nonsense"}, &out), 64) << out;
  EXPECT_NE(out.find("expected HOST:PORT"), std::string::npos) << out;
}

}  // namespace
}  // namespace mandrill::testing
