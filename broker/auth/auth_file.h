#pragma once
// The broker's auth file (--auth-file): one line per client key,
//   ROLE NAME PUBLIC_KEY [QUEUE_PATTERN ...]
// ROLE is publisher, worker or admin; NAME is unique and is what logs, STATS and the lease
// binding use; PUBLIC_KEY is the client's Z85 CURVE key (its NAME.pub); the patterns are globs
// (fnmatch) over queue names, none meaning every queue. Blank lines and lines starting with '#'
// are ignored. Any bad line fails the whole file with an error naming the line, so a typo never
// silently drops a client's rights or grants more.
#include <map>
#include <memory>
#include <string>

#include "broker/principal.h"
#include "shared/core/result.h"

namespace mandrill::broker::auth {

struct AuthTable {
  std::map<std::string, Principal> by_key;  // Z85 public key -> principal
  std::map<std::string, std::string> key_of;  // name -> Z85 public key

  // The principal for a name (as ZAP's User-Id carries it), or nullptr if no longer listed.
  const Principal* FindName(const std::string& name) const;
};

core::Result<AuthTable> ParseAuthText(const std::string& text, const std::string& origin);
core::Result<AuthTable> LoadAuthFile(const std::string& path);

}  // namespace mandrill::broker::auth
