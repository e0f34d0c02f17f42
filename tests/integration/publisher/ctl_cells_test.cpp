// mandrill-ctl --cells against three fake brokers: totals and a line per cell, a cell that is
// down reported beside what the others said (exit 2, and only one --timeout spent), DLQ
// commands reach every cell, and the flags' rules are the publisher's.
#include <chrono>
#include <memory>

#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

// Cell i (1-based) holds `restarts` with ready 10*i, one worker "worker-<i>", broker id
// "b-cell-<i>"; requeue/purge report i-1 messages.
FakeBrokerScript CellScript(int i) {
  FakeBrokerScript s;
  s.stats.broker_id = "b-cell-" + std::to_string(i);
  s.stats.uptime_ms = 60'000 * i;
  protocol::QueueStats q;
  q.name = "restarts";
  q.ready = 10 * i;
  q.in_flight = i;
  q.dead = 1;
  q.published = 100 * i;
  s.stats.queues.push_back(q);
  protocol::WorkerStats w;
  w.name = "worker-" + std::to_string(i);
  w.peer = "p" + std::to_string(i);
  w.queues = {"restarts"};
  w.credit = 4;
  w.in_flight = i;
  s.stats.workers.push_back(w);
  s.stats.counters = {{"broker.frames_in", 10 * i}, {"broker.epoch", i}};
  s.stats.queues_total = 1;
  s.stats.workers_total = 1;
  s.queues.names = {"restarts", "cell-" + std::to_string(i) + "-only"};
  s.dlq_list.queue = "restarts";
  s.dlq_list.total = 1;
  s.dlq_list.items.push_back(protocol::DeadLetter{"dead-on-" + std::to_string(i), 5, "boom",
                                                  1'700'000'000'000 + i, "payload"});
  s.admin_ok.count = static_cast<std::uint64_t>(i - 1);
  return s;
}

class CtlCellsTest : public PublisherProcessTest {
 protected:
  void SetUp() override {
    PublisherProcessTest::SetUp();
    std::string map = "# three cells\n";
    for (int i = 1; i <= 3; ++i) {
      endpoints_.push_back(mandrill::testing::LoopbackEndpoint(mandrill::testing::FreePort()));
      map += "cell-" + std::to_string(i) + " " + endpoints_.back() + "\n";
    }
    WriteFile(Path("cells"), map);
  }

  // Fake brokers for the cells named (1-based); the others have nothing listening.
  void StartCells(std::initializer_list<int> cells) {
    for (int i : cells) {
      brokers_.push_back(std::make_unique<FakeBroker>(endpoints_[i - 1], CellScript(i)));
    }
  }

  Process StartCtl(std::vector<std::string> args, const std::string& timeout = "5s",
                   std::vector<std::string> env = {}, const std::string& log = "ctl.log") {
    std::vector<std::string> argv = {Binary("mandrill-ctl"), "--cells", Path("cells"), "--timeout",
                                     timeout};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, Path(log), std::move(env));
  }

  std::vector<std::string> endpoints_;
  std::vector<std::unique_ptr<FakeBroker>> brokers_;
};

