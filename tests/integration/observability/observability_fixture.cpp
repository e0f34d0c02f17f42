#include "tests/integration/observability/observability_fixture.h"

#include "tests/support/promtool.h"

#include <httplib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

namespace mandrill::testing {

HttpResult HttpGet(const std::string& host_port, const std::string& path) {
  const auto colon = host_port.rfind(':');
  httplib::Client client(host_port.substr(0, colon), std::stoi(host_port.substr(colon + 1)));
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  HttpResult out;
  if (auto res = client.Get(path)) {
    out.status = res->status;
    out.body = res->body;
    out.content_type = res->get_header_value("Content-Type");
  }
  return out;
}

std::optional<std::string> PrometheusTool(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/"}) {
    const std::string path = dir + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

void ObservabilityTest::SetUp() { dir_ = MakeTempDir("mandrill-observability-test"); }

void ObservabilityTest::TearDown() {
  workers_.clear();
  broker_.reset();
  if (!HasFailure()) {
    std::filesystem::remove_all(dir_);
  } else {
    std::cerr << "observability test files kept in " << dir_ << "\n";
  }
}

void ObservabilityTest::StartBroker(std::vector<std::string> flags) {
  if (endpoint_.empty()) endpoint_ = LoopbackEndpoint(FreePort());
  if (broker_metrics_.empty()) broker_metrics_ = "127.0.0.1:" + std::to_string(FreePort());
  std::vector<std::string> all = {"--storage", "journal", "--metrics-bind", broker_metrics_};
  all.insert(all.end(), flags.begin(), flags.end());
  broker_ = std::make_unique<Process>(BrokerArgv(endpoint_, dir_ + "/data", all),
                                      dir_ + "/broker.log");
  ASSERT_TRUE(broker_->WaitForLog("listening on", std::chrono::seconds(10))) << broker_->Log();
}

Process& ObservabilityTest::StartWorker(const std::string& name, const std::string& queue,
                                        int concurrency, const std::string& restart_ms) {
  if (endpoint_.empty()) endpoint_ = LoopbackEndpoint(FreePort());  // the broker may come later
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  worker_metrics_.push_back(metrics);
  workers_.push_back(std::make_unique<Process>(
      std::vector<std::string>{Binary("mandrill-worker"), "--broker", endpoint_, "--queue", queue,
                               "--name", name, "--concurrency", std::to_string(concurrency),
                               "--restart-ms", restart_ms, "--metrics-bind", metrics,
                               "--ledger", dir_ + "/" + name + ".db", "--log-level", "debug"},
      dir_ + "/" + name + ".log"));
  return *workers_.back();
}

int ObservabilityTest::Run(std::vector<std::string> argv, std::string* output,
                           std::chrono::milliseconds timeout) {
  Process p(std::move(argv), dir_ + "/run-" + std::to_string(++runs_) + ".log");
  const auto rc = p.Wait(timeout);
  if (output != nullptr) *output = p.Log();
  return rc.value_or(-1);
}

void ObservabilityTest::Publish(const std::string& queue, int count) {
  std::string out;
  const int rc = Run({Binary("mandrill-publish"), "--broker", endpoint_, "--queue", queue,
                      "--count", std::to_string(count)},
                     &out);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_NE(out.find("confirmed=" + std::to_string(count)), std::string::npos) << out;
}

std::string ObservabilityTest::PromtoolComplaint(const std::string& text) {
  const auto complaint = ::mandrill::testing::PromtoolComplaint(text);
  return complaint ? *complaint : "promtool is not installed (Debian package prometheus)";
}

std::string ObservabilityTest::StatsJson() {
  std::string out;
  const int rc = Run({Binary("mandrill-ctl"), "--broker", endpoint_, "stats", "--json"}, &out);
  EXPECT_EQ(rc, 0) << out;
  return out;
}

std::optional<long long> QueueField(const std::string& stats_json, const std::string& queue,
                                    const std::string& key) {
  const auto at = stats_json.find("{\"name\":\"" + queue + "\"");
  if (at == std::string::npos) return std::nullopt;
  const std::string object = stats_json.substr(at, stats_json.find('}', at) - at);
  std::smatch m;
  if (!std::regex_search(object, m, std::regex("\"" + key + "\":(-?[0-9]+)"))) return std::nullopt;
  return std::stoll(m[1]);
}

}  // namespace mandrill::testing
