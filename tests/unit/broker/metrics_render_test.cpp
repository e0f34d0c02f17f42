// The broker's /metrics text from a hand-built snapshot: every documented family once, with its
// type; per-queue samples carry the right figures; STATS counters map to named or generic
// series without a family appearing twice; promtool accepts the whole output.
#include "broker/metrics_render.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shared/metrics/histogram.h"
#include "tests/support/promtool.h"

namespace mandrill::broker {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Family name -> how many "# TYPE" lines name it, and the type of the last.
struct Types {
  std::map<std::string, int> count;
  std::map<std::string, std::string> type;
};
Types TypesOf(const std::string& text) {
  Types t;
  for (const auto& line : Lines(text)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream in(line.substr(7));
    std::string name, type;
    in >> name >> type;
    ++t.count[name];
    t.type[name] = type;
  }
  return t;
}

// The value of the sample whose name and labels are exactly `series` (e.g. `m{queue="a"}`).
std::optional<std::string> Value(const std::string& text, const std::string& series) {
  std::optional<std::string> found;
  for (const auto& line : Lines(text)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      EXPECT_FALSE(found.has_value()) << "sample " << series << " appears twice";
      found = line.substr(series.size() + 1);
    }
  }
  return found;
}
double Number(const std::string& text, const std::string& series) {
  const auto v = Value(text, series);
  if (!v) {
    ADD_FAILURE() << "no sample " << series;
    return -12345;
  }
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  EXPECT_EQ(*end, '\0') << series << " = '" << *v << "'";
  return d;
}


metrics::HistogramData LatencyOf(std::initializer_list<double> values) {
  metrics::Histogram h(metrics::LatencyBounds());
  for (double v : values) h.Observe(v);
  return h.data();
}

// What Admin::Counters() and Journal::Stats() report, with distinct values.
protocol::Counters RealisticCounters() {
  const char* names[] = {"broker.frames_in",
                         "broker.bad_frames",
                         "broker.internal_errors",
                         "broker.epoch",
                         "broker.lease_lost",
                         "broker.stale_epoch_leases",
                         "broker.not_ready",
                         "broker.storage_failures",
                         "broker.storage_failed_records",
                         "broker.settle_rewrites",
                         "broker.send_failures",
                         "broker.workers_disconnected",
                         "broker.closes_ambiguous",
                         "broker.workers_timed_out",
                         "broker.workers_left",
                         "broker.workers_reconnected",
                         "broker.leases_released",
                         "broker.redelivered_elsewhere",
                         "broker.refused_full",
                         "broker.refused_memory",
                         "broker.refused_queues",
                         "broker.refused_peers",
                         "broker.refused_too_large",
                         "broker.permission_denied",
                         "broker.auth_refused",
                         "broker.auth_admitted",
                         "broker.dead_letters_dropped",
                         "broker.leases",
                         "broker.pending_durable",
                         "broker.messages",
                         "broker.queues",
                         "broker.queues_removed",
                         "broker.workers",
                         "broker.dedup_ids",
                         "broker.dedup_evicted",
                         "broker.memory_bytes",
                         "broker.max_memory_bytes",
                         "broker.passes",
                         "journal.segments",
                         "journal.bytes",
                         "journal.live_permille",
                         "journal.live_messages",
                         "journal.last_sync_us",
                         "journal.syncs",
                         "journal.records",
                         "journal.write_errors",
                         "journal.failed_records",
                         "journal.disk_full_passes",
                         "journal.compactions",
                         "journal.compacted_bytes",
                         "journal.segments_deleted",
                         "journal.recovery_ms",
                         "journal.recovered_messages",
                         "journal.recovered_ids",
                         "journal.recovered_records",
                         "journal.recovery_corrupt_regions",
                         "journal.recovery_corrupt_bytes",
                         "journal.recovery_truncated_bytes",
                         "journal.recovery_conflicts"};
  protocol::Counters c;
  std::int64_t v = 100;
  for (const char* n : names) c.emplace_back(n, v++);
  return c;
}

