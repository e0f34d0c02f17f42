#include "publisher/fleet_merge.h"

#include <algorithm>
#include <map>
#include <set>

#include "publisher/admin_client.h"

namespace mandrill::publisher {
namespace {

bool IsUnsummed(std::string_view name) {
  return std::find(std::begin(kUnsummedCounters), std::end(kUnsummedCounters), name) !=
         std::end(kUnsummedCounters);
}

void AddQueue(protocol::QueueStats& into, const protocol::QueueStats& q) {
  into.ready += q.ready;
  into.in_flight += q.in_flight;
  into.deferred += q.deferred;
  into.dead += q.dead;
  into.published += q.published;
  into.acked += q.acked;
  into.nacked += q.nacked;
  into.redelivered += q.redelivered;
  into.expired += q.expired;
  into.dead_lettered += q.dead_lettered;
  into.deduplicated += q.deduplicated;
  into.refused_full += q.refused_full;
  into.oldest_ready_ms = std::max(into.oldest_ready_ms, q.oldest_ready_ms);
  into.consumers += q.consumers;
}

// A cell that did not answer, as a CellCount.
template <typename Reply>
CellCount FailedCell(const CellAnswer<Reply>& a) {
  CellCount c;
  c.cell = a.cell;
  c.message = a.reply.error().message;
  c.exit_code = CtlExitCode(a.reply.error());
  return c;
}

template <typename Reply>
bool SaysNoSuchQueue(const CellAnswer<Reply>& a) {
  return !a.reply.ok() && a.reply.error().code == protocol::ErrorCode::kUnknownQueue;
}

// A cell whose answer is "no such queue": it answered, and holds nothing of it.
CellCount CellWithoutQueue(const std::string& cell) {
  CellCount c;
  c.cell = cell;
  c.answered = true;
  c.message = "no such queue";
  return c;
}

}  // namespace

FleetStats MergeStats(const std::vector<CellAnswer<protocol::StatsReply>>& answers) {
  FleetStats f;
  std::map<std::string, protocol::QueueStats> queues;
  std::map<std::string, std::size_t> counter_at;  // name -> index in totals.counters
  for (const auto& a : answers) {
    CellSummary sum;
    sum.cell = a.cell;
    sum.endpoint = a.endpoint;
    if (!a.reply.ok()) {
      sum.error = a.reply.error().message;
      sum.exit_code = CtlExitCode(a.reply.error());
      f.cells.push_back(std::move(sum));
      continue;
    }
    const protocol::StatsReply& s = *a.reply;
    ++f.answered;
    sum.answered = true;
    sum.broker_id = s.broker_id;
    sum.uptime_ms = s.uptime_ms;
    sum.queues = std::max<std::uint64_t>(s.queues_total, s.queues.size());
    sum.workers = std::max<std::uint64_t>(s.workers_total, s.workers.size());
    for (const auto& q : s.queues) {
      sum.ready += q.ready;
      sum.in_flight += q.in_flight;
      sum.deferred += q.deferred;
      sum.dead += q.dead;
      auto [it, fresh] = queues.try_emplace(q.name);
      if (fresh) it->second.name = q.name;
      AddQueue(it->second, q);
    }
    for (const auto& w : s.workers) {
      f.totals.workers.push_back(w);
      f.worker_cells.push_back(a.cell);
    }
    f.totals.workers_total += sum.workers;
    for (const auto& [name, value] : s.counters) {
      if (name == kEpochCounter) {
        sum.epoch = value;
        continue;
      }
      auto [it, fresh] = counter_at.try_emplace(name, f.totals.counters.size());
      if (fresh) {
        f.totals.counters.emplace_back(name, value);
      } else if (IsUnsummed(name)) {
        auto& kept = f.totals.counters[it->second].second;
        kept = std::max(kept, value);
      } else {
        f.totals.counters[it->second].second += value;
      }
    }
    f.cells.push_back(std::move(sum));
  }
  for (auto& [name, q] : queues) f.totals.queues.push_back(std::move(q));
  f.totals.queues_total = f.totals.queues.size();
  return f;
}

int FleetExitCode(const std::vector<int>& cell_codes) {
  int worst = kCtlOk;
  auto rank = [](int code) {
    switch (code) {
      case kCtlOk:
        return 0;
      case kCtlBrokerError:
        return 1;
      case kCtlNoAnswer:
        return 2;
      case kCtlUsage:
        return 3;
    }
    return 1;
  };
  for (int c : cell_codes) {
    if (rank(c) > rank(worst)) worst = c;
  }
  return worst;
}

FleetQueues MergeQueues(const std::vector<CellAnswer<protocol::QueuesReply>>& answers) {
  FleetQueues f;
  std::map<std::string, std::vector<std::string>> holders;
  for (const auto& a : answers) {
    if (!a.reply.ok()) {
      f.cells.push_back(FailedCell(a));
      continue;
    }
    CellCount c;
    c.cell = a.cell;
    c.answered = true;
    // A name twice in one cell's pages is still one queue there.
    const std::set<std::string> names(a.reply->names.begin(), a.reply->names.end());
    c.count = names.size();
    for (const auto& n : names) holders[n].push_back(a.cell);
    f.cells.push_back(std::move(c));
  }
  for (auto& [name, cells] : holders) f.queues.push_back(FleetQueue{name, std::move(cells)});
  return f;
}

FleetDlq MergeDlqLists(const std::string& queue,
                       const std::vector<CellAnswer<protocol::DlqListReply>>& answers,
                       std::size_t limit) {
  FleetDlq f;
  f.queue = queue;
  bool any_answered = false, any_has = false;
  for (const auto& a : answers) {
    if (SaysNoSuchQueue(a)) {
      any_answered = true;
      f.cells.push_back(CellWithoutQueue(a.cell));
      continue;
    }
    if (!a.reply.ok()) {
      f.cells.push_back(FailedCell(a));
      continue;
    }
    any_answered = any_has = true;
    CellCount c;
    c.cell = a.cell;
    c.answered = c.has_queue = true;
    c.count = a.reply->total;
    f.total += a.reply->total;
    for (const auto& item : a.reply->items) f.items.push_back(FleetDeadLetter{a.cell, item});
    f.cells.push_back(std::move(c));
  }
  // Each cell lists its oldest first; stable keeps that (and the map order) among equal times.
  std::stable_sort(f.items.begin(), f.items.end(),
                   [](const FleetDeadLetter& x, const FleetDeadLetter& y) {
                     return x.item.dead_at_unix_ms < y.item.dead_at_unix_ms;
                   });
  if (f.items.size() > limit) f.items.resize(limit);
  f.unknown_everywhere = any_answered && !any_has;
  return f;
}

FleetAdminOk MergeAdminOks(const std::vector<std::string>& ids,
                           const std::vector<CellAnswer<protocol::AdminOk>>& answers) {
  FleetAdminOk f;
  bool any_answered = false, any_has = false;
  for (const auto& a : answers) {
    if (SaysNoSuchQueue(a)) {
      any_answered = true;
      f.cells.push_back(CellWithoutQueue(a.cell));
      continue;
    }
    if (!a.reply.ok()) {
      f.cells.push_back(FailedCell(a));
      continue;
    }
    any_answered = any_has = true;
    CellCount c;
    c.cell = a.cell;
    c.answered = c.has_queue = true;
    c.count = a.reply->count;
    c.message = a.reply->message;
    f.count += a.reply->count;
    f.cells.push_back(std::move(c));
  }
  const std::uint64_t asked = std::set<std::string>(ids.begin(), ids.end()).size();
  // An id dead on two cells (a failover duplicate) counts twice in `count`; none is missing.
  if (asked > f.count) f.missing = asked - f.count;
  f.unknown_everywhere = any_answered && !any_has;
  return f;
}

}  // namespace mandrill::publisher
