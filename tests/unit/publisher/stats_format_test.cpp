#include "publisher/stats_format.h"

#include <gtest/gtest.h>

#include "publisher/text_table.h"

namespace mandrill::publisher {
namespace {

protocol::StatsReply Sample() {
  protocol::StatsReply s;
  s.broker_id = "b-1";
  s.uptime_ms = 125'000;
  protocol::QueueStats q;
  q.name = "restarts";
  q.ready = 12;
  q.in_flight = 4;
  q.deferred = 2;
  q.dead = 1;
  q.published = 1000;
  q.acked = 983;
  q.redelivered = 17;
  q.nacked = 3;
  s.queues.push_back(q);
  protocol::WorkerStats w;
  w.name = "w-full";
  w.peer = "0a1b";
  w.queues = {"restarts", "audits"};
  w.credit = 4;
  w.in_flight = 4;
  w.delivered = 50;
  w.acked = 46;
  w.nacked = 1;
  w.idle_ms = 120;
  s.workers.push_back(w);
  w.name = "w-idle";
  w.in_flight = 1;
  w.idle_ms = 4200;
  s.workers.push_back(w);
  s.counters = {{"journal_syncs", 500}, {"errors", -1}};
  return s;
}

TEST(StatsFormatTest, TableHasQueueWorkerAndCounterSections) {
  const std::string t = RenderStatsTable(Sample());
  EXPECT_EQ(t.rfind("broker b-1, up 2m05s\n\n", 0), 0u) << t;
  EXPECT_NE(t.find("QUEUE     READY  IN FLIGHT  DEFERRED  DEAD  PUBLISHED  ACKED  REDELIVERED\n"
                   "restarts     12          4         2     1       1000    983           17\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("WORKER"), std::string::npos);
  EXPECT_NE(t.find("restarts,audits"), std::string::npos);
  EXPECT_NE(t.find("COUNTER        VALUE\njournal_syncs    500\nerrors            -1\n"),
            std::string::npos)
      << t;
}

TEST(StatsFormatTest, WorkerAtItsCreditLimitIsMarkedFull) {
  const std::string t = RenderStatsTable(Sample());
  const auto full_line =
      t.substr(t.find("w-full"), t.find('\n', t.find("w-full")) - t.find("w-full"));
  const auto idle_line =
      t.substr(t.find("w-idle"), t.find('\n', t.find("w-idle")) - t.find("w-idle"));
  EXPECT_NE(full_line.find("FULL"), std::string::npos) << t;
  EXPECT_EQ(idle_line.find("FULL"), std::string::npos) << t;
  EXPECT_NE(idle_line.find("4.2s"), std::string::npos) << t;
}

TEST(StatsFormatTest, ZeroCreditIsNotFull) {
  protocol::WorkerStats w;
  w.credit = 0;
  w.in_flight = 0;
  EXPECT_FALSE(WorkerIsFull(w));
  w.credit = 3;
  w.in_flight = 5;  // over credit after a credit decrease
  EXPECT_TRUE(WorkerIsFull(w));
}

TEST(StatsFormatTest, EmptyBrokerSaysSo) {
  protocol::StatsReply s;
  s.broker_id = "b";
  const std::string t = RenderStatsTable(s);
  EXPECT_NE(t.find("no queues"), std::string::npos);
  EXPECT_NE(t.find("no workers"), std::string::npos);
}

TEST(StatsFormatTest, JsonCarriesEveryFieldOnOneLine) {
  const std::string j = RenderStatsJson(Sample());
  EXPECT_EQ(j.back(), '\n');
  EXPECT_EQ(std::count(j.begin(), j.end(), '\n'), 1);
  EXPECT_NE(j.find(R"("broker_id":"b-1","uptime_ms":125000)"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("name":"restarts","ready":12,"in_flight":4,"deferred":2,"dead":1,)"
                   R"("published":1000,"acked":983,"nacked":3,"redelivered":17,)"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("queues":["restarts","audits"],"credit":4,"in_flight":4,"full":true)"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("counters":{"journal_syncs":500,"errors":-1})"), std::string::npos) << j;
}

TEST(StatsFormatTest, JsonEscapesOddNames) {
  auto s = Sample();
  s.workers[0].name = "tab\there \"quoted\" \x01 \xff";
  s.queues[0].name = "back\\slash";
  const std::string j = RenderStatsJson(s);
  EXPECT_NE(j.find(R"("name":"tab\there \"quoted\" \u0001 \ufffd")"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("name":"back\\slash")"), std::string::npos) << j;
}

TEST(StatsFormatTest, TableShowsUnprintableBytesEscaped) {
  auto s = Sample();
  s.workers[0].name = "evil\n\x1b[31m";
  const std::string t = RenderStatsTable(s);
  EXPECT_NE(t.find("evil\\x0a\\x1b[31m"), std::string::npos) << t;
}

TEST(StatsFormatTest, DlqTableAndJson) {
  protocol::DlqListReply d;
  d.queue = "restarts";
  d.total = 3;
  d.items.push_back({"r-1", 5, "host unreachable", 1'700'000'000'123, std::string(60, 'p')});
  const std::string t = RenderDlqTable(d);
  EXPECT_NE(t.find("dead letters of restarts: 3 total, 1 shown"), std::string::npos) << t;
  EXPECT_NE(t.find("2023-11-14T22:13:20.123Z"), std::string::npos) << t;
  EXPECT_NE(t.find(std::string(40, 'p') + "..."), std::string::npos) << t;
  const std::string j = RenderDlqJson(d);
  EXPECT_NE(j.find(R"("queue":"restarts","total":3,"items":[{"id":"r-1","attempts":5,)"),
            std::string::npos)
      << j;
}

TEST(StatsFormatTest, QueuesAndAdminOk) {
  protocol::QueuesReply q;
  q.names = {"a", "b"};
  EXPECT_EQ(RenderQueuesTable(q), "a\nb\n");
  EXPECT_EQ(RenderQueuesJson(q), "{\"queues\":[\"a\",\"b\"]}\n");
  EXPECT_EQ(RenderQueuesTable({}), "no queues\n");
  protocol::AdminOk ok;
  ok.count = 1;
  EXPECT_EQ(RenderAdminOk(ok, "requeued", "restarts"), "requeued 1 message of restarts\n");
  ok.message = "requeued 1 from restarts.dlq";
  EXPECT_EQ(RenderAdminOk(ok, "requeued", "restarts"), "requeued 1 from restarts.dlq\n");
}

TEST(StatsFormatTest, CompactDurations) {
  EXPECT_EQ(CompactDuration(0), "0ms");
  EXPECT_EQ(CompactDuration(999), "999ms");
  EXPECT_EQ(CompactDuration(4200), "4.2s");
  EXPECT_EQ(CompactDuration(185'000), "3m05s");
  EXPECT_EQ(CompactDuration(7'260'000), "2h01m");
  EXPECT_EQ(CompactDuration(-5), "-");
}

TEST(TextTableTest, AlignsColumns) {
  TextTable t({{"NAME"}, {"N", TextTable::Align::kRight}});
  t.AddRow({"a", "1"});
  t.AddRow({"longer", "100"});
  EXPECT_EQ(t.Render(), "NAME      N\na         1\nlonger  100\n");
}

TEST(TextTableTest, PrintableTextEscapesAndCuts) {
  EXPECT_EQ(PrintableText("abc", 10), "abc");
  EXPECT_EQ(PrintableText("a\\b", 10), "a\\\\b");
  EXPECT_EQ(PrintableText(std::string("\0\x80", 2), 10), "\\x00\\x80");
  EXPECT_EQ(PrintableText("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace mandrill::publisher
