#include "broker/access_gate.h"

#include <spdlog/spdlog.h>

#include <map>
#include <type_traits>
#include <vector>

namespace mandrill::broker {
namespace {

std::string Who(const Principal& p) {
  return std::string(RoleName(p.role)) + " '" + p.name + "'";
}

}  // namespace

bool AccessGate::Admit(const std::string& peer, const Principal& who, protocol::Message& m) {
  const protocol::Command command = protocol::CommandOf(m);
  return std::visit(
      [&](auto& msg) -> bool {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, protocol::Publish>) {
          return FilterPublish(peer, who, msg);
        } else if constexpr (std::is_same_v<T, protocol::Ready>) {
          return AdmitReady(peer, who, msg);
        } else if constexpr (std::is_same_v<T, protocol::StatsRequest> ||
                             std::is_same_v<T, protocol::QueuesRequest>) {
          return AdmitAdmin(peer, who, command, nullptr,
                            msg.request_id);
        } else if constexpr (std::is_same_v<T, protocol::DlqListRequest> ||
                             std::is_same_v<T, protocol::DlqRequeueRequest> ||
                             std::is_same_v<T, protocol::DlqPurgeRequest>) {
          return AdmitAdmin(peer, who, command, &msg.queue,
                            msg.request_id);
        } else {
          // Lease commands are checked against the session (leasing.h); the rest carry no
          // rights. A revoked key may still say goodbye, nothing else.
          if (who.role != Role::kRevoked || std::is_same_v<T, protocol::Disconnect>) return true;
          Deny(peer, command,
               "key '" + who.name + "' is no longer in the auth file");
          return false;
        }
      },
      m);
}

bool AccessGate::FilterPublish(const std::string& peer, const Principal& who,
                               protocol::Publish& m) {
  std::map<std::string, std::vector<std::string>> denied;  // queue -> ids
  // A frame usually names one queue: match its patterns once, not once per item.
  // (A copy: erase_if moves items, so a pointer into one would change under us.)
  std::string last;
  bool last_allowed = false, first = true;
  std::erase_if(m.items, [&](protocol::PublishItem& item) {
    if (first || last != item.queue) {
      last_allowed = who.CanPublish(item.queue);
      last = item.queue;
      first = false;
    }
    if (last_allowed) return false;
    denied[item.queue].push_back(std::move(item.id));
    return true;
  });
  for (auto& [queue, ids] : denied) {
    ctx_.counters.permission_denied += static_cast<std::int64_t>(ids.size());
    ctx_.refusal_log.Log(spdlog::level::warn, "PUBLISH to '{}' refused: {} may not publish there",
                         queue, Who(who));
    protocol::Error e;
    e.code = protocol::ErrorCode::kPermissionDenied;
    e.reason = Who(who) + " may not publish to queue '" + queue + "'";
    e.answers = protocol::CommandByte(protocol::Command::kPublish);
    e.queue = queue;
    e.ids = std::move(ids);
    ctx_.outbox.Reply(peer, std::move(e));
  }
  return !m.items.empty();
}

bool AccessGate::AdmitReady(const std::string& peer, const Principal& who,
                            const protocol::Ready& m) {
  for (const auto& q : m.queues) {
    if (!who.CanConsume(q)) {
      Deny(peer, protocol::Command::kReady, Who(who) + " may not consume queue '" + q + "'", 0, q);
      return false;
    }
  }
  if (!m.instance.empty()) {
    const Session* s = sessions_.FindInstance(m.instance);
    if (s != nullptr && s->owner != who.name) {
      // Taking over an instance takes over its leases and deliveries: only its own key may.
      Deny(peer, protocol::Command::kReady,
           "worker instance '" + m.instance + "' was announced by another key");
      return false;
    }
  }
  return true;
}

bool AccessGate::AdmitAdmin(const std::string& peer, const Principal& who,
                            protocol::Command command, const std::string* queue,
                            std::uint64_t request_id) {
  if (!who.IsAdmin()) {
    Deny(peer, command, Who(who) + " may not use " + std::string(protocol::CommandName(command)) +
                            " (admins only)",
         request_id);
    return false;
  }
  if (queue != nullptr && !who.AllowsQueue(*queue)) {
    Deny(peer, command, Who(who) + " may not administer queue '" + *queue + "'", request_id,
         *queue);
    return false;
  }
  return true;
}

void AccessGate::Deny(const std::string& peer, protocol::Command command, std::string reason,
                      std::uint64_t request_id, std::string queue) {
  ++ctx_.counters.permission_denied;
  ctx_.refusal_log.Log(spdlog::level::warn, "{} refused: {}", protocol::CommandName(command),
                       reason);
  protocol::Error e;
  e.code = protocol::ErrorCode::kPermissionDenied;
  e.reason = std::move(reason);
  e.answers = protocol::CommandByte(command);
  e.request_id = request_id;
  e.queue = std::move(queue);
  ctx_.outbox.Reply(peer, std::move(e));
}

}  // namespace mandrill::broker
