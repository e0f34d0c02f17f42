// mandrill-worker --cells against three real brokers: it consumes from every cell, a cell that
// dies stalls nothing from the others (and its messages are consumed once it is back), and the
// credit goes where the messages are.
#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

class WorkerCellsTest : public WorkerTest {
 protected:
  static constexpr int kCells = 3;

  void SetUp() override {
    WorkerTest::SetUp();
    std::string map;
    for (int k = 0; k < kCells; ++k) {
      ports_[k] = FreePort();
      map += "cell-" + std::to_string(k + 1) + " " + LoopbackEndpoint(ports_[k]) + "\n";
      StartCell(k);
    }
    std::ofstream(dir_ + "/cells") << map;
  }
  void TearDown() override {
    cell_clients_.clear();
    for (auto& c : cells_) c.reset();
    WorkerTest::TearDown();
  }

  void StartCell(int k) {
    cell_clients_.erase(k);
    cells_[k] = std::make_unique<Process>(
        BrokerArgv(LoopbackEndpoint(ports_[k]), dir_ + "/data-" + std::to_string(k),
                   {"--storage", "journal", "--heartbeat-ms", "200"}),
        dir_ + "/cell-" + std::to_string(k + 1) + "-" + std::to_string(++starts_) + ".log");
    ASSERT_TRUE(cells_[k]->WaitForLog("listening on", 10s)) << cells_[k]->Log();
  }
  Client& CellClient(int k) {
    auto& c = cell_clients_[k];
    if (!c) c = std::make_unique<Client>(context_, LoopbackEndpoint(ports_[k]));
    return *c;
  }
  void PublishTo(int k, const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      CellClient(k).PublishConfirmed("restarts", prefix + "-" + std::to_string(i));
    }
  }
  protocol::StatsReply CellStats(int k) {
    Client admin(context_, LoopbackEndpoint(ports_[k]));
    admin.Send(protocol::StatsRequest{7});
    auto reply = admin.Expect<protocol::StatsReply>(5s);
    EXPECT_TRUE(reply.has_value()) << "no STATS_REPLY from cell " << k + 1;
    return reply.value_or(protocol::StatsReply{});
  }
  std::uint64_t Acked(int k) {
    for (const auto& q : CellStats(k).queues) {
      if (q.name == "restarts") return q.acked;
    }
    return 0;
  }
  Process& StartCellsWorker(std::vector<std::string> flags) {
    std::vector<std::string> argv = {Binary("mandrill-worker"),
                                     "--cells",
                                     dir_ + "/cells",
                                     "--queue",
                                     "restarts",
                                     "--name",
                                     "w",
                                     "--log-level",
                                     "info",
                                     "--heartbeat-ms",
                                     "200"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    workers_.push_back(std::make_unique<Process>(argv, dir_ + "/w.log"));
    return *workers_.back();
  }

  int ports_[kCells] = {};
  int starts_ = 0;
  std::unique_ptr<Process> cells_[kCells];
  std::map<int, std::unique_ptr<Client>> cell_clients_;
};

TEST_F(WorkerCellsTest, ItConsumesFromEveryCell) {
  for (int k = 0; k < kCells; ++k) PublishTo(k, "c" + std::to_string(k), 20);
  const std::string ledger = dir_ + "/ledger.db";
  Process& w = StartCellsWorker({"--concurrency", "6", "--restart-ms", "0:5", "--ledger", ledger});
  for (int k = 0; k < kCells; ++k) {
    ASSERT_TRUE(Eventually([&] { return Acked(k) == 20; }, 20s)) << "cell " << k + 1 << "\n"
                                                                 << w.Log();
  }
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_EQ(LedgerRows(ledger), 60);
  EXPECT_NE(w.Log().find("from 3 cells (cell-1, cell-2, cell-3)"), std::string::npos) << w.Log();
  EXPECT_NE(w.Log().find("acked 60, nacked 0"), std::string::npos) << w.Log();
}

TEST_F(WorkerCellsTest, ACellThatDiesStallsNothingAndItsMessagesAreConsumedWhenItIsBack) {
  const std::string ledger = dir_ + "/ledger.db";
  Process& w = StartCellsWorker({"--concurrency", "6", "--restart-ms", "0:5", "--ledger", ledger,
                                 "--reconnect-max", "300ms"});
  PublishTo(1, "early", 5);
  ASSERT_TRUE(Eventually([&] { return Acked(1) == 5; }, 20s)) << w.Log();
  PublishTo(1, "kept", 10);  // consumed now or after the restart: journal storage keeps them
  cells_[1]->Kill();         // SIGKILL: no goodbye
  cell_clients_.erase(1);
  PublishTo(0, "a", 20);
  PublishTo(2, "b", 20);
  ASSERT_TRUE(Eventually([&] { return Acked(0) == 20 && Acked(2) == 20; }, 20s)) << w.Log();
  StartCell(1);
  // Acks lost with the cell's connection mean some are handled twice: count distinct ids.
  const std::string kept_once =
      "message_id LIKE 'kept-%' AND rowid IN (SELECT MIN(rowid) FROM processed GROUP BY "
      "message_id)";
  ASSERT_TRUE(Eventually([&] { return LedgerRows(ledger, kept_once) == 10; }, 30s)) << w.Log();
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_EQ(LedgerRows(ledger, "message_id LIKE 'a-%' OR message_id LIKE 'b-%'"), 40);
}

TEST_F(WorkerCellsTest, TheCreditGoesToTheCellWithTheMessages) {
  PublishTo(0, "deep", 200);
  // Slow handlers: the worker holds its whole credit while the depth reports arrive.
  Process& w = StartCellsWorker({"--concurrency", "9", "--restart-ms", "300:300"});
  auto credit_of = [&](int k) -> std::uint32_t {
    for (const auto& ws : CellStats(k).workers) {
      if (ws.name == "w") return ws.credit;
    }
    return 0;
  };
  // Before any depth is known it is 3 each; once cell-1 says 200 are ready, it gets nearly all.
  ASSERT_TRUE(Eventually([&] { return credit_of(0) >= 7; }, 20s)) << w.Log();
  EXPECT_LE(credit_of(0) + credit_of(1) + credit_of(2), 9u);
  w.Signal(SIGQUIT);  // nack what it holds: the test is about the split only
  ASSERT_TRUE(w.Wait(15s).has_value()) << w.Log();
}

}  // namespace
}  // namespace mandrill::testing
