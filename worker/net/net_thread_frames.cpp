// NetThread, the frames from the broker: decoding them with the broker's limits, and what each
// does (deliveries into the sink or its backlog, WELCOME, ERROR, the close's STATS answer).
// Network thread only, like the rest of NetThread (net_thread.h).
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "worker/net/deliver_salvage.h"
#include "worker/net/net_thread.h"

namespace mandrill::worker {
namespace {

constexpr const char* kClosingReason = "worker shutting down";

}  // namespace

void NetThread::OfferDeliveries(std::vector<protocol::DeliverItem>&& items) {
  if (closing_ || sink_closed_) {
    NackOnClose(items);  // the loop takes nothing more: no need to offer (and be refused) again
    return;
  }
  if (!backlog_.empty()) {
    // Keep delivery order: behind what the sink already refused.
    for (auto& item : items) backlog_.push_back(std::move(item));
    return;
  }
  if (sink_.OnDeliveries(items)) return;
  if (sink_.closed()) {
    // The loop is stopping and its close request is on its way. CREDIT 0 goes first (this pass's
    // SyncCredit), so the broker does not hand the nacked messages straight back to us.
    sink_closed_ = true;
    NackOnClose(items);
    return;
  }
  ++counters_.refused_by_sink;
  backlog_ = std::move(items);
  paused_ = true;
  spdlog::warn("the loop has {}+ undelivered messages waiting (it is behind): holding {} here "
               "and asking the broker for no more until it catches up",
               credit_wanted_, backlog_.size());
}

void NetThread::NackOnClose(const std::vector<protocol::DeliverItem>& items) {
  if (items.empty()) return;
  for (const auto& item : items) unsent_.nacks.push_back({item.lease_id, 0, kClosingReason});
  counters_.nacked_on_close += items.size();
  spdlog::info("{} messages arrived after the loop stopped taking work: nacked for immediate "
               "redelivery",
               items.size());
}

void NetThread::RetryBacklog() {
  if (backlog_.empty() || !sink_.OnDeliveries(backlog_)) return;
  backlog_.clear();
  paused_ = false;
  spdlog::info("the loop caught up; credit {} restored", credit_wanted_);
}

void NetThread::HandleWelcome(const protocol::Welcome& w) {
  welcomed_ = true;
  backoff_.Reset();
  if (w.heartbeat_ms > 0) heartbeat_ = std::chrono::milliseconds(w.heartbeat_ms);
  if (!broker_id_.empty() && broker_id_ != w.broker_id) {
    const std::size_t dropped = unsent_.DropLeaseCommands() + backlog_.size();
    counters_.stale_dropped += dropped;
    backlog_.clear();
    paused_ = false;
    spdlog::warn("broker restarted ({} -> {}): every lease held before is gone{}", broker_id_,
                 w.broker_id,
                 dropped > 0 ? "; dropped " + std::to_string(dropped) +
                                   " unsent commands/deliveries for the old broker's leases"
                             : std::string());
  }
  broker_id_ = w.broker_id;
  // Decode what this broker may send: its limits, not our defaults (an older broker sends none).
  const protocol::Limits defaults;
  limits_.max_payload_bytes = w.max_payload_bytes > 0 ? w.max_payload_bytes : defaults.max_payload_bytes;
  limits_.max_body_bytes = w.max_body_bytes > 0 ? w.max_body_bytes : defaults.max_body_bytes;
  limits_.max_batch = w.max_batch > 0 ? w.max_batch : defaults.max_batch;
  // The epoch (0 from an older broker) is for the operator: a takeover shows as a higher one.
  spdlog::info("welcomed by broker {} epoch {} (heartbeat {} ms, lease {} ms, max lease {} ms, "
               "payloads up to {} bytes)",
               w.broker_id, w.epoch, w.heartbeat_ms, w.lease_ms, w.max_lease_ms,
               limits_.max_payload_bytes);
  sink_.OnWelcome(w);
}

void NetThread::HandleError(protocol::Error&& e) {
  if (e.code == protocol::ErrorCode::kLeaseLost) {
    counters_.lease_lost += e.leases.size();
    sink_.OnLeasesLost(std::move(e.leases));
  } else if (e.code == protocol::ErrorCode::kNotReady) {
    // The broker declared us dead (and released our leases) while our connection stayed up.
    welcomed_ = false;
    const std::size_t dropped = unsent_.DropLeaseCommands() + backlog_.size();
    counters_.stale_dropped += dropped;
    backlog_.clear();
    paused_ = false;
    spdlog::warn("broker does not know this worker any more (it declared it dead): every lease "
                 "is gone; announcing again");
    sink_.OnSessionLost("the broker declared this worker dead");
    SendReady();
  } else if (e.answers == static_cast<std::uint8_t>(protocol::Command::kReady) &&
             static_cast<int>(e.code) >= 100 && static_cast<int>(e.code) < 200) {
    // A 1xx refusal of this READY is about what it says (a queue name, the protocol), not about
    // now (2xx: a limit, a shutdown): announcing again every 500 ms would be refused forever.
    ++counters_.errors;
    fatal_ = "the broker refused this worker: " + e.reason + " (" +
             std::string(protocol::ErrorCodeName(e.code)) + ")";
  } else {
    ++counters_.errors;
    spdlog::error("broker error {} ({}): {}", static_cast<int>(e.code),
                  protocol::ErrorCodeName(e.code), e.reason);
  }
}

void NetThread::Handle(protocol::Message&& m) {
  if (auto* d = std::get_if<protocol::Deliver>(&m)) {
    counters_.delivered += d->items.size();
    OfferDeliveries(std::move(d->items));
  } else if (auto* x = std::get_if<protocol::Extended>(&m)) {
    sink_.OnExtended(std::move(x->items));
  } else if (auto* w = std::get_if<protocol::Welcome>(&m)) {
    HandleWelcome(*w);
  } else if (auto* e = std::get_if<protocol::Error>(&m)) {
    HandleError(std::move(*e));
  } else if (auto* s = std::get_if<protocol::StatsReply>(&m)) {
    if (s->request_id == kCloseSyncRequest) {
      sync_done_ = true;
      spdlog::debug("the broker has processed everything we sent; closing");
    }
  } else if (auto* dc = std::get_if<protocol::Disconnect>(&m)) {
    spdlog::warn("broker said DISCONNECT ({}); will announce again when it is back", dc->reason);
    welcomed_ = false;
  } else if (auto* h = std::get_if<protocol::Heartbeat>(&m)) {
    sink_.OnReadyDepth(h->ready);
  } else {
    ++counters_.errors;
    spdlog::warn("unexpected {} from broker ignored",
                 protocol::CommandName(protocol::CommandOf(m)));
  }
}

void NetThread::DrainSocket() {
  protocol::Received in;
  while (socket_ && protocol::Receive(*socket_, in)) {
    last_heard_ = std::chrono::steady_clock::now();
    auto decoded = protocol::DecodeReceived(in, 0, limits_);
    if (!decoded.ok()) {
      Undecodable(in, decoded.error().message);
      continue;
    }
    Handle(std::move(decoded).value());
  }
}

void NetThread::Undecodable(const protocol::Received& in, const std::string& why) {
  ++counters_.errors;
  ++counters_.undecodable_frames;
  const bool deliver = in.frames.size() == 3 && in.frames[1].size() == 1 &&
                       *static_cast<const char*>(in.frames[1].data()) ==
                           static_cast<char>(protocol::Command::kDeliver);
  if (!deliver) {
    spdlog::error("undecodable frame from broker ignored: {}", why);
    return;
  }
  // Every lease in the frame goes back now, so the messages are redelivered (and dead-lettered
  // with this reason after --max-deliveries) rather than left leased here until they expire.
  const auto salvaged = SalvageDeliverLeases(protocol::View(in.frames[2]));
  const std::string reason = "worker cannot decode this DELIVER: " + why.substr(0, 200);
  for (const auto lease : salvaged.leases) unsent_.nacks.push_back({lease, 0, reason});
  counters_.undecodable_nacked += salvaged.leases.size();
  const std::size_t unnamed = salvaged.items - salvaged.leases.size();
  std::string rest;
  if (salvaged.items == 0) {
    rest = "; no item is readable";
  } else if (unnamed > 0) {
    rest = "; " + std::to_string(unnamed) + " items name no lease";
  }
  if (!rest.empty()) rest += " (the broker redelivers those when their lease expires)";
  spdlog::error("undecodable DELIVER from broker ({}): nacked its {} leases{}", why,
                salvaged.leases.size(), rest);
}

}  // namespace mandrill::worker
