#include "broker/worker_registry.h"

#include <cassert>

namespace mandrill::broker {

Worker* WorkerRegistry::Find(const std::string& routing_id) const {
  auto it = workers_.find(routing_id);
  return it == workers_.end() ? nullptr : it->second.get();
}

Worker* WorkerRegistry::FindInstance(const std::string& instance) const {
  if (instance.empty()) return nullptr;
  auto it = by_instance_.find(instance);
  return it == by_instance_.end() ? nullptr : it->second;
}

Worker* WorkerRegistry::Add(const std::string& routing_id, const std::string& instance) {
  auto& slot = workers_[routing_id];
  assert(slot == nullptr);
  slot = std::make_unique<Worker>();
  slot->routing_id = routing_id;
  slot->instance = instance;
  if (!instance.empty()) by_instance_[instance] = slot.get();
  return slot.get();
}

void WorkerRegistry::Rekey(Worker* w, const std::string& routing_id) {
  auto it = workers_.find(w->routing_id);
  assert(it != workers_.end() && it->second.get() == w);
  std::unique_ptr<Worker> owned = std::move(it->second);
  workers_.erase(it);
  w->routing_id = routing_id;
  auto& slot = workers_[routing_id];
  assert(slot == nullptr);
  slot = std::move(owned);
}

void WorkerRegistry::Remove(Worker* w) {
  assert(w->leases.empty());
  if (!w->instance.empty()) by_instance_.erase(w->instance);
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