std::int64_t CounterValue(const protocol::Counters& c, const std::string& name) {
  for (const auto& [n, v] : c) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no counter " << name;
  return -1;
}

BrokerMetrics Sample() {
  BrokerMetrics m;
  m.broker_id = "b-7f3a";
  m.uptime_seconds = 12.5;
  QueueMetrics a;
  a.name = "orders.eu:high";
  a.ready = 5;
  a.unacked = 2;
  a.deferred = 1;
  a.dead = 3;
  a.consumers = 4;
  a.oldest_ready_age_seconds = 1.25;
  a.published = 101;
  a.acked = 90;
  a.nacked = 7;
  a.redelivered = 6;
  a.expired = 4;
  a.dead_lettered = 3;
  a.deduplicated = 2;
  a.refused_full = 11;
  a.refused_memory = 12;
  a.refused_storage = 13;
  QueueMetrics b;
  b.name = "emails";
  b.ready = 0;
  b.published = 1;
  b.acked = 1;
  b.refused_full = 21;
  m.queues = {a, b};
  m.queues_total = 2;
  m.confirm_latency = LatencyOf({0.0001, 0.002, 0.002, 0.5});
  m.sync_latency = LatencyOf({0.001, 0.004});
  m.counters = RealisticCounters();
  return m;
}

TEST(MetricsRenderTest, EveryRequiredFamilyAppearsOnceWithItsType) {
  const std::string text = RenderBrokerMetrics(Sample());
  Types t = TypesOf(text);
  const std::pair<const char*, const char*> required[] = {
      {"mandrill_queue_messages_ready", "gauge"},
      {"mandrill_queue_messages_unacked", "gauge"},
      {"mandrill_queue_messages_deferred", "gauge"},
      {"mandrill_queue_messages_dead", "gauge"},
      {"mandrill_queue_consumers", "gauge"},
      {"mandrill_queue_oldest_ready_age_seconds", "gauge"},
      {"mandrill_queue_published_total", "counter"},
      {"mandrill_queue_acked_total", "counter"},
      {"mandrill_queue_nacked_total", "counter"},
      {"mandrill_queue_redelivered_total", "counter"},
      {"mandrill_queue_expired_total", "counter"},
      {"mandrill_queue_dead_lettered_total", "counter"},
      {"mandrill_queue_deduplicated_total", "counter"},
      {"mandrill_queue_refused_total", "counter"},
      {"mandrill_queues_exported", "gauge"},
      {"mandrill_workers_connected", "gauge"},
      {"mandrill_lease_lost_total", "counter"},
      {"mandrill_broker_epoch", "gauge"},
      {"mandrill_stale_epoch_leases_total", "counter"},
      {"mandrill_storage_failures_total", "counter"},
      {"mandrill_publish_confirm_seconds", "histogram"},
      {"mandrill_journal_fsync_seconds", "histogram"},
      {"mandrill_journal_bytes", "gauge"},
      {"mandrill_journal_segments", "gauge"},
      {"mandrill_journal_recovery_seconds", "gauge"},
      {"mandrill_journal_last_sync_seconds", "gauge"},
      {"mandrill_process_resident_memory_bytes", "gauge"},
      {"mandrill_process_cpu_seconds_total", "counter"},
      {"mandrill_broker_uptime_seconds", "gauge"},
      {"mandrill_broker_info", "gauge"},
  };
  for (const auto& [name, type] : required) {
    EXPECT_EQ(t.count.count(name) ? t.count.at(name) : 0, 1) << name;
    EXPECT_EQ(t.type.count(name) ? t.type.at(name) : "", type) << name;
    EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
  }
}

TEST(MetricsRenderTest, NoFamilyIsDeclaredTwice) {
  const std::string text = RenderBrokerMetrics(Sample());
  Types t = TypesOf(text);
  for (const auto& [name, n] : t.count) EXPECT_EQ(n, 1) << name << " has " << n << " # TYPE lines";
  std::map<std::string, int> helps;
  for (const auto& line : Lines(text)) {
    if (line.rfind("# HELP ", 0) == 0) ++helps[line.substr(7, line.find(' ', 7) - 7)];
  }
  for (const auto& [name, n] : helps) EXPECT_EQ(n, 1) << name << " has " << n << " # HELP lines";
  EXPECT_EQ(helps.size(), t.count.size());
}

