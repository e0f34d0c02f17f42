#include "broker/auth/auth_file.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "shared/core/text_file.h"
#include "shared/protocol/codec.h"
#include "shared/security/curve_keys.h"

namespace mandrill::broker {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPublisher: return "publisher";
    case Role::kWorker: return "worker";
    case Role::kAdmin: return "admin";
    case Role::kRevoked: return "revoked";
  }
  return "?";
}

namespace auth {
namespace {

core::Error LineError(const std::string& origin, int line, const std::string& what) {
  return core::Error{core::Errc::kInvalidArgument,
                     origin + " line " + std::to_string(line) + ": " + what};
}

bool ValidPatternChars(const std::string& p) {
  for (char c : p) {
    const bool glob = c == '*' || c == '?' || c == '[' || c == ']' || c == '!' || c == '-';
    const bool name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == ':';
    if (!glob && !name) return false;
  }
  return !p.empty();
}

}  // namespace

const Principal* AuthTable::FindName(const std::string& name) const {
  auto k = key_of.find(name);
  if (k == key_of.end()) return nullptr;
  auto p = by_key.find(k->second);
  return p == by_key.end() ? nullptr : &p->second;
}

core::Result<AuthTable> ParseAuthText(const std::string& text, const std::string& origin) {
  AuthTable t;
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty() || w[0][0] == '#') continue;
    if (w.size() < 3) {
      return LineError(origin, n, "expected 'ROLE NAME PUBLIC_KEY [QUEUE_PATTERN ...]', got '" +
                                      line + "'");
    }
    Principal p;
    if (w[0] == "publisher") {
      p.role = Role::kPublisher;
    } else if (w[0] == "worker") {
      p.role = Role::kWorker;
    } else if (w[0] == "admin") {
      p.role = Role::kAdmin;
    } else {
      return LineError(origin, n, "unknown role '" + w[0] + "' (publisher, worker or admin)");
    }
    p.name = w[1];
    if (!protocol::CheckQueueName(p.name).empty()) {
      return LineError(origin, n, "name '" + p.name + "' must be 1-255 characters of "
                                  "[A-Za-z0-9._:-]");
    }
    if (!security::IsZ85Key(w[2])) {
      return LineError(origin, n, "'" + w[2] + "' is not a Z85 public key (40 characters, "
                                  "as in NAME.pub)");
    }
    for (std::size_t i = 3; i < w.size(); ++i) {
      if (!ValidPatternChars(w[i])) {
        return LineError(origin, n, "queue pattern '" + w[i] + "' may hold queue-name "
                                    "characters and * ? [ ] ! only");
      }
      p.patterns.push_back(w[i]);
    }
    if (t.key_of.count(p.name) != 0) {
      return LineError(origin, n, "name '" + p.name + "' is listed twice");
    }
    if (t.by_key.count(w[2]) != 0) {
      return LineError(origin, n, "the key of '" + p.name + "' is already listed for '" +
                                      t.by_key.at(w[2]).name + "'");
    }
    t.key_of[p.name] = w[2];
    t.by_key.emplace(w[2], std::move(p));
  }
  return t;
}

core::Result<AuthTable> LoadAuthFile(const std::string& path) {
  auto text = core::ReadTextFile(path, "auth file");
  if (!text.ok()) return text.error();
  return ParseAuthText(*text, path);
}

}  // namespace auth
}  // namespace mandrill::broker
