// mandrill-ctl against the fake broker: canned replies rendered, ERROR -> 1, silence -> 2.
#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

FakeBrokerScript CannedScript() {
  FakeBrokerScript s;
  s.stats.broker_id = "b-1234";
  s.stats.uptime_ms = 3'723'000;
  protocol::QueueStats q;
  q.name = "restarts";
  q.ready = 12;
  q.in_flight = 4;
  q.dead = 1;
  q.published = 1000;
  q.acked = 983;
  q.redelivered = 17;
  s.stats.queues.push_back(q);
  protocol::WorkerStats full;
  full.name = "worker-a";
  full.peer = "0a1b";
  full.queues = {"restarts"};
  full.credit = 4;
  full.in_flight = 4;
  full.delivered = 500;
  full.idle_ms = 120;
  protocol::WorkerStats idle = full;
  idle.name = "worker \"b\"";
  idle.in_flight = 0;
  s.stats.workers = {full, idle};
  s.stats.counters = {{"journal_syncs", 77}};
  s.queues.names = {"restarts", "audits"};
  s.dlq_list.queue = "restarts";
  s.dlq_list.total = 1;
  s.dlq_list.items.push_back(
      protocol::DeadLetter{"r-9", 5, "host unreachable", 1'700'000'000'000, "restart cattle-x7q2"});
  s.admin_ok.count = 2;
  return s;
}

class CtlTest : public PublisherProcessTest {
 protected:
  Process StartCtl(std::vector<std::string> args, const std::string& log = "ctl.log") {
    std::vector<std::string> argv = {Binary("mandrill-ctl"), "--broker", endpoint_, "--timeout",
                                     "5s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, Path(log));
  }
};

TEST_F(CtlTest, StatsTableShowsQueuesWorkersAndFullMark) {
  FakeBroker broker(endpoint_, CannedScript());
  auto p = StartCtl({"stats"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  EXPECT_NE(out.find("broker b-1234, up 1h02m"), std::string::npos) << out;
  EXPECT_NE(out.find("REDELIVERED"), std::string::npos) << out;
  EXPECT_NE(out.find("restarts     12          4         0     1       1000    983           17"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("FULL"), std::string::npos) << out;
  EXPECT_NE(out.find("journal_syncs"), std::string::npos) << out;
  ASSERT_EQ(broker.admin_requests().size(), 1u);
  EXPECT_TRUE(std::holds_alternative<protocol::StatsRequest>(broker.admin_requests()[0]));
}

TEST_F(CtlTest, StatsJsonIsOneEscapedObject) {
  FakeBroker broker(endpoint_, CannedScript());
  auto p = StartCtl({"stats", "--json"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  EXPECT_EQ(out.front(), '{') << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("\"name\":\"worker \\\"b\\\"\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"full\":true"), std::string::npos) << out;
  EXPECT_NE(out.find("\"counters\":{\"journal_syncs\":77}"), std::string::npos) << out;
}

TEST_F(CtlTest, QueuesListsNames) {
  FakeBroker broker(endpoint_, CannedScript());
  auto p = StartCtl({"queues"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(p.Log(), "restarts\naudits\n");
}

TEST_F(CtlTest, DlqListSendsQueueAndLimit) {
  FakeBroker broker(endpoint_, CannedScript());
  auto p = StartCtl({"dlq", "list", "restarts", "--limit", "7"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_NE(p.Log().find("host unreachable"), std::string::npos) << p.Log();
  EXPECT_NE(p.Log().find("2023-11-14T22:13:20.000Z"), std::string::npos) << p.Log();
  const auto req = std::get<protocol::DlqListRequest>(broker.admin_requests().at(0));
  EXPECT_EQ(req.queue, "restarts");
  EXPECT_EQ(req.limit, 7u);
}

TEST_F(CtlTest, DlqRequeueSendsIdsAndPrintsCount) {
  FakeBroker broker(endpoint_, CannedScript());
  auto p = StartCtl({"dlq", "requeue", "restarts", "r-9", "r-10"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(p.Log(), "requeued 2 messages of restarts\n");
  const auto req = std::get<protocol::DlqRequeueRequest>(broker.admin_requests().at(0));
  EXPECT_EQ(req.ids, (std::vector<std::string>{"r-9", "r-10"}));
}

TEST_F(CtlTest, DlqPurgeWithoutIdsMeansAll) {
  FakeBroker broker(endpoint_, CannedScript());
  auto p = StartCtl({"dlq", "purge", "restarts"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const auto req = std::get<protocol::DlqPurgeRequest>(broker.admin_requests().at(0));
  EXPECT_TRUE(req.ids.empty());
  EXPECT_EQ(p.Log(), "purged 2 messages of restarts\n");
}

TEST_F(CtlTest, ErrorReplyExitsOneWithReasonAndCode) {
  auto script = CannedScript();
  protocol::Error e;
  e.code = protocol::ErrorCode::kUnknownQueue;
  e.reason = "no queue 'nope'";
  script.admin_error = e;
  FakeBroker broker(endpoint_, script);
  auto p = StartCtl({"dlq", "list", "nope"});
  ASSERT_EQ(ExitCode(p), 1) << p.Log();
  EXPECT_EQ(p.Log(), "mandrill-ctl: no queue 'nope' (code 201 unknown queue)\n");
}

TEST_F(CtlTest, SilentBrokerExitsTwo) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  auto p = Process({Binary("mandrill-ctl"), "--broker", endpoint_, "--timeout", "300ms", "stats"},
                   Path("ctl.log"));
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  EXPECT_EQ(p.Log(), "mandrill-ctl: no answer from " + endpoint_ +
                         " within 300ms: is mandrill-broker running?\n");
}

TEST_F(CtlTest, NoBrokerExitsTwo) {
  auto p = Process({Binary("mandrill-ctl"), "--broker", endpoint_, "--timeout", "300ms", "queues"},
                   Path("ctl.log"));
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  EXPECT_NE(p.Log().find("is mandrill-broker running?"), std::string::npos) << p.Log();
}

TEST_F(CtlTest, UsageErrorsExit64) {
  const std::vector<std::vector<std::string>> cases = {{"--timeout", "soon", "stats"},
                                                       {},
                                                       {"dlq"},
                                                       {"dlq", "list"},
                                                       {"dlq", "list", "q", "--limit", "-1"},
                                                       {"frobnicate"},
                                                       {"dlq", "list", "bad queue"}};
  int i = 0;
  for (const auto& args : cases) {
    auto p = StartCtl(args, "usage" + std::to_string(i++) + ".log");
    ASSERT_EQ(ExitCode(p, 10s), 64) << p.Log();
    const std::string log = p.Log();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_EQ(log.rfind("mandrill-ctl: ", 0), 0u) << log;
  }
}

}  // namespace
}  // namespace mandrill::publisher::testing
