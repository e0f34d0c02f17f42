#include "broker/connection_events.h"

#include <algorithm>

namespace mandrill::broker {

std::vector<ConnectionClose> ClosesOf(const std::vector<ConnectionEvent>& events) {
  std::vector<ConnectionClose> closes;
  std::vector<int> accepted_later;  // a drain holds a handful of events: a vector is enough
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    const bool later = std::find(accepted_later.begin(), accepted_later.end(), it->fd) !=
                       accepted_later.end();
    if (it->kind == ConnectionEvent::kAccepted) {
      if (!later) accepted_later.push_back(it->fd);
    } else {
      closes.push_back({it->fd, later});
    }
  }
  std::reverse(closes.begin(), closes.end());
  return closes;
}

}  // namespace mandrill::broker
