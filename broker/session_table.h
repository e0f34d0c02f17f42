#pragma once
// The worker sessions the broker knows: by routing id, by worker instance and by TCP
// connection, and in order of when each was last heard from and last sent to, so liveness
// checks look only at the sessions that are due. Owns the sessions. Reactor thread only.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "shared/core/intrusive_list.h"
#include "broker/session.h"

namespace mandrill::broker {

class SessionTable {
 public:
  SessionTable() = default;
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  Session* Find(const std::string& routing_id) const;
  // The session of the process that sent READY with `instance` (nullptr for "").
  Session* FindInstance(const std::string& instance) const;
  // A new session (state kWelcomed) for `routing_id`, which must be unused.
  Session* Add(const std::string& routing_id, const std::string& instance,
               core::SteadyTime now);
  // The session's process reconnected: it now speaks on `routing_id` (which must be unused).
  void Rekey(Session* s, const std::string& routing_id);
  // Forgets a session; its leases and subscriptions must already be gone.
  void Remove(Session* s);

  // Ties `s` to TCP connection `fd` (from a frame read in broker pass `pass`).
  void TieTo(Session* s, int fd, std::int64_t pass);
  void Untie(Session* s);
  // Sessions whose last frame came over TCP connection `fd`.
  std::vector<Session*> OnConnection(int fd) const;

  void Heard(Session* s, core::SteadyTime now) {
    s->last_heard = now;
    heard_.MoveToBack(s);
  }
  void Sent(Session* s, core::SteadyTime now) {
    s->last_sent = now;
    sent_.MoveToBack(s);
  }
  Session* LeastRecentlyHeard() const { return heard_.Front(); }
  Session* NextHeard(const Session* s) const { return heard_.Next(s); }
  Session* LeastRecentlySent() const { return sent_.Front(); }
  Session* NextSent(const Session* s) const { return sent_.Next(s); }

  std::size_t size() const { return by_routing_id_.size(); }
  template <typename F>
  void ForEach(F&& f) const {
    heard_.ForEach([&](Session* s) { f(s); });
  }

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<Session>> by_routing_id_;
  absl::flat_hash_map<std::string, Session*> by_instance_;
  absl::flat_hash_map<int, std::vector<Session*>> by_fd_;
  core::IntrusiveList<Session, HeardHook> heard_;
  core::IntrusiveList<Session, SentHook> sent_;
  std::uint32_t next_number_ = 1;
};

}  // namespace mandrill::broker
