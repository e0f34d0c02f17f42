#include "broker/auth/auth_store.h"

namespace mandrill::broker::auth {

core::Status AuthStore::Reload() {
  auto t = LoadAuthFile(path_);
  if (!t.ok()) return t.error();
  auto next = std::make_shared<const AuthTable>(std::move(t).value());
  core::MutexLock l(mu_);
  table_ = std::move(next);
  return core::Status::Ok();
}

}  // namespace mandrill::broker::auth
