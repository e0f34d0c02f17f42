#include "publisher/stats_format.h"

#include <cstdio>
#include <ctime>

#include "publisher/json_writer.h"
#include "publisher/text_table.h"

namespace mandrill::publisher {
namespace {

using Align = TextTable::Align;
constexpr std::size_t kPreviewChars = 40;

std::string Num(std::uint64_t v) { return std::to_string(v); }

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back(',');
    out.append(PrintableText(p, 64));
  }
  return out;
}

}  // namespace

void AppendQueueJson(JsonWriter& j, const protocol::QueueStats& q) {
  j.BeginObject();
  j.Key("name").String(q.name);
  j.Key("ready").Uint(q.ready);
  j.Key("in_flight").Uint(q.in_flight);
  j.Key("deferred").Uint(q.deferred);
  j.Key("dead").Uint(q.dead);
  j.Key("published").Uint(q.published);
  j.Key("acked").Uint(q.acked);
  j.Key("nacked").Uint(q.nacked);
  j.Key("redelivered").Uint(q.redelivered);
  j.Key("expired").Uint(q.expired);
  j.Key("dead_lettered").Uint(q.dead_lettered);
  j.Key("deduplicated").Uint(q.deduplicated);
  j.Key("refused_full").Uint(q.refused_full);
  j.Key("oldest_ready_ms").Int(q.oldest_ready_ms);
  j.Key("consumers").Uint(q.consumers);
  j.EndObject();
}

