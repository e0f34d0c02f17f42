#include "broker/peer_table.h"

namespace mandrill::broker {

PeerTable::~PeerTable() {
  while (lru_.PopFront() != nullptr) {
  }
}

void PeerTable::Heard(const std::string& peer, core::SteadyTime now) {
  auto& slot = by_id_[peer];
  if (!slot) {
    slot = std::make_unique<Entry>();
    slot->peer = peer;
  }
  slot->seen = now;
  lru_.MoveToBack(slot.get());
}

void PeerTable::Forget(const std::string& peer) {
  auto it = by_id_.find(peer);
  if (it == by_id_.end()) return;
  lru_.Remove(it->second.get());
  by_id_.erase(it);
}

void PeerTable::Prune(core::SteadyTime now) {
  while (Entry* e = lru_.Front()) {
    if (now - e->seen <= keep_) break;
    lru_.Remove(e);
    const std::string key = e->peer;  // erase destroys the entry that holds it
    by_id_.erase(key);
  }
}

}  // namespace mandrill::broker
