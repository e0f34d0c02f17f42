// mandrill-ctl top's pure parts: rates and sort orders (top_model.h), and the screen layout
// (top_layout.h): never wider or taller than the screen, cut sections say how many more.
#include <gtest/gtest.h>

#include <algorithm>

#include "publisher/admin_client.h"
#include "publisher/fleet_merge.h"
#include "publisher/stats_format.h"
#include "publisher/top_layout.h"
#include "publisher/top_model.h"

namespace mandrill::publisher {
namespace {

protocol::QueueStats Queue(std::string name, std::uint64_t ready) {
  protocol::QueueStats q;
  q.name = std::move(name);
  q.ready = ready;
  return q;
}

protocol::WorkerStats Worker(std::string name, std::string peer, std::uint32_t in_flight) {
  protocol::WorkerStats w;
  w.name = std::move(name);
  w.peer = std::move(peer);
  w.credit = 8;
  w.in_flight = in_flight;
  return w;
}

protocol::WorkerStats::Task Task(std::string id, std::int64_t leased_ms,
                                 std::int64_t running_ms = -1) {
  return {std::move(id), "restarts", 1, leased_ms, running_ms};
}

TopSample Sample(std::int64_t at_ms, std::string broker_id = "b-1") {
  TopSample s;
  s.stats.broker_id = std::move(broker_id);
  s.steady_ms = at_ms;
  return s;
}

// Many long-named queues, workers and tasks: more than any screen holds.
TopView BigView() {
  TopSample s = Sample(0);
  for (int i = 0; i < 50; ++i) {
    s.stats.queues.push_back(Queue("queue-with-a-rather-long-name-" + std::to_string(i), 1000 + i));
  }
  for (int i = 0; i < 30; ++i) {
    auto w = Worker("worker-on-host-number-" + std::to_string(i) + "-of-the-fleet",
                    "peer-" + std::to_string(i), 5);
    for (int t = 0; t < 5; ++t) {
      w.tasks.push_back(Task("message-id-" + std::to_string(i * 10 + t) + "-0123456789abcdef",
                             100'000 * t + i));
    }
    s.stats.workers.push_back(w);
  }
  return BuildTopView(nullptr, &s);
}

std::size_t CountLinesWith(const std::vector<std::string>& lines, const std::string& needle) {
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
    return l.find(needle) != std::string::npos;
  }));
}

TEST(TopModelTest, RatesAreCounterDifferencesOverElapsedTime) {
  TopSample before = Sample(10'000);
  auto q = Queue("restarts", 5);
  q.published = 100;
  q.acked = 50;
  before.stats.queues.push_back(q);
  auto w = Worker("w", "p1", 1);
  w.acked = 10;
  before.stats.workers.push_back(w);
  TopSample after = before;
  after.steady_ms = 12'000;
  after.stats.queues[0].published = 300;
  after.stats.queues[0].acked = 150;
  after.stats.workers[0].acked = 40;

  const TopView v = BuildTopView(&before, &after);
  ASSERT_EQ(v.queues.size(), 1u);
  EXPECT_DOUBLE_EQ(v.queues[0].publish_rate.value(), 100.0);
  EXPECT_DOUBLE_EQ(v.queues[0].ack_rate.value(), 50.0);
  ASSERT_EQ(v.workers.size(), 1u);
  EXPECT_DOUBLE_EQ(v.workers[0].ack_rate.value(), 15.0);
}

TEST(TopModelTest, FirstSampleHasNoRates) {
  TopSample only = Sample(0);
  only.stats.queues.push_back(Queue("restarts", 5));
  only.stats.workers.push_back(Worker("w", "p1", 0));
  const TopView v = BuildTopView(nullptr, &only);
  EXPECT_FALSE(v.queues[0].publish_rate.has_value());
  EXPECT_FALSE(v.queues[0].ack_rate.has_value());
  EXPECT_FALSE(v.workers[0].ack_rate.has_value());
}

TEST(TopModelTest, RestartedBrokerOrBackwardCounterHasNoRate) {
  TopSample before = Sample(0, "b-old");
  auto q = Queue("restarts", 5);
  q.published = 500;
  before.stats.queues.push_back(q);
  TopSample after = before;
  after.steady_ms = 1000;
  after.stats.broker_id = "b-new";
  after.stats.queues[0].published = 600;
  EXPECT_FALSE(BuildTopView(&before, &after).queues[0].publish_rate.has_value());

  after.stats.broker_id = "b-old";
  after.stats.queues[0].published = 400;
  EXPECT_FALSE(BuildTopView(&before, &after).queues[0].publish_rate.has_value());
  EXPECT_FALSE(CounterRate(1, 2, 0).has_value());  // no time passed
}

TEST(TopModelTest, QueuesSortByReadyDescThenName) {
  TopSample s = Sample(0);
  s.stats.queues = {Queue("b", 5), Queue("a", 5), Queue("c", 9), Queue("d", 0)};
  const TopView v = BuildTopView(nullptr, &s);
  std::vector<std::string> names;
  for (const auto& q : v.queues) names.push_back(q.name);
  EXPECT_EQ(names, (std::vector<std::string>{"c", "a", "b", "d"}));
}

TEST(TopModelTest, WorkersSortByInFlightDescThenName) {
  TopSample s = Sample(0);
  s.stats.workers = {Worker("zed", "p1", 2), Worker("amy", "p2", 0), Worker("bob", "p3", 2),
                     Worker("cat", "p4", 7)};
  const TopView v = BuildTopView(nullptr, &s);
  std::vector<std::string> names;
  for (const auto& w : v.workers) names.push_back(w.name);
  EXPECT_EQ(names, (std::vector<std::string>{"cat", "bob", "zed", "amy"}));
}

TEST(TopModelTest, TasksAcrossWorkersOldestFirstAndUnlistedCounted) {
  TopSample s = Sample(0);
  auto a = Worker("a", "p1", 3);  // holds 3, lists 2
  a.tasks = {Task("a-old", 9000), Task("a-new", 100)};
  auto b = Worker("b", "p2", 1);
  b.tasks = {Task("b-mid", 4200, 4100)};
  s.stats.workers = {a, b};
  const TopView v = BuildTopView(nullptr, &s);
  std::vector<std::string> ids;
  for (const auto& t : v.tasks) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a-old", "b-mid", "a-new"}));
  EXPECT_EQ(v.tasks[1].worker, "b");
  EXPECT_EQ(v.tasks[1].running_ms, 4100);
  EXPECT_EQ(v.tasks_unlisted, 1u);
}

TEST(TopModelTest, WorkersAreMatchedAcrossSamplesByPeerNotName) {
  TopSample before = Sample(0);
  auto one = Worker("same", "p1", 0);
  auto two = Worker("same", "p2", 0);
  one.acked = 0;
  two.acked = 100;
  before.stats.workers = {one, two};
  TopSample after = before;
  after.steady_ms = 1000;
  after.stats.workers[0].acked = 10;
  after.stats.workers[1].acked = 100;
  std::swap(after.stats.workers[0], after.stats.workers[1]);  // the broker's order may change
  const TopView v = BuildTopView(&before, &after);
  std::vector<double> rates;
  for (const auto& w : v.workers) rates.push_back(w.ack_rate.value());
  std::sort(rates.begin(), rates.end());
  EXPECT_EQ(rates, (std::vector<double>{0.0, 10.0}));
}

TEST(TopModelTest, WorkersSharingOneCurveKeyAreStillToldApart) {
  // With CURVE the peer is "key:NAME", and a fleet's workers may share one key.
  TopSample before = Sample(0);
  auto one = Worker("worker-1", "key:fleet-workers", 0);
  auto two = Worker("worker-2", "key:fleet-workers", 0);
  one.acked = 0;
  two.acked = 500;
  before.stats.workers = {one, two};
  TopSample after = before;
  after.steady_ms = 1000;
  after.stats.workers[0].acked = 20;
  after.stats.workers[1].acked = 530;
  const TopView v = BuildTopView(&before, &after);
  ASSERT_EQ(v.workers.size(), 2u);
  for (const auto& w : v.workers) {
    EXPECT_EQ(w.ack_rate.value(), w.name == "worker-1" ? 20.0 : 30.0) << w.name;
  }
}

TEST(TopModelTest, OldestIsShownOnlyWhenSomethingIsReady) {
  TopSample s = Sample(0);
  auto busy = Queue("busy", 3);
  busy.oldest_ready_ms = 4200;
  auto empty = Queue("empty", 0);
  empty.oldest_ready_ms = 0;
  s.stats.queues = {busy, empty};
  const TopView v = BuildTopView(nullptr, &s);
  EXPECT_EQ(v.queues[0].oldest_ready_ms, 4200);
  EXPECT_FALSE(v.queues[1].oldest_ready_ms.has_value());
}

TEST(TopLayoutTest, AgesAreCompact) {
  EXPECT_EQ(CompactDuration(350), "350ms");
  EXPECT_EQ(CompactDuration(4200), "4.2s");
  EXPECT_EQ(CompactDuration(185'000), "3m05s");
  EXPECT_EQ(CompactDuration(7'260'000), "2h01m");
}

TEST(TopLayoutTest, RatesAreDashUntilKnown) {
  EXPECT_EQ(FormatRate(std::nullopt), "-");
  EXPECT_EQ(FormatRate(2.54), "2.5");
  EXPECT_EQ(FormatRate(240.4), "240");
}

TEST(TopLayoutTest, CellsTooWideEndInTilde) {
  EXPECT_EQ(FitCell("restarts", 8), "restarts");
  EXPECT_EQ(FitCell("restarts", 5), "rest~");
  EXPECT_EQ(FitCell("restarts", 0), "");
}

TEST(TopLayoutTest, RowsAreSharedFairlyWhenTheyDoNotFit) {
  EXPECT_EQ(ShareRows({2, 3, 1}, 10, 3), (std::vector<std::size_t>{2, 3, 1}));
  EXPECT_EQ(ShareRows({50, 30, 200}, 16, 3), (std::vector<std::size_t>{6, 5, 5}));
  // A small section keeps what it needs; the others share the rest.
  EXPECT_EQ(ShareRows({1, 30, 200}, 16, 3), (std::vector<std::size_t>{1, 8, 7}));
  // Not even the minimum for all: earlier sections first.
  EXPECT_EQ(ShareRows({9, 9, 9}, 4, 3), (std::vector<std::size_t>{3, 1, 0}));
}

TEST(TopLayoutTest, LayoutNeverExceedsTheScreen) {
  const TopView v = BigView();
  for (std::size_t width : {1u, 10u, 20u, 40u, 80u, 132u}) {
    for (std::size_t height : {0u, 1u, 3u, 8u, 12u, 24u, 60u}) {
      const auto lines = LayoutTop(v, "12:00:00", "broker not answering: a long reason here",
                                   width, height);
      EXPECT_LE(lines.size(), height) << width << "x" << height;
      for (const auto& l : lines) EXPECT_LE(l.size(), width) << width << "x" << height << ": " << l;
    }
  }
}

TEST(TopLayoutTest, CutSectionsFillTheScreenAndSayHowManyMore) {
  const auto lines = LayoutTop(BigView(), "12:00:00", "", 80, 24);
  ASSERT_EQ(lines.size(), 24u);
  // 16 rows for 50 queues, 30 workers, 150 tasks: 6 + 5 + 5, each ending in its "more" line.
  EXPECT_EQ(CountLinesWith(lines, "... 45 more"), 1u);
  EXPECT_EQ(CountLinesWith(lines, "... 26 more"), 1u);
  EXPECT_EQ(CountLinesWith(lines, "... 146 more"), 1u);
  // The queue with most ready comes first, its long name cut to fit.
  EXPECT_EQ(lines[4].rfind("queue-with-a-rather-lo~   1049", 0), 0u) << lines[4];
}

TEST(TopLayoutTest, EverythingFitsWithBlankLinesBetweenSections) {
  TopSample s = Sample(0);
  s.stats.uptime_ms = 3'723'000;
  auto q = Queue("restarts", 12);
  q.oldest_ready_ms = 185'000;
  q.consumers = 2;
  s.stats.queues.push_back(q);
  auto w = Worker("worker-a", "p1", 1);
  w.tasks = {{"task-42", "restarts", 3, 4200, -1}};
  s.stats.workers.push_back(w);
  const auto lines = LayoutTop(BuildTopView(nullptr, &s), "12:00:00", "q quits", 80, 24);
  const std::vector<std::string> want = {
      "12:00:00  broker b-1  up 1h02m  queues 1  workers 1",
      "q quits",
      "QUEUES  1, most ready first",
      "QUEUE     READY  UNACKED  DEFER  DEAD  PUB/s  ACK/s  OLDEST  CONS",
      "restarts     12        0      0     0      -      -   3m05s     2",
      "",
      "WORKERS  1, most in flight first",
      "WORKER    CREDIT  INFLIGHT  ACK/s  IDLE",
      "worker-a       8         1      -   0ms",
      "",
      "TASKS  1 in flight, oldest first",
      "WORKER    ID       QUEUE     ATTEMPT   AGE  RUN",
      "worker-a  task-42  restarts        3  4.2s    -",
  };
  EXPECT_EQ(lines, want);
}

TEST(TopLayoutTest, EmptySectionsSaySoAndNoSampleSaysWaiting) {
  TopSample s = Sample(0);
  const auto lines = LayoutTop(BuildTopView(nullptr, &s), "12:00:00", "", 80, 24);
  EXPECT_EQ(CountLinesWith(lines, "no queues"), 1u);
  EXPECT_EQ(CountLinesWith(lines, "no workers"), 1u);
  EXPECT_EQ(CountLinesWith(lines, "no tasks in flight"), 1u);

  const auto waiting = LayoutTop(BuildTopView(nullptr, nullptr), "12:00:00",
                                 "broker not answering: no answer", 80, 24);
  EXPECT_EQ(waiting, (std::vector<std::string>{"12:00:00  waiting for the broker",
                                               "broker not answering: no answer"}));
}

// --cells: the totals of every cell that answered, workers and tasks with their cell.
FleetStats FleetOfTwo(bool second_answers, const std::string& second_id = "b-2") {
  protocol::StatsReply one;
  one.broker_id = "b-1";
  one.uptime_ms = 9000;
  auto q = Queue("restarts", 5);
  q.published = 100;
  one.queues = {q};
  auto w = Worker("w", "p1", 1);
  w.tasks = {Task("t-1", 500)};
  one.workers = {w};
  protocol::StatsReply two = one;
  two.broker_id = second_id;
  two.uptime_ms = 4000;
  std::vector<CellAnswer<protocol::StatsReply>> answers;
  answers.push_back({"cell-1", "tcp://a:1", one});
  if (second_answers) {
    answers.push_back({"cell-2", "tcp://b:1", two});
  } else {
    answers.push_back({"cell-2", "tcp://b:1", core::Error{CtlErrc::kNoAnswer, "silent"}});
  }
  return MergeStats(answers);
}

TEST(TopModelTest, FleetSampleTagsWorkersAndTasksWithTheirCell) {
  const TopSample s = FleetSample(FleetOfTwo(true), 1000);
  EXPECT_EQ(s.stats.broker_id, "cell-1=b-1,cell-2=b-2");
  EXPECT_EQ(s.stats.uptime_ms, 4000);  // the youngest cell
  EXPECT_EQ(s.problem, "");
  EXPECT_EQ(s.problem_exit, 0);
  const TopView v = BuildTopView(nullptr, &s);
  EXPECT_EQ(v.cells_total, 2u);
  EXPECT_EQ(v.cells_answered, 2u);
  ASSERT_EQ(v.queues.size(), 1u);
  EXPECT_EQ(v.queues[0].ready, 10u);
  ASSERT_EQ(v.workers.size(), 2u);
  EXPECT_EQ(v.workers[0].cell, "cell-1");
  EXPECT_EQ(v.workers[1].cell, "cell-2");
  ASSERT_EQ(v.tasks.size(), 2u);
  EXPECT_NE(v.tasks[0].cell, v.tasks[1].cell);

  const auto lines = LayoutTop(v, "12:00:00", "", 80, 24);
  EXPECT_EQ(lines[0].rfind("12:00:00  cells 2/2 answering  up 4.0s  queues 1  workers 2", 0), 0u)
      << lines[0];
  EXPECT_EQ(CountLinesWith(lines, "CELL    WORKER"), 2u);  // workers and tasks
  EXPECT_EQ(CountLinesWith(lines, "cell-2  w"), 2u);
}

TEST(TopModelTest, FleetRatesRestartWhenACellRestartsOrGoesAway) {
  const TopSample before = FleetSample(FleetOfTwo(true), 1000);
  TopSample after = FleetSample(FleetOfTwo(true), 2000);
  EXPECT_TRUE(BuildTopView(&before, &after).queues[0].publish_rate.has_value());
  after = FleetSample(FleetOfTwo(true, "b-2-restarted"), 2000);
  EXPECT_FALSE(BuildTopView(&before, &after).queues[0].publish_rate.has_value());
  after = FleetSample(FleetOfTwo(false), 2000);
  EXPECT_FALSE(BuildTopView(&before, &after).queues[0].publish_rate.has_value());
  EXPECT_EQ(after.problem, "cell-2: silent");
  EXPECT_EQ(after.problem_exit, kCtlNoAnswer);
  EXPECT_EQ(after.cells_answered, 1u);
}

}  // namespace
}  // namespace mandrill::publisher
