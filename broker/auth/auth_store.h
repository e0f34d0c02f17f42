#pragma once
// The auth table in force, shared by the ZAP handler thread (which admits keys at the CURVE
// handshake) and the reactor (which looks up a frame's principal and reloads on SIGHUP). A
// reload swaps in a whole new table: each lookup sees one table, never a half-updated one, and
// connections already open keep working under the new rights of their name.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/auth/auth_file.h"
#include "shared/core/mutex.h"

namespace mandrill::broker::auth {

class AuthStore {
 public:
  explicit AuthStore(std::string path) : path_(std::move(path)) {}

  // Reads the file; on error the table in force (if any) stays. Thread: any.
  core::Status Reload();
  std::shared_ptr<const AuthTable> Get() const {
    core::MutexLock l(mu_);
    return table_;
  }
  const std::string& path() const { return path_; }

  // Handshakes refused (unknown key, wrong mechanism or domain) and admitted, counted by the
  // ZAP handler.
  std::atomic<std::int64_t> refused{0};
  std::atomic<std::int64_t> admitted{0};

 private:
  const std::string path_;
  mutable core::Mutex mu_;
  std::shared_ptr<const AuthTable> table_ GUARDED_BY(mu_);
};

}  // namespace mandrill::broker::auth
