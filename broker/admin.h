#pragma once
// Operator commands: STATS and QUEUES (paged by queue name, so any number of queues can be
// listed), and the dead letters: list, requeue, purge. Requeue and purge are written to storage
// first and applied and answered ADMIN_OK only once durable (STORAGE_FAILED, nothing changed,
// if a write failed). Reactor thread only.
#include <cstdint>
#include <string>

#include "broker/context.h"
#include "broker/dispatcher.h"
#include "broker/durability.h"
#include "broker/lease_table.h"
#include "broker/leasing.h"
#include "broker/metrics_snapshot.h"
#include "broker/session_table.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Admin {
 public:
  Admin(Context& ctx, const SessionTable& sessions, const LeaseTable& leases, Leasing& leasing,
        Dispatcher& dispatcher, const std::string& broker_id, core::SteadyTime started)
      : ctx_(ctx),
        sessions_(sessions),
        leases_(leases),
        leasing_(leasing),
        dispatcher_(dispatcher),
        broker_id_(broker_id),
        started_(started) {}

  protocol::StatsReply Stats(const protocol::StatsRequest& r) const;
  void Queues(const std::string& peer, const protocol::QueuesRequest& r);
  void DlqList(const std::string& peer, const protocol::DlqListRequest& r);
  // Requeue or purge (`kind`) the named dead letters of `queue` (all when `ids` is empty).
  void DlqChange(const std::string& peer, AdminOp::Kind kind, std::uint64_t request_id,
                 const std::string& queue, const std::vector<std::string>& ids);
  // Storage decided an operation's records (Durability).
  void Durable(AdminOp op);
  void Failed(AdminOp op, const std::string& error);

  // Broker-wide figures, also for STATS.
  protocol::Counters Counters() const;
  // The figures /metrics shows (at most `max_queues` queues, in name order).
  BrokerMetrics Metrics(std::size_t max_queues) const;

 private:
  // What `s` is working on: its leases, oldest first, with its handlers' reported run times.
  void Tasks(const Session& s, core::SteadyTime now,
             std::vector<protocol::WorkerStats::Task>& out) const;

  Context& ctx_;
  const SessionTable& sessions_;
  const LeaseTable& leases_;
  Leasing& leasing_;
  Dispatcher& dispatcher_;
  const std::string& broker_id_;
  core::SteadyTime started_;
};

}  // namespace mandrill::broker