TEST(MetricsRenderTest, EverySampleBelongsToTheFamilyDeclaredJustBeforeIt) {
  // The text format wants a family's samples together, after its TYPE line.
  const std::string text = RenderBrokerMetrics(Sample());
  std::string family, type;
  std::set<std::string> finished;
  for (const auto& line : Lines(text)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      if (!family.empty()) finished.insert(family);
      std::istringstream in(line.substr(7));
      in >> family >> type;
      EXPECT_EQ(finished.count(family), 0u) << family << " declared again after other families";
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    std::string base = name;
    if (type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0) {
          base.resize(base.size() - s.size());
          break;
        }
      }
    }
    EXPECT_EQ(base, family) << line;
  }
}

TEST(MetricsRenderTest, PerQueueGaugesCarryEachQueuesFigures) {
  const std::string text = RenderBrokerMetrics(Sample());
  const std::string a = "{queue=\"orders.eu:high\"}", b = "{queue=\"emails\"}";
  EXPECT_EQ(Number(text, "mandrill_queue_messages_ready" + a), 5);
  EXPECT_EQ(Number(text, "mandrill_queue_messages_ready" + b), 0);
  EXPECT_EQ(Number(text, "mandrill_queue_messages_unacked" + a), 2);
  EXPECT_EQ(Number(text, "mandrill_queue_messages_unacked" + b), 0);
  EXPECT_EQ(Number(text, "mandrill_queue_messages_deferred" + a), 1);
  EXPECT_EQ(Number(text, "mandrill_queue_messages_dead" + a), 3);
  EXPECT_EQ(Number(text, "mandrill_queue_consumers" + a), 4);
  EXPECT_EQ(Number(text, "mandrill_queue_oldest_ready_age_seconds" + a), 1.25);
  EXPECT_EQ(Number(text, "mandrill_queue_oldest_ready_age_seconds" + b), 0);
}

TEST(MetricsRenderTest, PerQueueCountersCarryEachQueuesFigures) {
  const std::string text = RenderBrokerMetrics(Sample());
  const std::string a = "{queue=\"orders.eu:high\"}", b = "{queue=\"emails\"}";
  EXPECT_EQ(Value(text, "mandrill_queue_published_total" + a), "101");
  EXPECT_EQ(Value(text, "mandrill_queue_published_total" + b), "1");
  EXPECT_EQ(Value(text, "mandrill_queue_acked_total" + a), "90");
  EXPECT_EQ(Value(text, "mandrill_queue_acked_total" + b), "1");
  EXPECT_EQ(Value(text, "mandrill_queue_nacked_total" + a), "7");
  EXPECT_EQ(Value(text, "mandrill_queue_redelivered_total" + a), "6");
  EXPECT_EQ(Value(text, "mandrill_queue_expired_total" + a), "4");
  EXPECT_EQ(Value(text, "mandrill_queue_dead_lettered_total" + a), "3");
  EXPECT_EQ(Value(text, "mandrill_queue_deduplicated_total" + a), "2");
  EXPECT_EQ(Value(text, "mandrill_queue_nacked_total" + b), "0");
}

TEST(MetricsRenderTest, RefusalsAreOneSeriesPerQueueAndReason) {
  const std::string text = RenderBrokerMetrics(Sample());
  const std::string r = "mandrill_queue_refused_total{queue=\"";
  EXPECT_EQ(Value(text, r + "orders.eu:high\",reason=\"full\"}"), "11");
  EXPECT_EQ(Value(text, r + "orders.eu:high\",reason=\"memory\"}"), "12");
  EXPECT_EQ(Value(text, r + "orders.eu:high\",reason=\"storage_failed\"}"), "13");
  EXPECT_EQ(Value(text, r + "emails\",reason=\"full\"}"), "21");
  EXPECT_EQ(Value(text, r + "emails\",reason=\"memory\"}"), "0");
  EXPECT_EQ(Value(text, r + "emails\",reason=\"storage_failed\"}"), "0");
  std::size_t n = 0;
  for (const auto& line : Lines(text)) n += line.rfind("mandrill_queue_refused_total{", 0) == 0;
  EXPECT_EQ(n, 6u);
}

