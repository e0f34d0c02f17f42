// A real Prometheus server (Debian's), configured by the test, scrapes a broker and two workers
// every second; its query API then shows what `mandrill-ctl stats` shows.
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/observability/observability_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The values of an instant query's vector result, in the order Prometheus returns them
// ("value":[<time>,"<value>"]); empty when it has none (yet).
std::vector<double> QueryValues(const std::string& prometheus, const std::string& query) {
  const auto r = HttpGet(prometheus, "/api/v1/query?query=" + UrlEncode(query));
  std::vector<double> out;
  if (r.status != 200) return out;
  static const std::regex value(R"re("value":\[[0-9.]+,"([^"]+)"\])re");
  for (auto it = std::sregex_iterator(r.body.begin(), r.body.end(), value);
       it != std::sregex_iterator(); ++it) {
    out.push_back(std::stod((*it)[1]));
  }
  return out;
}

TEST_F(ObservabilityTest, PrometheusScrapesABrokerAndTwoWorkersAndAgreesWithCtlStats) {
  const auto prometheus = PrometheusTool("prometheus");
  if (!prometheus) {
    if (std::getenv("CI") != nullptr) FAIL() << "prometheus missing under CI";
    GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  }
  StartBroker();
  // Handlers that outlast the test hold 2 messages each: the rest stays ready, a known figure.
  StartWorker("w1", "jobs", 2, "600000:600000");
  StartWorker("w2", "jobs", 2, "600000:600000");
  Publish("jobs", 30);
  std::string stats;
  ASSERT_TRUE(Eventually(
      [&] {
        stats = StatsJson();
        return QueueField(stats, "jobs", "in_flight") == 4;
      },
      15s))
      << stats;
  const long long ready = QueueField(stats, "jobs", "ready").value_or(-1);
  ASSERT_EQ(ready, 26) << stats;

  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  const std::string config = dir_ + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        << "scrape_configs:\n"
                        << "  - job_name: mandrill-broker\n    static_configs:\n"
                        << "      - targets: ['" << broker_metrics_ << "']\n"
                        << "  - job_name: mandrill-worker\n    static_configs:\n"
                        << "      - targets: ['" << worker_metrics_[0] << "', '"
                        << worker_metrics_[1] << "']\n";
  Process server({*prometheus, "--config.file=" + config,
                  "--storage.tsdb.path=" + dir_ + "/tsdb", "--web.listen-address=" + listen,
                  "--log.level=warn"},
                 dir_ + "/prometheus.log");

  // Every target up (three scrapes succeeded), then the figures.
  std::vector<double> up;
  EXPECT_TRUE(Eventually(
      [&] {
        up = QueryValues(listen, "up == 1");
        return up.size() == 3;
      },
      60s))
      << server.Log();
  std::vector<double> prom_ready;
  EXPECT_TRUE(Eventually(
      [&] {
        prom_ready = QueryValues(listen, "mandrill_queue_messages_ready{queue=\"jobs\"}");
        return prom_ready.size() == 1 && prom_ready[0] == static_cast<double>(ready);
      },
      30s))
      << (prom_ready.empty() ? std::string("no sample") : std::to_string(prom_ready[0]));
  EXPECT_EQ(QueryValues(listen, "mandrill_queue_messages_unacked{queue=\"jobs\"}"),
            std::vector<double>{4});
  EXPECT_EQ(QueryValues(listen, "mandrill_workers_connected"), std::vector<double>{2});
  // The worker series: one per worker, each holding its two messages.
  std::vector<double> in_flight;
  EXPECT_TRUE(Eventually(
      [&] {
        in_flight = QueryValues(listen, "mandrill_worker_messages_in_flight");
        return in_flight == std::vector<double>{2, 2};
      },
      30s));
  EXPECT_EQ(QueryValues(listen, "count by (worker) (mandrill_worker_credit)").size(), 2u);
  EXPECT_EQ(QueryValues(listen, "count(mandrill_worker_loop_lag_seconds_bucket) > 0").size(), 1u);
  EXPECT_EQ(
      QueryValues(listen, "count(mandrill_worker_handler_seconds_count{outcome=\"acked\"})"),
      std::vector<double>{2});
  // The longest-running handler is measured while it runs.
  EXPECT_EQ(QueryValues(listen, "mandrill_worker_longest_running_seconds > 0").size(), 2u);
}

}  // namespace
}  // namespace mandrill::testing
