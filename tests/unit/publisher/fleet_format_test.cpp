// mandrill-ctl --cells output: totals first, then a line per cell; a failed cell's reason is
// printed, and JSON has the totals beside a `cells` array.
#include "publisher/fleet_format.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "publisher/admin_client.h"

namespace mandrill::publisher {
namespace {

FleetStats TwoOfThreeCells() {
  protocol::StatsReply one;
  one.broker_id = "b-1";
  one.uptime_ms = 3'723'000;
  protocol::QueueStats q;
  q.name = "restarts";
  q.ready = 12;
  q.in_flight = 4;
  q.dead = 1;
  one.queues = {q};
  protocol::WorkerStats w;
  w.name = "worker-a";
  w.peer = "0a1b";
  w.credit = 4;
  one.workers = {w};
  one.counters = {{"broker.epoch", 5}, {"broker.frames_in", 9}};
  protocol::StatsReply three = one;
  three.broker_id = "b-3";
  three.counters = {{"broker.frames_in", 1}};
  return MergeStats({{"cell-1", "tcp://a:1", one},
                     {"cell-2", "tcp://b:1", core::Error{CtlErrc::kNoAnswer, "no answer from b"}},
                     {"cell-3", "tcp://c:1", three}});
}

TEST(FleetFormatTest, StatsTableShowsTotalsThenEachCellAndTheReason) {
  const std::string out = RenderFleetStatsTable(TwoOfThreeCells());
  EXPECT_EQ(out.rfind("3 cells, 2 answered; totals of those:\n", 0), 0u) << out;
  EXPECT_NE(out.find("restarts     24          8         0     2"), std::string::npos) << out;
  EXPECT_NE(out.find("CELL    WORKER"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-3  worker-a"), std::string::npos) << out;
  EXPECT_NE(out.find("broker.frames_in     10"), std::string::npos) << out;
  EXPECT_EQ(out.find("broker.epoch"), std::string::npos) << out;  // per cell, not a total
  EXPECT_NE(out.find("cell-1  ok         b-1     1h02m      5"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-2  no answer  -"), std::string::npos) << out;
  EXPECT_NE(out.find("cell-3  ok         b-3     1h02m      -"), std::string::npos) << out;
  EXPECT_NE(out.find("\ncell-2: no answer from b\n"), std::string::npos) << out;
  // Totals come before the breakdown.
  EXPECT_LT(out.find("QUEUE "), out.find("STATE"));
}

TEST(FleetFormatTest, StatsJsonHasTotalsAndCells) {
  const std::string out = RenderFleetStatsJson(TwoOfThreeCells());
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("{\"cells_total\":3,\"cells_answered\":2,\"totals\":{\"queues\":[{\"name\":"
                      "\"restarts\",\"ready\":24,",
                      0),
            0u)
      << out;
  EXPECT_NE(out.find("\"workers\":[{\"cell\":\"cell-1\",\"name\":\"worker-a\""), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"counters\":{\"broker.frames_in\":10}"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"name\":\"cell-1\",\"endpoint\":\"tcp://a:1\",\"answered\":true,"
                     "\"broker_id\":\"b-1\",\"uptime_ms\":3723000,\"epoch\":5,\"queues\":1,"
                     "\"workers\":1,\"ready\":12,\"in_flight\":4,\"deferred\":0,\"dead\":1}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("{\"name\":\"cell-2\",\"endpoint\":\"tcp://b:1\",\"answered\":false,"
                     "\"error\":\"no answer from b\",\"exit_code\":2}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"epoch\":null"), std::string::npos) << out;  // cell-3 has none
}

TEST(FleetFormatTest, QueuesTableNamesTheCellsHoldingEach) {
  FleetQueues f;
  f.queues = {{"audits", {"cell-2"}}, {"restarts", {"cell-1", "cell-2"}}};
  f.cells = {{"cell-1", true, false, 1, "", 0},
             {"cell-2", true, false, 2, "", 0},
             {"cell-3", false, false, 0, "no answer from c", 2}};
  EXPECT_EQ(RenderFleetQueuesTable(f),
            "QUEUE     CELLS\n"
            "audits    cell-2\n"
            "restarts  cell-1,cell-2\n"
            "\n"
            "cell-3: no answer from c\n");
  EXPECT_EQ(RenderFleetQueuesJson(f),
            "{\"queues\":[{\"name\":\"audits\",\"cells\":[\"cell-2\"]},{\"name\":\"restarts\","
            "\"cells\":[\"cell-1\",\"cell-2\"]}],\"cells\":[{\"name\":\"cell-1\",\"answered\":"
            "true,\"queues\":1},{\"name\":\"cell-2\",\"answered\":true,\"queues\":2},{\"name\":"
            "\"cell-3\",\"answered\":false,\"error\":\"no answer from c\",\"exit_code\":2}]}\n");
}

TEST(FleetFormatTest, DlqAndRequeueSayWhatEachCellHad) {
  FleetDlq d;
  d.queue = "restarts";
  d.total = 3;
  d.items = {{"cell-3", {"r-9", 5, "host unreachable", 1'700'000'000'000, "restart x"}}};
  d.cells = {{"cell-1", true, true, 2, "", 0},
             {"cell-2", true, false, 0, "no such queue", 0},
             {"cell-3", true, true, 1, "", 0}};
  const std::string table = RenderFleetDlqTable(d);
  EXPECT_EQ(table.rfind("dead letters of restarts: 3 total (cell-1 2, cell-2 no such queue, "
                        "cell-3 1), 1 shown\n",
                        0),
            0u)
      << table;
  EXPECT_NE(table.find("cell-3  r-9         5  2023-11-14T22:13:20.000Z"), std::string::npos)
      << table;
  EXPECT_NE(RenderFleetDlqJson(d).find("\"items\":[{\"cell\":\"cell-3\",\"id\":\"r-9\""),
            std::string::npos);

  FleetAdminOk ok;
  ok.count = 3;
  ok.missing = 1;
  ok.cells = {{"cell-1", true, true, 2, "", 0},
              {"cell-2", false, false, 0, "no answer from b", 2},
              {"cell-3", true, true, 1, "", 0}};
  EXPECT_EQ(RenderFleetAdminOk(ok, "requeued", "restarts"),
            "requeued 3 messages of restarts (cell-1 2, cell-2 no answer, cell-3 1)\n"
            "1 id was not a dead letter on any cell that answered\n"
            "\n"
            "cell-2: no answer from b\n");
  EXPECT_EQ(RenderFleetAdminOkJson(ok),
            "{\"count\":3,\"missing\":1,\"cells\":[{\"name\":\"cell-1\",\"answered\":true,"
            "\"has_queue\":true,\"count\":2},{\"name\":\"cell-2\",\"answered\":false,\"error\":"
            "\"no answer from b\",\"exit_code\":2},{\"name\":\"cell-3\",\"answered\":true,"
            "\"has_queue\":true,\"count\":1}]}\n");
}

}  // namespace
}  // namespace mandrill::publisher
