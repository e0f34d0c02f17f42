// Names the protocol constrains, checked the same way by every peer.
#include "shared/protocol/codec.h"

namespace mandrill::protocol {

std::string CheckQueueName(std::string_view name) {
  if (name.empty()) return "queue name is empty";
  if (name.size() > kMaxQueueNameBytes) return "queue name longer than 128 bytes";
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == ':';
    if (!ok) return "queue name '" + std::string(name) + "' may only hold A-Z a-z 0-9 . _ - :";
  }
  return {};
}

std::string CheckMessageId(std::string_view id) {
  if (id.empty()) return "message id is empty";
  if (id.size() > kMaxMessageIdBytes) return "message id longer than 256 bytes";
  for (char ch : id) {
    if (ch <= ' ' || ch > '~') return "message id must be printable ASCII without spaces";
  }
  return {};
}

std::string CheckEndpoint(std::string_view endpoint) {
  const std::string shown = "'" + std::string(endpoint) + "'";
  const auto sep = endpoint.find("://");
  if (sep == std::string_view::npos) {
    return shown + " is not a ZeroMQ endpoint: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555";
  }
  const std::string_view scheme = endpoint.substr(0, sep);
  const std::string_view rest = endpoint.substr(sep + 3);
  if (scheme == "ipc" || scheme == "inproc") {
    if (rest.empty()) return shown + ": the " + std::string(scheme) + " name is empty";
    return {};
  }
  if (scheme != "tcp") {
    return shown + ": transport '" + std::string(scheme) + "' is not supported (tcp, ipc, inproc)";
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return shown + ": expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555";
  }
  const std::string_view port = rest.substr(colon + 1);
  if (port == "*") return {};
  if (port.empty() || port.size() > 5) return shown + ": the port must be 1 to 65535";
  unsigned value = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return shown + ": the port must be a number from 1 to 65535";
    value = value * 10 + static_cast<unsigned>(ch - '0');
  }
  if (value == 0 || value > 65535) return shown + ": the port must be 1 to 65535";
  return {};
}

}  // namespace mandrill::protocol