TEST(MetricsRenderTest, NamedCountersUseTheirOwnNamesAndUnits) {
  const BrokerMetrics m = Sample();
  const std::string text = RenderBrokerMetrics(m);
  const auto& c = m.counters;
  EXPECT_EQ(Number(text, "mandrill_workers_connected"), CounterValue(c, "broker.workers"));
  EXPECT_EQ(Number(text, "mandrill_lease_lost_total"), CounterValue(c, "broker.lease_lost"));
  EXPECT_EQ(Number(text, "mandrill_broker_epoch"), CounterValue(c, "broker.epoch"));
  EXPECT_EQ(Number(text, "mandrill_stale_epoch_leases_total"),
            CounterValue(c, "broker.stale_epoch_leases"));
  EXPECT_EQ(Number(text, "mandrill_storage_failures_total"),
            CounterValue(c, "broker.storage_failures"));
  EXPECT_EQ(Number(text, "mandrill_journal_bytes"), CounterValue(c, "journal.bytes"));
  EXPECT_EQ(Number(text, "mandrill_journal_segments"), CounterValue(c, "journal.segments"));
  EXPECT_NEAR(Number(text, "mandrill_journal_recovery_seconds"),
              CounterValue(c, "journal.recovery_ms") / 1e3, 1e-12);
  EXPECT_NEAR(Number(text, "mandrill_journal_last_sync_seconds"),
              CounterValue(c, "journal.last_sync_us") / 1e6, 1e-12);
  // ... and not also under their generic names.
  for (const char* generic :
       {"mandrill_broker_workers", "mandrill_broker_workers_total",
        "mandrill_broker_lease_lost_total", "mandrill_broker_storage_failures_total",
        "mandrill_broker_epoch_total", "mandrill_broker_stale_epoch_leases_total",
        "mandrill_journal_bytes_total", "mandrill_journal_segments_total",
        "mandrill_journal_recovery_ms", "mandrill_journal_recovery_ms_total",
        "mandrill_journal_last_sync_us_total"}) {
    EXPECT_EQ(text.find(std::string("\n") + generic + " "), std::string::npos) << generic;
    EXPECT_EQ(text.find(std::string("# TYPE ") + generic + " "), std::string::npos) << generic;
  }
}

TEST(MetricsRenderTest, OtherCountersAreGenericTotalsAndLevelsAreGauges) {
  const BrokerMetrics m = Sample();
  const std::string text = RenderBrokerMetrics(m);
  Types t = TypesOf(text);
  const auto& c = m.counters;
  EXPECT_EQ(t.type["mandrill_broker_frames_in_total"], "counter");
  EXPECT_EQ(Number(text, "mandrill_broker_frames_in_total"), CounterValue(c, "broker.frames_in"));
  EXPECT_EQ(t.type["mandrill_journal_syncs_total"], "counter");
  EXPECT_EQ(Number(text, "mandrill_journal_syncs_total"), CounterValue(c, "journal.syncs"));
  EXPECT_EQ(t.type["mandrill_broker_leases"], "gauge");
  EXPECT_EQ(Number(text, "mandrill_broker_leases"), CounterValue(c, "broker.leases"));
  EXPECT_EQ(t.type["mandrill_broker_memory_bytes"], "gauge");
  EXPECT_EQ(t.type["mandrill_journal_live_permille"], "gauge");
  EXPECT_EQ(t.type["mandrill_journal_recovered_messages"], "gauge");
  EXPECT_EQ(t.count.count("mandrill_broker_leases_total"), 0u);
  // Every STATS counter is exported exactly once, under one name or the other: the families are
  // the 15 per-queue ones (6 gauges, 7 counters, refusals, queues_exported), the 2 histograms,
  // one per counter, process RSS and CPU, uptime and info.
  EXPECT_EQ(t.count.size(), 15 + 2 + c.size() + 4);
}

