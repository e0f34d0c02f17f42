#pragma once
// The worker's network side: one NetThread for --broker, or one per cell for --cells (each with
// its own socket and Settlements) joined by a CellFanout, so the loop sees one stream either way.
// With one broker the outbox talks to the NetThread's Settlements directly: nothing is added to
// the single-broker path.
//
// Threading: construct, Start, RequestClose and Join from one thread (the app's); counters from
// any thread.
#include <memory>
#include <optional>
#include <vector>
#include <zmq.hpp>

#include "shared/cells/broker_targets.h"
#include "shared/core/clock.h"
#include "worker/net/cell_fanout.h"
#include "worker/net/net_thread.h"
#include "worker/net/settlements.h"

namespace mandrill::worker {

class NetGroup {
 public:
  // `base` holds everything but the broker and its key (filled in per target). `loop_side`
  // (the Bridge) and `clock` must outlive the group.
  NetGroup(const NetOptions& base, const cells::BrokerTargets& targets, zmq::context_t& context,
           DeliverySink& loop_side, const core::Clock& clock);
  ~NetGroup();  // joins

  // Where the loop's outbox hands its settlements.
  SettlementsInput& input();
  void Start();
  // Asks every network thread to flush and say DISCONNECT.
  void RequestClose();
  void Join();

  // The threads' counters summed (credit: summed; welcomed: any).
  void SumCounters(NetCounters& out) const;
  bool welcomed() const;  // by at least one broker
  std::size_t size() const { return nets_.size(); }

 private:
  std::vector<std::unique_ptr<Settlements>> settlements_;
  std::unique_ptr<CellFanout> fanout_;  // with more than one broker
  std::vector<std::unique_ptr<NetThread>> nets_;
};

}  // namespace mandrill::worker
