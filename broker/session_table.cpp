#include "broker/session_table.h"

#include <algorithm>
#include <cassert>

namespace mandrill::broker {

const char* SessionStateName(SessionState s) {
  switch (s) {
    case SessionState::kWelcomed: return "welcomed";
    case SessionState::kWorking: return "working";
    case SessionState::kDraining: return "draining";
  }
  return "?";
}

SessionTable::~SessionTable() {
  while (heard_.PopFront() != nullptr) {
  }
  while (sent_.PopFront() != nullptr) {
  }
}

Session* SessionTable::Find(const std::string& routing_id) const {
  auto it = by_routing_id_.find(routing_id);
  return it == by_routing_id_.end() ? nullptr : it->second.get();
}

Session* SessionTable::FindInstance(const std::string& instance) const {
  if (instance.empty()) return nullptr;
  auto it = by_instance_.find(instance);
  return it == by_instance_.end() ? nullptr : it->second;
}

Session* SessionTable::Add(const std::string& routing_id, const std::string& instance,
                           core::SteadyTime now) {
  auto& slot = by_routing_id_[routing_id];
  assert(slot == nullptr);
  slot = std::make_unique<Session>();
  Session* s = slot.get();
  s->number = next_number_++;
  s->routing_id = routing_id;
  s->instance = instance;
  if (!instance.empty()) by_instance_[instance] = s;
  s->last_heard = s->last_sent = now;
  heard_.PushBack(s);
  sent_.PushBack(s);
  return s;
}

void SessionTable::Rekey(Session* s, const std::string& routing_id) {
  auto it = by_routing_id_.find(s->routing_id);
  assert(it != by_routing_id_.end() && it->second.get() == s);
  std::unique_ptr<Session> owned = std::move(it->second);
  by_routing_id_.erase(it);
  s->routing_id = routing_id;
  auto& slot = by_routing_id_[routing_id];
  assert(slot == nullptr);
  slot = std::move(owned);
}

void SessionTable::Remove(Session* s) {
  assert(s->leases.empty());
  Untie(s);
  heard_.Remove(s);
  sent_.Remove(s);
  if (!s->instance.empty()) by_instance_.erase(s->instance);
  by_routing_id_.erase(s->routing_id);
}

void SessionTable::TieTo(Session* s, int fd, std::int64_t pass) {
  s->fd_pass = pass;
  if (s->fd == fd) return;
  Untie(s);
  s->fd = fd;
  if (fd >= 0) by_fd_[fd].push_back(s);
}

void SessionTable::Untie(Session* s) {
  if (s->fd < 0) return;
  auto it = by_fd_.find(s->fd);
  if (it != by_fd_.end()) {
    std::erase(it->second, s);
    if (it->second.empty()) by_fd_.erase(it);
  }
  s->fd = -1;
}

std::vector<Session*> SessionTable::OnConnection(int fd) const {
  if (fd < 0) return {};
  auto it = by_fd_.find(fd);
  return it == by_fd_.end() ? std::vector<Session*>{} : it->second;
}

}  // namespace mandrill::broker