TEST_F(CtlCellsTest, StatsShowsTotalsThenALinePerCell) {
  StartCells({1, 2, 3});
  auto p = StartCtl({"stats"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  EXPECT_NE(out.find("3 cells, 3 answered; totals of those:"), std::string::npos) << out;
  // ready 10+20+30, in flight 1+2+3, dead 3, published 600.
  EXPECT_NE(out.find("restarts     60          6         0     3        600"), std::string::npos)
      << out;
  EXPECT_NE(out.find("cell-2  worker-2"), std::string::npos) << out;
  EXPECT_NE(out.find("broker.frames_in     60"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-1  ok     b-cell-1  1m00s      1       1        1     10"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("cell-3  ok     b-cell-3  3m00s      3       1        1     30"),
            std::string::npos)
      << out;
  for (const auto& b : brokers_) {
    ASSERT_EQ(b->admin_requests().size(), 1u);
    EXPECT_TRUE(std::holds_alternative<protocol::StatsRequest>(b->admin_requests()[0]));
  }
}

TEST_F(CtlCellsTest, CellsThatAreDownAreReportedAndTheOthersStillShownInOneTimeout) {
  StartCells({1});  // cell-2 and cell-3: nothing listening
  const auto started = std::chrono::steady_clock::now();
  auto p = StartCtl({"stats"}, "1s");
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  const auto took = std::chrono::steady_clock::now() - started;
  const std::string out = p.Log();
  EXPECT_NE(out.find("3 cells, 1 answered"), std::string::npos) << out;
  EXPECT_NE(out.find("restarts     10"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-1  ok         b-cell-1"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-2  no answer  -"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-3: no answer from " + endpoints_[2] +
                     " within 1s: is mandrill-broker running?"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("mandrill-ctl: 2 of 3 cells failed (cell-2 no answer, cell-3 no answer)"),
            std::string::npos)
      << out;
  // Asked at once: two dead cells cost one --timeout, not two.
  EXPECT_LT(took, std::chrono::milliseconds(1900)) << out;
}

TEST_F(CtlCellsTest, StatsJsonHasTotalsAndCells) {
  StartCells({1, 3});
  auto p = StartCtl({"stats", "--json"}, "500ms");
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  const std::string out = p.Log();
  EXPECT_EQ(out.rfind("{\"cells_total\":3,\"cells_answered\":2,\"totals\":{\"queues\":[{\"name\":"
                      "\"restarts\",\"ready\":40,",
                      0),
            0u)
      << out;
  EXPECT_NE(out.find("{\"cell\":\"cell-3\",\"name\":\"worker-3\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"broker_id\":\"b-cell-3\",\"uptime_ms\":180000,\"epoch\":3"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("{\"name\":\"cell-2\",\"endpoint\":\"" + endpoints_[1] +
                     "\",\"answered\":false,\"error\":\"no answer from"),
            std::string::npos)
      << out;
}

TEST_F(CtlCellsTest, QueuesAreTheUnionWithTheirCells) {
  StartCells({1, 2, 3});
  auto p = StartCtl({"queues"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(p.Log(),
            "QUEUE        CELLS\n"
            "cell-1-only  cell-1\n"
            "cell-2-only  cell-2\n"
            "cell-3-only  cell-3\n"
            "restarts     cell-1,cell-2,cell-3\n");
}

TEST_F(CtlCellsTest, DlqListShowsEveryCellsDeadLettersTagged) {
  StartCells({1, 2, 3});
  auto p = StartCtl({"dlq", "list", "restarts", "--limit", "7"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  EXPECT_NE(out.find("dead letters of restarts: 3 total (cell-1 1, cell-2 1, cell-3 1), 3 shown"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("cell-2  dead-on-2"), std::string::npos) << out;
  for (const auto& b : brokers_) {
    const auto req = std::get<protocol::DlqListRequest>(b->admin_requests().at(0));
    EXPECT_EQ(req.limit, 7u);
  }
}

TEST_F(CtlCellsTest, DlqRequeueReachesEveryCellAndSumsTheCounts) {
  StartCells({1, 2, 3});
  auto p = StartCtl({"dlq", "requeue", "restarts", "r-1", "r-2"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  // r-1 and r-2 found on cells 2 (1) and 3 (2) between them: none missing.
  EXPECT_EQ(p.Log(), "requeued 3 messages of restarts (cell-1 0, cell-2 1, cell-3 2)\n");
  for (const auto& b : brokers_) {
    ASSERT_EQ(b->admin_requests().size(), 1u);
    const auto req = std::get<protocol::DlqRequeueRequest>(b->admin_requests()[0]);
    EXPECT_EQ(req.queue, "restarts");
    EXPECT_EQ(req.ids, (std::vector<std::string>{"r-1", "r-2"}));
  }
}

TEST_F(CtlCellsTest, CellWithoutTheQueueIsNotAFailure) {
  StartCells({1, 2});
  auto script = CellScript(3);
  protocol::Error e;
  e.code = protocol::ErrorCode::kUnknownQueue;
  e.reason = "no queue named 'restarts'";
  script.admin_error = e;
  FakeBroker third(endpoints_[2], script);
  auto p = StartCtl({"dlq", "purge", "restarts"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(p.Log(), "purged 1 message of restarts (cell-1 0, cell-2 1, cell-3 no such queue)\n");
  const auto req = std::get<protocol::DlqPurgeRequest>(third.admin_requests().at(0));
  EXPECT_TRUE(req.ids.empty());
}

TEST_F(CtlCellsTest, TopOnceShowsTheFleetWithACellColumn) {
  StartCells({1, 2, 3});
  auto p = StartCtl({"top", "--once", "--interval", "200ms"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  EXPECT_NE(out.find("cells 3/3 answering  up 1m00s  queues 1  workers 3"), std::string::npos)
      << out;
  EXPECT_NE(out.find("restarts     60"), std::string::npos) << out;
  EXPECT_NE(out.find("CELL    WORKER"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-3  worker-3"), std::string::npos) << out;
}

TEST_F(CtlCellsTest, FlagsFollowThePublishersRules) {
  auto both = Process(
      {Binary("mandrill-ctl"), "--cells", Path("cells"), "--broker", endpoints_[0], "stats"},
      Path("both.log"));
  ASSERT_EQ(ExitCode(both), 64) << both.Log();
  EXPECT_EQ(both.Log(),
            "mandrill-ctl: --broker and --cells both given: use --broker for one broker or "
            "--cells for a cell map, not both (see mandrill-ctl --help)\n");
  WriteFile(Path("b.pub"), "x");
  auto key = StartCtl({"--broker-key", Path("b.pub"), "stats"}, "5s", {}, "key.log");
  ASSERT_EQ(ExitCode(key), 64) << key.Log();
  EXPECT_NE(key.Log().find("--broker-key is for --broker"), std::string::npos) << key.Log();
  // MANDRILL_BROKER from the environment gives way to --cells.
  StartCells({1, 2, 3});
  auto env = StartCtl({"queues"}, "5s", {"MANDRILL_BROKER=" + endpoints_[0]}, "env.log");
  ASSERT_EQ(ExitCode(env), 0) << env.Log();
  EXPECT_NE(env.Log().find("cell-3-only"), std::string::npos) << env.Log();
}

}  // namespace
}  // namespace mandrill::publisher::testing
