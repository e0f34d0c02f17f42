// What each worker is doing, end to end: a real worker reports its running handlers in
// heartbeats, and `mandrill-ctl stats --json` (the view `top` draws) lists them with their ages.
#include <regex>

#include "tests/integration/observability/observability_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(ObservabilityTest, StatsListEachWorkersRunningHandlersWithTheirRunTimes) {
  StartBroker();
  StartWorker("w1", "jobs", 3, "600000:600000");  // handlers that outlast the test
  Publish("jobs", 5);
  // Reported once per heartbeat (1 s): every task of w1 gets a run time within a few seconds.
  std::string stats;
  static const std::regex task(
      R"re(\{"id":"[^"]+","queue":"jobs","attempt":1,"leased_ms":([0-9]+),"running_ms":([0-9]+)\})re");
  std::vector<std::pair<long long, long long>> tasks;
  EXPECT_TRUE(Eventually(
      [&] {
        stats = StatsJson();
        tasks.clear();
        for (auto it = std::sregex_iterator(stats.begin(), stats.end(), task);
             it != std::sregex_iterator(); ++it) {
          tasks.emplace_back(std::stoll((*it)[1]), std::stoll((*it)[2]));
        }
        return tasks.size() == 3 && tasks[0].second >= 1000;
      },
      20s))
      << stats;
  for (const auto& [leased, running] : tasks) {
    EXPECT_GT(running, 0) << stats;
    EXPECT_LE(running, leased) << stats;  // never more than the lease's age
  }
  EXPECT_EQ(QueueField(stats, "jobs", "ready"), 2) << stats;
  EXPECT_EQ(QueueField(stats, "jobs", "consumers"), 1) << stats;
  EXPECT_GT(QueueField(stats, "jobs", "oldest_ready_ms").value_or(0), 0) << stats;
}

}  // namespace
}  // namespace mandrill::testing
