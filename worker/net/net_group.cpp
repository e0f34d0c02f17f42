#include "worker/net/net_group.h"

namespace mandrill::worker {

NetGroup::NetGroup(const NetOptions& base, const cells::BrokerTargets& targets,
                   zmq::context_t& context, DeliverySink& loop_side, const core::Clock& clock) {
  const std::size_t n = targets.brokers.size();
  std::vector<Settlements*> raw;
  std::vector<std::string> names;
  for (std::size_t k = 0; k < n; ++k) {
    settlements_.push_back(std::make_unique<Settlements>());
    raw.push_back(settlements_.back().get());
    names.push_back(targets.brokers[k].name);
  }
  if (n > 1) {
    // Silent this long (no WELCOME, no depth report, which comes every heartbeat): treated as
    // gone for the credit split, as the network thread would declare it dead.
    const auto stale_after = base.heartbeat * base.liveness;
    fanout_ = std::make_unique<CellFanout>(names, loop_side, raw, base.credit, stale_after, clock);
  }
  for (std::size_t k = 0; k < n; ++k) {
    const auto& target = targets.brokers[k];
    NetOptions o = base;
    o.broker = target.endpoint;
    o.curve.reset();
    if (targets.own_key) o.curve = security::ClientKeys{*targets.own_key, target.public_z85};
    DeliverySink* sink = &loop_side;
    if (fanout_) {
      o.credit = fanout_->initial_credit(k);
      sink = &fanout_->sink(k);
    }
    nets_.push_back(std::make_unique<NetThread>(o, context, *settlements_[k], *sink));
  }
}

NetGroup::~NetGroup() { Join(); }

SettlementsInput& NetGroup::input() {
  if (fanout_) return *fanout_;
  return *settlements_.front();
}

void NetGroup::Start() {
  for (auto& net : nets_) net->Start();
}

void NetGroup::RequestClose() {
  for (auto& s : settlements_) s->RequestClose();
}

void NetGroup::Join() {
  for (auto& net : nets_) net->Join();
}

void NetGroup::SumCounters(NetCounters& out) const {
  for (const auto& net : nets_) {
    const NetCounters& c = net->counters();
    auto add = [](std::atomic<std::uint64_t>& to, const std::atomic<std::uint64_t>& from) {
      to.fetch_add(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
    };
    add(out.delivered, c.delivered);
    add(out.acks_sent, c.acks_sent);
    add(out.nacks_sent, c.nacks_sent);
    add(out.extends_sent, c.extends_sent);
    add(out.lease_lost, c.lease_lost);
    add(out.reconnects, c.reconnects);
    add(out.errors, c.errors);
    add(out.refused_by_sink, c.refused_by_sink);
    add(out.stale_dropped, c.stale_dropped);
    add(out.nacked_on_close, c.nacked_on_close);
    add(out.undecodable_frames, c.undecodable_frames);
    add(out.undecodable_nacked, c.undecodable_nacked);
    out.cpu_ns.fetch_add(c.cpu_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (c.welcomed.load(std::memory_order_relaxed)) {
      out.welcomed.store(true, std::memory_order_relaxed);
    }
    out.credit.fetch_add(c.credit.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
}

bool NetGroup::welcomed() const {
  for (const auto& net : nets_) {
    if (net->counters().welcomed.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace mandrill::worker