void AppendWorkerJson(JsonWriter& j, const protocol::WorkerStats& w, std::string_view cell) {
  j.BeginObject();
  if (!cell.empty()) j.Key("cell").String(cell);
  j.Key("name").String(w.name);
  j.Key("peer").String(w.peer);
  j.Key("queues").BeginArray();
  for (const auto& q : w.queues) j.String(q);
  j.EndArray();
  j.Key("credit").Uint(w.credit);
  j.Key("in_flight").Uint(w.in_flight);
  j.Key("full").Bool(WorkerIsFull(w));
  j.Key("delivered").Uint(w.delivered);
  j.Key("acked").Uint(w.acked);
  j.Key("nacked").Uint(w.nacked);
  j.Key("idle_ms").Int(w.idle_ms);
  j.Key("tasks").BeginArray();
  for (const auto& t : w.tasks) {
    j.BeginObject();
    j.Key("id").String(t.id);
    j.Key("queue").String(t.queue);
    j.Key("attempt").Uint(t.attempt);
    j.Key("leased_ms").Int(t.leased_ms);
    j.Key("running_ms");
    if (t.running_ms < 0) {
      j.Null();  // the worker has not reported this task running
    } else {
      j.Int(t.running_ms);
    }
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
}

bool WorkerIsFull(const protocol::WorkerStats& w) {
  return w.credit > 0 && w.in_flight >= w.credit;
}

std::string CompactDuration(std::int64_t ms) {
  char buf[48];
  if (ms < 0) return "-";
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return buf;
}

std::string UtcTime(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  if (unix_ms < 0 || gmtime_r(&secs, &tm) == nullptr) return "-";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string RenderQueueStatsTable(const std::vector<protocol::QueueStats>& queues) {
  TextTable t({{"QUEUE"},
               {"READY", Align::kRight},
               {"IN FLIGHT", Align::kRight},
               {"DEFERRED", Align::kRight},
               {"DEAD", Align::kRight},
               {"PUBLISHED", Align::kRight},
               {"ACKED", Align::kRight},
               {"REDELIVERED", Align::kRight}});
  for (const auto& q : queues) {
    t.AddRow({PrintableText(q.name, 64), Num(q.ready), Num(q.in_flight), Num(q.deferred),
              Num(q.dead), Num(q.published), Num(q.acked), Num(q.redelivered)});
  }
  return t.empty() ? "no queues\n" : t.Render();
}

std::string RenderWorkerStatsTable(const std::vector<protocol::WorkerStats>& workers,
                                   const std::vector<std::string>& cells) {
  std::vector<TextTable::Column> columns = {{"WORKER"},
                                            {"PEER"},
                                            {"QUEUES"},
                                            {"CREDIT", Align::kRight},
                                            {"IN FLIGHT", Align::kRight},
                                            {""},
                                            {"DELIVERED", Align::kRight},
                                            {"ACKED", Align::kRight},
                                            {"NACKED", Align::kRight},
                                            {"IDLE", Align::kRight}};
  const bool with_cells = !cells.empty();
  if (with_cells) columns.insert(columns.begin(), {"CELL"});
  TextTable t(std::move(columns));
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const auto& w = workers[i];
    std::vector<std::string> row = {PrintableText(w.name, 64),
                                    PrintableText(w.peer, 32),
                                    Join(w.queues),
                                    Num(w.credit),
                                    Num(w.in_flight),
                                    WorkerIsFull(w) ? "FULL" : "",
                                    Num(w.delivered),
                                    Num(w.acked),
                                    Num(w.nacked),
                                    CompactDuration(w.idle_ms)};
    if (with_cells) row.insert(row.begin(), i < cells.size() ? cells[i] : "");
    t.AddRow(std::move(row));
  }
  return t.empty() ? "no workers\n" : t.Render();
}

std::string RenderCounterTable(const protocol::Counters& counters) {
  TextTable t({{"COUNTER"}, {"VALUE", Align::kRight}});
  for (const auto& [name, value] : counters) {
    t.AddRow({PrintableText(name, 64), std::to_string(value)});
  }
  return t.Render();
}

std::string RenderStatsTable(const protocol::StatsReply& s) {
  std::string out =
      "broker " + PrintableText(s.broker_id, 64) + ", up " + CompactDuration(s.uptime_ms) + "\n\n";
  out += RenderQueueStatsTable(s.queues);
  out += "\n";
  out += RenderWorkerStatsTable(s.workers, {});
  if (s.workers_total > s.workers.size()) {
    out += "(" + Num(s.workers_total - s.workers.size()) + " more workers not listed)\n";
  }
  if (!s.counters.empty()) out.append("\n").append(RenderCounterTable(s.counters));
  return out;
}

std::string RenderStatsJson(const protocol::StatsReply& s) {
  JsonWriter j;
  j.BeginObject();
  j.Key("broker_id").String(s.broker_id);
  j.Key("uptime_ms").Int(s.uptime_ms);
  j.Key("queues").BeginArray();
  for (const auto& q : s.queues) AppendQueueJson(j, q);
  j.EndArray();
  j.Key("workers").BeginArray();
  for (const auto& w : s.workers) AppendWorkerJson(j, w, {});
  j.EndArray();
  j.Key("counters").BeginObject();
  for (const auto& [name, value] : s.counters) j.Key(name).Int(value);
  j.EndObject();
  j.EndObject();
  return j.str() + "\n";
}

std::string RenderQueuesTable(const protocol::QueuesReply& q) {
  if (q.names.empty()) return "no queues\n";
  std::string out;
  for (const auto& name : q.names) out += PrintableText(name, 256) + "\n";
  return out;
}

std::string RenderQueuesJson(const protocol::QueuesReply& q) {
  JsonWriter j;
  j.BeginObject().Key("queues").BeginArray();
  for (const auto& name : q.names) j.String(name);
  j.EndArray().EndObject();
  return j.str() + "\n";
}

std::string RenderDlqTable(const protocol::DlqListReply& d) {
  std::string out = "dead letters of " + PrintableText(d.queue, 128) + ": " + Num(d.total) +
                    " total, " + Num(d.items.size()) + " shown\n";
  if (d.items.empty()) return out;
  TextTable t(
      {{"ID"}, {"ATTEMPTS", Align::kRight}, {"DEAD AT (UTC)"}, {"LAST ERROR"}, {"PAYLOAD"}});
  for (const auto& item : d.items) {
    t.AddRow({PrintableText(item.id, 256), Num(item.attempts), UtcTime(item.dead_at_unix_ms),
              PrintableText(item.last_error, 60), PrintableText(item.payload, kPreviewChars)});
  }
  return out + "\n" + t.Render();
}

std::string RenderDlqJson(const protocol::DlqListReply& d) {
  JsonWriter j;
  j.BeginObject();
  j.Key("queue").String(d.queue);
  j.Key("total").Uint(d.total);
  j.Key("items").BeginArray();
  for (const auto& item : d.items) {
    j.BeginObject();
    j.Key("id").String(item.id);
    j.Key("attempts").Uint(item.attempts);
    j.Key("last_error").String(item.last_error);
    j.Key("dead_at_unix_ms").Int(item.dead_at_unix_ms);
    j.Key("payload_preview").String(item.payload);
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return j.str() + "\n";
}

std::string RenderAdminOk(const protocol::AdminOk& ok, const std::string& verb,
                          const std::string& queue) {
  if (!ok.message.empty()) return PrintableText(ok.message, 1024) + "\n";
  return verb + " " + Num(ok.count) + (ok.count == 1 ? " message" : " messages") + " of " +
         PrintableText(queue, 128) + "\n";
}

std::string RenderAdminOkJson(const protocol::AdminOk& ok) {
  JsonWriter j;
  j.BeginObject().Key("count").Uint(ok.count).Key("message").String(ok.message).EndObject();
  return j.str() + "\n";
}

}  // namespace mandrill::publisher
