#pragma once
// Who is on the other end of a connection, as the auth file (auth/auth_file.h) names it: a role
// and the queues it may touch. The broker core asks a Principal before it acts on a frame; with
// no authentication configured there is no Principal and everything is allowed (docs/security.md).
#include <fnmatch.h>

#include <string>
#include <string_view>
#include <vector>

namespace mandrill::broker {

enum class Role { kPublisher, kWorker, kAdmin, kRevoked };

struct Principal {
  Role role = Role::kRevoked;
  std::string name;                   // from the auth file; binds worker instances and leases
  std::vector<std::string> patterns;  // globs over queue names; none: every queue

  bool AllowsQueue(std::string_view queue) const {
    if (role == Role::kRevoked) return false;
    if (patterns.empty()) return true;
    const std::string q(queue);
    for (const auto& p : patterns) {
      if (::fnmatch(p.c_str(), q.c_str(), 0) == 0) return true;
    }
    return false;
  }
  // Admins may do what the other roles do, on their queues.
  bool CanPublish(std::string_view queue) const {
    return (role == Role::kPublisher || role == Role::kAdmin) && AllowsQueue(queue);
  }
  bool CanConsume(std::string_view queue) const {
    return (role == Role::kWorker || role == Role::kAdmin) && AllowsQueue(queue);
  }
  bool IsAdmin() const { return role == Role::kAdmin; }
};

std::string_view RoleName(Role role);

}  // namespace mandrill::broker
