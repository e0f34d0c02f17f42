#include "worker/loop/bridge.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdint>
#include <iterator>
#include <stdexcept>

#include "shared/runtime/errors.h"

namespace mandrill::worker {

Bridge::Bridge(runtime::Loop& loop, std::size_t capacity)
    : loop_(loop), capacity_(capacity), room_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (room_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Bridge::~Bridge() { close(room_fd_); }

bool Bridge::OnDeliveries(std::vector<protocol::DeliverItem>& items) {
  if (items.empty()) return true;
  core::MutexLock lock(mu_);
  if (closed_) {
    ++stats_.refused;
    return false;
  }
  if (room_signalled_) {
    // Consume the room signal; if there is still no room it is written again later.
    room_signalled_ = false;
    std::uint64_t value;
    [[maybe_unused]] auto n = read(room_fd_, &value, sizeof value);
  }
  if (in_transit_ > 0 && in_transit_ + items.size() > capacity_) {
    room_wanted_ = true;
    ++stats_.refused;
    return false;
  }
  in_transit_ += items.size();
  stats_.delivered += items.size();
  queue_.emplace_back(std::move(items));
  items.clear();
  ScheduleLocked();
  return true;
}

void Bridge::OnLeasesLost(std::vector<std::uint64_t> leases) {
  Push(LeasesLost{std::move(leases)});
}
void Bridge::OnSessionLost(std::string reason) { Push(SessionLost{std::move(reason)}); }
void Bridge::OnExtended(std::vector<protocol::ExtendedItem> items) { Push(std::move(items)); }
void Bridge::OnWelcome(const protocol::Welcome& welcome) { Push(welcome); }
void Bridge::OnNetStopped(std::string reason, bool failed) {
  Push(NetStopped{std::move(reason), failed});
}

void Bridge::Push(Event&& event) {
  core::MutexLock lock(mu_);
  queue_.push_back(std::move(event));
  ScheduleLocked();
}

void Bridge::ScheduleLocked() {
  if (scheduled_) return;
  try {
    loop_.Post([this] { Dispatch(); });
    scheduled_ = true;
    ++stats_.posts;
  } catch (const runtime::LoopClosed& e) {
    // Only after the loop finished (the network thread outlived it, which shutdown order
    // prevents): the broker releases these leases when the connection closes.
    stats_.dropped += queue_.size();
    spdlog::error("bridge: the loop has finished; dropping {} events ({})", queue_.size(),
                  e.what());
    queue_.clear();
    in_transit_ = 0;
  }
}

void Bridge::Detach() {
  detached_ = true;
  target_ = nullptr;
}

bool Bridge::closed() const {
  core::MutexLock lock(mu_);
  return closed_;
}

BridgeStats Bridge::stats() const {
  core::MutexLock lock(mu_);
  return stats_;
}

void Bridge::TakeQueued() {
  core::MutexLock lock(mu_);
  // Leftovers of the previous pass (still counted in transit) go first, then what arrived.
  if (taking_.empty()) {
    taking_.swap(queue_);
  } else {
    for (Event& event : queue_) taking_.push_back(std::move(event));
    queue_.clear();
  }
  scheduled_ = false;
}

void Bridge::Dispatch() {
  TakeQueued();
  if (detached_ || target_ == nullptr) {
    if (detached_) {
      if (!taking_.empty()) {
        spdlog::debug("bridge: dropping {} events that arrived after the loop side detached",
                      taking_.size());
      }
    } else {
      spdlog::critical("bridge: events arrived before the loop side attached; dropping {}",
                       taking_.size());
    }
    taking_.clear();
    next_item_ = 0;
    core::MutexLock lock(mu_);
    in_transit_ = 0;
    SignalRoomLocked();
    return;
  }
  const std::size_t handed = DispatchTaken(kDispatchChunk);
  const bool more = !taking_.empty();
  core::MutexLock lock(mu_);
  in_transit_ -= handed;
  SignalRoomLocked();
  // The rest waits for the next loop iteration, after the tasks just spawned have run.
  if (more) ScheduleLocked();
}

void Bridge::Close() {
  {
    core::MutexLock lock(mu_);
    closed_ = true;
    room_wanted_ = false;  // no room will come: the network thread nacks what it holds
  }
  TakeQueued();
  if (detached_ || target_ == nullptr) return;  // Dispatch drops them, as before
  const std::size_t handed = DispatchTaken(SIZE_MAX);
  core::MutexLock lock(mu_);
  in_transit_ -= handed;
}

std::size_t Bridge::DispatchTaken(std::size_t limit) {
  std::size_t handed = 0;  // messages handed to the loop side in this pass
  std::size_t next_event = 0;
  for (; next_event < taking_.size(); ++next_event) {
    Event& event = taking_[next_event];
    if (auto* d = std::get_if<std::vector<protocol::DeliverItem>>(&event)) {
      if (handed == limit) break;
      const std::size_t n = std::min(d->size() - next_item_, limit - handed);
      handed += n;
      if (next_item_ == 0 && n == d->size()) {
        target_->OnDeliveries(std::move(*d));
      } else {
        std::vector<protocol::DeliverItem> chunk(std::make_move_iterator(d->begin() + next_item_),
                                                 std::make_move_iterator(d->begin() + next_item_ + n));
        next_item_ += n;
        target_->OnDeliveries(std::move(chunk));
        if (next_item_ < d->size()) break;  // the chunk is full: the rest next pass
        next_item_ = 0;
      }
    } else if (auto* l = std::get_if<LeasesLost>(&event)) {
      target_->OnLeasesLost(l->leases);
    } else if (auto* s = std::get_if<SessionLost>(&event)) {
      target_->OnSessionLost(s->reason);
    } else if (auto* x = std::get_if<std::vector<protocol::ExtendedItem>>(&event)) {
      target_->OnExtended(*x);
    } else if (auto* w = std::get_if<protocol::Welcome>(&event)) {
      target_->OnWelcome(*w);
    } else if (auto* n = std::get_if<NetStopped>(&event)) {
      target_->OnNetStopped(n->reason, n->failed);
    }
  }
  // Dispatched events go now, so the buffer holds only what is still to come.
  taking_.erase(taking_.begin(), taking_.begin() + static_cast<std::ptrdiff_t>(next_event));
  return handed;
}

void Bridge::SignalRoomLocked() {
  if (!room_wanted_) return;
  room_wanted_ = false;
  room_signalled_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(room_fd_, &one, sizeof one);
}

}  // namespace mandrill::worker
