#pragma once
// A broker and workers with --metrics-bind on free loopback ports, an HTTP getter for their
// endpoints, and the Prometheus tools (promtool, prometheus) from Debian's `prometheus` package.
// The tools are required under CI (a missing one fails the test); elsewhere it is skipped.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace mandrill::testing {

struct HttpResult {
  int status = 0;  // 0: no answer
  std::string body;
  std::string content_type;
};
HttpResult HttpGet(const std::string& host_port, const std::string& path);

// The path of a Prometheus tool, or nullopt (the caller skips, or fails under CI).
std::optional<std::string> PrometheusTool(const std::string& name);

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Broker on a free port (or endpoint_ if set) with --metrics-bind; journal storage (so fsync latency is measured).
  void StartBroker(std::vector<std::string> flags = {});
  // A mandrill-worker consuming `queue` whose handler takes `restart_ms` per message.
  Process& StartWorker(const std::string& name, const std::string& queue, int concurrency,
                       const std::string& restart_ms);
  // mandrill-publish of `count` messages to `queue`; expects them all confirmed.
  void Publish(const std::string& queue, int count);
  // Runs a tool to completion (bounded); returns its exit code and fills `output`.
  int Run(std::vector<std::string> argv, std::string* output,
          std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // `promtool check metrics` on `text`: empty when it is accepted, else its complaint.
  std::string PromtoolComplaint(const std::string& text);
  // `mandrill-ctl stats --json`.
  std::string StatsJson();

  std::string dir_;
  std::string endpoint_;
  std::string broker_metrics_;
  std::unique_ptr<Process> broker_;
  std::vector<std::unique_ptr<Process>> workers_;
  std::vector<std::string> worker_metrics_;
  int runs_ = 0;
};

// The integer after "KEY": in the JSON object of queue `queue` (mandrill-ctl's compact output).
std::optional<long long> QueueField(const std::string& stats_json, const std::string& queue,
                                    const std::string& key);

}  // namespace mandrill::testing
