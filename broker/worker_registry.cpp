#include "broker/worker_registry.h"

#include <cassert>

namespace mandrill::broker {

Worker* WorkerRegistry::Find(const std::string& routing_id) const {
  auto it = workers_.find(routing_id);
  return it == workers_.end() ? nullptr : it->second.get();
}

Worker* WorkerRegistry::Upsert(const std::string& routing_id, bool* created) {
  auto& slot = workers_[routing_id];
  *created = slot == nullptr;
  if (!slot) {
    slot = std::make_unique<Worker>();
    slot->routing_id = routing_id;
  }
  return slot.get();
}

void WorkerRegistry::Remove(Worker* w) {
  assert(w->leases.empty());
  workers_.erase(w->routing_id);
}

std::vector<Worker*> WorkerRegistry::OnConnection(int fd) const {
  std::vector<Worker*> out;
  if (fd < 0) return out;
  for (const auto& [id, w] : workers_) {
    if (w->fd == fd) out.push_back(w.get());
  }
  return out;
}

std::vector<Worker*> WorkerRegistry::All() const {
  std::vector<Worker*> out;
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_) out.push_back(w.get());
  return out;
}

}  // namespace mandrill::broker