TEST(MetricsRenderTest, ConfirmHistogramIsCumulativeAndConsistent) {
  const std::string text = RenderBrokerMetrics(Sample());
  const std::string h = "mandrill_publish_confirm_seconds";
  EXPECT_EQ(Value(text, h + "_bucket{le=\"5e-05\"}"), "0");
  EXPECT_EQ(Value(text, h + "_bucket{le=\"0.0001\"}"), "1");
  EXPECT_EQ(Value(text, h + "_bucket{le=\"0.0025\"}"), "3");
  EXPECT_EQ(Value(text, h + "_bucket{le=\"0.5\"}"), "4");
  EXPECT_EQ(Value(text, h + "_bucket{le=\"10\"}"), "4");
  EXPECT_EQ(Value(text, h + "_bucket{le=\"+Inf\"}"), "4");
  EXPECT_EQ(Value(text, h + "_count"), "4");
  EXPECT_NEAR(Number(text, h + "_sum"), 0.5041, 1e-9);
  EXPECT_EQ(Value(text, "mandrill_journal_fsync_seconds_count"), "2");
  EXPECT_EQ(Value(text, "mandrill_journal_fsync_seconds_bucket{le=\"0.001\"}"), "1");
}

TEST(MetricsRenderTest, FsyncHistogramOnlyWithSyncLatency) {
  BrokerMetrics m = Sample();
  m.sync_latency.reset();
  const std::string text = RenderBrokerMetrics(m);
  EXPECT_EQ(text.find("mandrill_journal_fsync_seconds"), std::string::npos);
  EXPECT_EQ(TypesOf(text).count.count("mandrill_publish_confirm_seconds"), 1u);
}

TEST(MetricsRenderTest, BrokerWideFigures) {
  const std::string text = RenderBrokerMetrics(Sample());
  EXPECT_EQ(Number(text, "mandrill_broker_uptime_seconds"), 12.5);
  EXPECT_EQ(Value(text, "mandrill_broker_info{broker_id=\"b-7f3a\"}"), "1");
  EXPECT_EQ(Value(text, "mandrill_queues_exported"), "2");
  EXPECT_GT(Number(text, "mandrill_process_resident_memory_bytes"), 0);
  EXPECT_GE(Number(text, "mandrill_process_cpu_seconds_total"), 0);
}

TEST(MetricsRenderTest, QueuesExportedCountsTheListNotTheTotal) {
  BrokerMetrics m = Sample();
  m.queues_total = 50'000;  // capped by --metrics-max-queues
  EXPECT_EQ(Value(RenderBrokerMetrics(m), "mandrill_queues_exported"), "2");
}

TEST(MetricsRenderTest, AnEmptySnapshotStillDeclaresTheFamilies) {
  const std::string text = RenderBrokerMetrics(BrokerMetrics{});
  Types t = TypesOf(text);
  EXPECT_EQ(t.count["mandrill_queue_messages_ready"], 1);
  EXPECT_EQ(t.count["mandrill_queue_refused_total"], 1);
  EXPECT_EQ(Value(text, "mandrill_publish_confirm_seconds_count"), "0");
  EXPECT_EQ(text.find("{queue="), std::string::npos);
  for (const auto& [name, n] : t.count) EXPECT_EQ(n, 1) << name;
}

TEST(MetricsRenderTest, PromtoolAcceptsTheOutput) {
  EXPECT_PROMTOOL_ACCEPTS(RenderBrokerMetrics(Sample()));
}

TEST(MetricsRenderTest, PromtoolAcceptsAnEmptySnapshotAndOneWithoutFsync) {
  BrokerMetrics m = Sample();
  m.sync_latency.reset();
  EXPECT_PROMTOOL_ACCEPTS(RenderBrokerMetrics(m));
  EXPECT_PROMTOOL_ACCEPTS(RenderBrokerMetrics(BrokerMetrics{}));
}

}  // namespace
}  // namespace mandrill::broker
