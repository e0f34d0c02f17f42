// mandrill-ctl --cells: every cell's answer folded into totals and a per-cell breakdown
// (fleet_merge.h). Cells that failed are kept with their reason; a cell without the queue is
// not a failure.
#include "publisher/fleet_merge.h"

#include <gtest/gtest.h>

#include "publisher/admin_client.h"

namespace mandrill::publisher {
namespace {

protocol::QueueStats CellQueueStats(std::string name, std::uint64_t ready, std::uint64_t dead) {
  protocol::QueueStats q;
  q.name = std::move(name);
  q.ready = ready;
  q.in_flight = 1;
  q.deferred = 2;
  q.dead = dead;
  q.published = 100;
  q.acked = 90;
  q.oldest_ready_ms = static_cast<std::int64_t>(ready) * 10;
  q.consumers = 1;
  return q;
}

protocol::WorkerStats CellWorkerStats(std::string name) {
  protocol::WorkerStats w;
  w.name = std::move(name);
  w.peer = "k";
  w.credit = 4;
  return w;
}

template <typename Reply>
CellAnswer<Reply> Answered(std::string cell, Reply reply) {
  return {cell, "tcp://" + cell + ":5555", std::move(reply)};
}

template <typename Reply>
CellAnswer<Reply> Failed(std::string cell, core::Error error) {
  return {cell, "tcp://" + cell + ":5555", std::move(error)};
}

core::Error NoAnswer(const std::string& cell) {
  return core::Error{CtlErrc::kNoAnswer, "no answer from tcp://" + cell + ":5555 within 1s"};
}

core::Error NoSuchQueue() {
  return core::Error{protocol::ErrorCode::kUnknownQueue, "no queue named 'restarts'"};
}

protocol::StatsReply CellStats(std::string broker_id, std::vector<protocol::QueueStats> queues,
                               std::vector<protocol::WorkerStats> workers,
                               protocol::Counters counters = {}) {
  protocol::StatsReply s;
  s.broker_id = std::move(broker_id);
  s.uptime_ms = 60'000;
  s.queues = std::move(queues);
  s.workers = std::move(workers);
  s.counters = std::move(counters);
  s.queues_total = s.queues.size();
  s.workers_total = s.workers.size();
  return s;
}

TEST(FleetMergeTest, QueuesOfTheSameNameAreSummedAndOldestIsTheMax) {
  const FleetStats f = MergeStats(
      {Answered("cell-1", CellStats("b-1", {CellQueueStats("restarts", 5, 1)}, {})),
       Answered("cell-2",
                CellStats("b-2", {CellQueueStats("audits", 1, 0), CellQueueStats("restarts", 7, 2)},
                          {}))});
  ASSERT_EQ(f.totals.queues.size(), 2u);
  EXPECT_EQ(f.totals.queues[0].name, "audits");  // by name
  const auto& r = f.totals.queues[1];
  EXPECT_EQ(r.name, "restarts");
  EXPECT_EQ(r.ready, 12u);
  EXPECT_EQ(r.in_flight, 2u);
  EXPECT_EQ(r.deferred, 4u);
  EXPECT_EQ(r.dead, 3u);
  EXPECT_EQ(r.published, 200u);
  EXPECT_EQ(r.acked, 180u);
  EXPECT_EQ(r.oldest_ready_ms, 70);
  EXPECT_EQ(r.consumers, 2u);
  EXPECT_EQ(f.totals.queues_total, 2u);
  EXPECT_EQ(f.answered, 2u);
}

TEST(FleetMergeTest, WorkersAreListedWithTheirCell) {
  const FleetStats f = MergeStats(
      {Answered("cell-1", CellStats("b-1", {}, {CellWorkerStats("w"), CellWorkerStats("x")})),
       Answered("cell-2", CellStats("b-2", {}, {CellWorkerStats("w")}))});
  ASSERT_EQ(f.totals.workers.size(), 3u);
  EXPECT_EQ(f.worker_cells, (std::vector<std::string>{"cell-1", "cell-1", "cell-2"}));
  EXPECT_EQ(f.totals.workers[2].name, "w");
  EXPECT_EQ(f.totals.workers_total, 3u);
}

TEST(FleetMergeTest, CountersAreSummedExceptEpochAndGauges) {
  const FleetStats f = MergeStats({Answered("cell-1", CellStats("b-1", {}, {},
                                                                {{"broker.frames_in", 10},
                                                                 {"broker.epoch", 3},
                                                                 {"journal.last_sync_us", 900}})),
                                   Answered("cell-2", CellStats("b-2", {}, {},
                                                                {{"journal.last_sync_us", 400},
                                                                 {"broker.frames_in", 5},
                                                                 {"broker.epoch", 7},
                                                                 {"broker.passes", 2}}))});
  EXPECT_EQ(f.totals.counters,
            (protocol::Counters{
                {"broker.frames_in", 15}, {"journal.last_sync_us", 900}, {"broker.passes", 2}}));
  ASSERT_EQ(f.cells.size(), 2u);
  EXPECT_EQ(f.cells[0].epoch, 3);
  EXPECT_EQ(f.cells[1].epoch, 7);
}

TEST(FleetMergeTest, BreakdownHasEachCellsTotalsAndTheFailedCellsReason) {
  const FleetStats f = MergeStats(
      {Answered("cell-1",
                CellStats("b-1", {CellQueueStats("restarts", 5, 1), CellQueueStats("audits", 2, 0)},
                          {CellWorkerStats("w")})),
       Failed<protocol::StatsReply>("cell-2", NoAnswer("cell-2")),
       Answered("cell-3", CellStats("b-3", {}, {}))});
  ASSERT_EQ(f.cells.size(), 3u);
  const CellSummary& one = f.cells[0];
  EXPECT_TRUE(one.answered);
  EXPECT_EQ(one.broker_id, "b-1");
  EXPECT_EQ(one.uptime_ms, 60'000);
  EXPECT_FALSE(one.epoch.has_value());
  EXPECT_EQ(one.queues, 2u);
  EXPECT_EQ(one.workers, 1u);
  EXPECT_EQ(one.ready, 7u);
  EXPECT_EQ(one.in_flight, 2u);
  EXPECT_EQ(one.dead, 1u);
  const CellSummary& two = f.cells[1];
  EXPECT_FALSE(two.answered);
  EXPECT_EQ(two.cell, "cell-2");
  EXPECT_EQ(two.error, "no answer from tcp://cell-2:5555 within 1s");
  EXPECT_EQ(two.exit_code, kCtlNoAnswer);
  EXPECT_TRUE(f.cells[2].answered);
  EXPECT_EQ(f.answered, 2u);
  EXPECT_EQ(f.totals.queues.size(), 2u);  // the answers of the others are all there
}

TEST(FleetMergeTest, ExitCodeIsTheMostTellingCellFailure) {
  EXPECT_EQ(FleetExitCode({}), kCtlOk);
  EXPECT_EQ(FleetExitCode({kCtlBrokerError}), kCtlBrokerError);
  EXPECT_EQ(FleetExitCode({kCtlBrokerError, kCtlNoAnswer, kCtlBrokerError}), kCtlNoAnswer);
  EXPECT_EQ(FleetExitCode({kCtlNoAnswer, kCtlUsage}), kCtlUsage);
}

TEST(FleetMergeTest, QueueNamesAreTheSortedUnionWithTheirCells) {
  protocol::QueuesReply one, two;
  one.names = {"restarts", "audits"};
  two.names = {"restarts", "billing", "restarts"};
  const FleetQueues f = MergeQueues({Answered("cell-1", one), Answered("cell-2", two),
                                     Failed<protocol::QueuesReply>("cell-3", NoAnswer("cell-3"))});
  ASSERT_EQ(f.queues.size(), 3u);
  EXPECT_EQ(f.queues[0].name, "audits");
  EXPECT_EQ(f.queues[0].cells, (std::vector<std::string>{"cell-1"}));
  EXPECT_EQ(f.queues[1].name, "billing");
  EXPECT_EQ(f.queues[2].name, "restarts");
  EXPECT_EQ(f.queues[2].cells, (std::vector<std::string>{"cell-1", "cell-2"}));
  ASSERT_EQ(f.cells.size(), 3u);
  EXPECT_EQ(f.cells[1].count, 2u);
  EXPECT_FALSE(f.cells[2].answered);
  EXPECT_EQ(f.cells[2].exit_code, kCtlNoAnswer);
}

protocol::DeadLetter Dead(std::string id, std::int64_t at) {
  return protocol::DeadLetter{std::move(id), 5, "boom", at, "payload"};
}

TEST(FleetMergeTest, DeadLettersAreTaggedOldestFirstAndCutAtTheLimit) {
  protocol::DlqListReply one, three;
  one.queue = three.queue = "restarts";
  one.total = 10;  // more than listed: the broker's own limit
  one.items = {Dead("a", 100), Dead("b", 300)};
  three.total = 1;
  three.items = {Dead("c", 200)};
  const FleetDlq f = MergeDlqLists(
      "restarts",
      {Answered("cell-1", one), Failed<protocol::DlqListReply>("cell-2", NoSuchQueue()),
       Answered("cell-3", three)},
      2);
  EXPECT_EQ(f.total, 11u);
  ASSERT_EQ(f.items.size(), 2u);
  EXPECT_EQ(f.items[0].cell, "cell-1");
  EXPECT_EQ(f.items[0].item.id, "a");
  EXPECT_EQ(f.items[1].cell, "cell-3");
  EXPECT_EQ(f.items[1].item.id, "c");
  ASSERT_EQ(f.cells.size(), 3u);
  EXPECT_TRUE(f.cells[1].answered);  // no such queue there: nothing, not a failure
  EXPECT_FALSE(f.cells[1].has_queue);
  EXPECT_FALSE(f.unknown_everywhere);
}

TEST(FleetMergeTest, QueueOnNoCellIsUnknownEverywhere) {
  const FleetDlq f = MergeDlqLists("nope",
                                   {Failed<protocol::DlqListReply>("cell-1", NoSuchQueue()),
                                    Failed<protocol::DlqListReply>("cell-2", NoSuchQueue())},
                                   100);
  EXPECT_TRUE(f.unknown_everywhere);
  // Also when a cell that may hold it did not answer; that cell's failure is reported beside.
  const FleetDlq g = MergeDlqLists("nope",
                                   {Failed<protocol::DlqListReply>("cell-1", NoSuchQueue()),
                                    Failed<protocol::DlqListReply>("cell-2", NoAnswer("cell-2"))},
                                   100);
  EXPECT_TRUE(g.unknown_everywhere);
  EXPECT_EQ(g.cells[1].exit_code, kCtlNoAnswer);
}

protocol::AdminOk Ok(std::uint64_t count) {
  protocol::AdminOk ok;
  ok.count = count;
  return ok;
}

TEST(FleetMergeTest, RequeueCountsAreSummedAndAnIdFoundOnAnotherCellIsNotMissing) {
  // r-1 is on cell-1, r-2 on cell-3, r-3 nowhere: each cell found only its own.
  const FleetAdminOk f = MergeAdminOks(
      {"r-1", "r-2", "r-3", "r-1"},
      {Answered("cell-1", Ok(1)), Answered("cell-2", Ok(0)), Answered("cell-3", Ok(1))});
  EXPECT_EQ(f.count, 2u);
  EXPECT_EQ(f.missing, 1u);  // r-3; r-1 asked twice is one id
  ASSERT_EQ(f.cells.size(), 3u);
  EXPECT_EQ(f.cells[2].count, 1u);
  EXPECT_FALSE(f.unknown_everywhere);

  const FleetAdminOk all = MergeAdminOks(
      {}, {Answered("cell-1", Ok(4)), Failed<protocol::AdminOk>("cell-2", NoSuchQueue()),
           Failed<protocol::AdminOk>("cell-3", NoAnswer("cell-3"))});
  EXPECT_EQ(all.count, 4u);
  EXPECT_EQ(all.missing, 0u);  // all: nothing can be missing
  EXPECT_TRUE(all.cells[1].answered);
  EXPECT_FALSE(all.cells[2].answered);
}

}  // namespace
}  // namespace mandrill::publisher
