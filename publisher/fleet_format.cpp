#include "publisher/fleet_format.h"

#include "publisher/admin_client.h"
#include "publisher/json_writer.h"
#include "publisher/stats_format.h"
#include "publisher/text_table.h"

namespace mandrill::publisher {
namespace {

using Align = TextTable::Align;

std::string Count(std::uint64_t v) { return std::to_string(v); }
std::string CellName(const std::string& name) { return PrintableText(name, 64); }

// "CELL: REASON" for every cell that did not answer, after a blank line; "" when all did.
std::string FailureLines(const std::vector<CellCount>& cells) {
  std::string out;
  for (const auto& c : cells) {
    if (!c.answered) out += CellName(c.cell) + ": " + PrintableText(c.message, 1024) + "\n";
  }
  if (!out.empty()) out.insert(0, 1, '\n');
  return out;
}

// The `cells` array for queues/dlq/admin JSON; `count_key` names what `count` counts.
void CellCountsJson(JsonWriter& j, const std::vector<CellCount>& cells, const char* count_key,
                    bool with_queue) {
  j.Key("cells").BeginArray();
  for (const auto& c : cells) {
    j.BeginObject();
    j.Key("name").String(c.cell);
    j.Key("answered").Bool(c.answered);
    if (c.answered) {
      if (with_queue) j.Key("has_queue").Bool(c.has_queue);
      j.Key(count_key).Uint(c.count);
    } else {
      j.Key("error").String(c.message);
      j.Key("exit_code").Int(c.exit_code);
    }
    j.EndObject();
  }
  j.EndArray();
}

// "cell-1 2, cell-2 no such queue, cell-3 no answer"
std::string PerCellCounts(const std::vector<CellCount>& cells) {
  std::string out;
  for (const auto& c : cells) {
    if (!out.empty()) out += ", ";
    out += CellName(c.cell) + " ";
    if (!c.answered) {
      out += CellStateName(false, c.exit_code);
    } else if (!c.has_queue) {
      out += "no such queue";
    } else {
      out += Count(c.count);
    }
  }
  return out;
}

}  // namespace

std::string CellStateName(bool answered, int exit_code) {
  if (answered) return "ok";
  switch (exit_code) {
    case kCtlNoAnswer:
      return "no answer";
    case kCtlUsage:
      return "bad endpoint";
  }
  return "error";
}

std::string RenderFleetStatsTable(const FleetStats& f) {
  const std::size_t n = f.cells.size();
  std::string out = Count(n) + (n == 1 ? " cell, " : " cells, ") + Count(f.answered) +
                    " answered; totals of those:\n\n";
  out += RenderQueueStatsTable(f.totals.queues);
  out += "\n";
  out += RenderWorkerStatsTable(f.totals.workers, f.worker_cells);
  if (f.totals.workers_total > f.totals.workers.size()) {
    out += "(" + Count(f.totals.workers_total - f.totals.workers.size()) +
           " more workers not listed)\n";
  }
  if (!f.totals.counters.empty()) out.append("\n").append(RenderCounterTable(f.totals.counters));
  out += "\n";
  TextTable t({{"CELL"},
               {"STATE"},
               {"BROKER"},
               {"UP", Align::kRight},
               {"EPOCH", Align::kRight},
               {"QUEUES", Align::kRight},
               {"WORKERS", Align::kRight},
               {"READY", Align::kRight},
               {"IN FLIGHT", Align::kRight},
               {"DEAD", Align::kRight}});
  std::string reasons;
  for (const auto& c : f.cells) {
    if (!c.answered) {
      t.AddRow({CellName(c.cell), CellStateName(false, c.exit_code), "-", "-", "-", "-", "-", "-",
                "-", "-"});
      reasons += CellName(c.cell) + ": " + PrintableText(c.error, 1024) + "\n";
      continue;
    }
    t.AddRow({CellName(c.cell), "ok", PrintableText(c.broker_id, 64), CompactDuration(c.uptime_ms),
              c.epoch ? std::to_string(*c.epoch) : "-", Count(c.queues), Count(c.workers),
              Count(c.ready), Count(c.in_flight), Count(c.dead)});
  }
  out += t.Render();
  if (!reasons.empty()) out.append("\n").append(reasons);
  return out;
}

std::string RenderFleetStatsJson(const FleetStats& f) {
  JsonWriter j;
  j.BeginObject();
  j.Key("cells_total").Uint(f.cells.size());
  j.Key("cells_answered").Uint(f.answered);
  j.Key("totals").BeginObject();
  j.Key("queues").BeginArray();
  for (const auto& q : f.totals.queues) AppendQueueJson(j, q);
  j.EndArray();
  j.Key("workers").BeginArray();
  for (std::size_t i = 0; i < f.totals.workers.size(); ++i) {
    AppendWorkerJson(j, f.totals.workers[i], f.worker_cells.at(i));
  }
  j.EndArray();
  j.Key("workers_total").Uint(f.totals.workers_total);
  j.Key("counters").BeginObject();
  for (const auto& [name, value] : f.totals.counters) j.Key(name).Int(value);
  j.EndObject();
  j.EndObject();
  j.Key("cells").BeginArray();
  for (const auto& c : f.cells) {
    j.BeginObject();
    j.Key("name").String(c.cell);
    j.Key("endpoint").String(c.endpoint);
    j.Key("answered").Bool(c.answered);
    if (!c.answered) {
      j.Key("error").String(c.error);
      j.Key("exit_code").Int(c.exit_code);
    } else {
      j.Key("broker_id").String(c.broker_id);
      j.Key("uptime_ms").Int(c.uptime_ms);
      j.Key("epoch");
      if (c.epoch) {
        j.Int(*c.epoch);
      } else {
        j.Null();  // a broker without fencing epochs
      }
      j.Key("queues").Uint(c.queues);
      j.Key("workers").Uint(c.workers);
      j.Key("ready").Uint(c.ready);
      j.Key("in_flight").Uint(c.in_flight);
      j.Key("deferred").Uint(c.deferred);
      j.Key("dead").Uint(c.dead);
    }
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return j.str() + "\n";
}

std::string RenderFleetQueuesTable(const FleetQueues& f) {
  std::string out;
  if (f.queues.empty()) {
    out = "no queues\n";
  } else {
    TextTable t({{"QUEUE"}, {"CELLS"}});
    for (const auto& q : f.queues) {
      std::string cells;
      for (const auto& c : q.cells) cells.append(cells.empty() ? "" : ",").append(CellName(c));
      t.AddRow({PrintableText(q.name, 256), cells});
    }
    out = t.Render();
  }
  return out + FailureLines(f.cells);
}

std::string RenderFleetQueuesJson(const FleetQueues& f) {
  JsonWriter j;
  j.BeginObject().Key("queues").BeginArray();
  for (const auto& q : f.queues) {
    j.BeginObject().Key("name").String(q.name).Key("cells").BeginArray();
    for (const auto& c : q.cells) j.String(c);
    j.EndArray().EndObject();
  }
  j.EndArray();
  CellCountsJson(j, f.cells, "queues", false);
  j.EndObject();
  return j.str() + "\n";
}

std::string RenderFleetDlqTable(const FleetDlq& f) {
  std::string out = "dead letters of " + PrintableText(f.queue, 128) + ": " + Count(f.total) +
                    " total (" + PerCellCounts(f.cells) + "), " + Count(f.items.size()) +
                    " shown\n";
  if (!f.items.empty()) {
    TextTable t({{"CELL"},
                 {"ID"},
                 {"ATTEMPTS", Align::kRight},
                 {"DEAD AT (UTC)"},
                 {"LAST ERROR"},
                 {"PAYLOAD"}});
    for (const auto& d : f.items) {
      t.AddRow({CellName(d.cell), PrintableText(d.item.id, 256), Count(d.item.attempts),
                UtcTime(d.item.dead_at_unix_ms), PrintableText(d.item.last_error, 60),
                PrintableText(d.item.payload, 40)});
    }
    out.append("\n").append(t.Render());
  }
  return out + FailureLines(f.cells);
}

std::string RenderFleetDlqJson(const FleetDlq& f) {
  JsonWriter j;
  j.BeginObject();
  j.Key("queue").String(f.queue);
  j.Key("total").Uint(f.total);
  j.Key("items").BeginArray();
  for (const auto& d : f.items) {
    j.BeginObject();
    j.Key("cell").String(d.cell);
    j.Key("id").String(d.item.id);
    j.Key("attempts").Uint(d.item.attempts);
    j.Key("last_error").String(d.item.last_error);
    j.Key("dead_at_unix_ms").Int(d.item.dead_at_unix_ms);
    j.Key("payload_preview").String(d.item.payload);
    j.EndObject();
  }
  j.EndArray();
  CellCountsJson(j, f.cells, "total", true);
  j.EndObject();
  return j.str() + "\n";
}

std::string RenderFleetAdminOk(const FleetAdminOk& f, const std::string& verb,
                               const std::string& queue) {
  std::string out = verb + " " + Count(f.count) + (f.count == 1 ? " message" : " messages") +
                    " of " + PrintableText(queue, 128) + " (" + PerCellCounts(f.cells) + ")\n";
  if (f.missing > 0) {
    bool all_answered = true;
    for (const auto& c : f.cells) all_answered = all_answered && c.answered;
    out += Count(f.missing) + (f.missing == 1 ? " id was" : " ids were") +
           " not a dead letter on any cell" + (all_answered ? "" : " that answered") + "\n";
  }
  return out + FailureLines(f.cells);
}

std::string RenderFleetAdminOkJson(const FleetAdminOk& f) {
  JsonWriter j;
  j.BeginObject();
  j.Key("count").Uint(f.count);
  j.Key("missing").Uint(f.missing);
  CellCountsJson(j, f.cells, "count", true);
  j.EndObject();
  return j.str() + "\n";
}

}  // namespace mandrill::publisher
