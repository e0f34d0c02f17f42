#pragma once
// Workers known to the broker: who they are, what they consume, how much credit they granted,
// which leases they hold, and when they were last heard from. Reactor thread only.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/stored_message.h"
#include "shared/core/clock.h"

namespace mandrill::broker {

class Queue;

struct Worker {
  std::string routing_id;  // the connection it was last READY on (assigned by the ROUTER)
  std::string instance;    // the worker process's token (Ready::instance); empty: none
  std::string name;
  std::vector<Queue*> queues;
  std::uint32_t credit = 0;
  WorkerLeases leases;  // in flight to this worker
  int fd = -1;            // TCP connection it last spoke on (ZMQ_SRCFD)
  std::int64_t fd_pass = 0;  // the broker pass whose frame set `fd` (Broker::OnConnectionClosed)
  core::SteadyTime last_heard{};
  core::SteadyTime last_sent{};
  std::size_t next_queue = 0;  // round-robin position among `queues`
  std::uint64_t delivered = 0, acked = 0, nacked = 0;

  void TieTo(int connection_fd, std::int64_t pass) {
    fd = connection_fd;
    fd_pass = pass;
  }
  std::uint32_t free_credit() const {
    return leases.size() >= credit ? 0 : credit - static_cast<std::uint32_t>(leases.size());
  }
};

class WorkerRegistry {
 public:
  Worker* Find(const std::string& routing_id) const;
  // The worker whose process sent READY with `instance`, or nullptr (always for "").
  Worker* FindInstance(const std::string& instance) const;
  // Registers a new worker for `routing_id` with `instance` (which must be unknown).
  Worker* Add(const std::string& routing_id, const std::string& instance);
  // The worker's process reconnected: it now speaks on `routing_id` (which must be unused).
  void Rekey(Worker* w, const std::string& routing_id);
  // Forgets a worker; its leases must already be released.
  void Remove(Worker* w);
  // Workers whose last frame came over TCP connection `fd`.
  std::vector<Worker*> OnConnection(int fd) const;

  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [id, w] : workers_) f(w.get());
  }
  std::vector<Worker*> All() const;
  std::size_t size() const { return workers_.size(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<Worker>> workers_;
  std::unordered_map<std::string, Worker*> by_instance_;
};

}  // namespace mandrill::broker
