#pragma once
// Bridge: the thread-safe way from the network thread into the loop thread (asyncio's
// call_soon_threadsafe). The network thread calls the DeliverySink methods; they append the
// event to a queue under a mutex and, on the queue's empty-to-non-empty transition, post ONE
// callback to the loop (Loop::Post), which takes the whole queue and hands it, in order, to the
// loop side (LoopEvents). The network thread never waits for the loop.
//
// Chunks: one Dispatch hands at most kDispatchChunk messages to the loop side and posts itself
// again for the rest, so the loop runs (and acks) each chunk's tasks before it spawns the next.
// A burst of a whole credit's worth of deliveries then flows through in slices that stay in the
// CPU cache and whose acks leave while the broker still has work, instead of one long pass over
// thousands of cold tasks followed by one ack batch (a ping-pong that left half of a 2-core
// machine idle). Other events keep their order relative to the deliveries.
//
// Bound: at most `capacity` delivered messages may be in transit (pushed, not yet taken by the
// loop). OnDeliveries refuses a batch that would exceed it (unless nothing is in transit, so a
// batch is never refused forever) and room_fd() becomes readable once the loop has taken what was
// queued. Since the broker never has more than the credit (= capacity) leases out to this
// worker, a refusal means the loop is behind; NetThread's full policy then holds the batch and
// pauses the credit. Control events (lost leases, EXTENDED, WELCOME) are never refused: they are
// bounded by the leases held.
//
// Closing: before the loop asks the network thread to close, it calls Close(), which hands
// whatever is still queued to the loop side at once and refuses every later delivery. So no
// delivery reaches the loop side after its last settlements went out: the network thread nacks
// what arrives from then on itself (NetThread, "Closing"), and every NACK precedes DISCONNECT.
//
// Threading: DeliverySink methods on the network thread (any one thread); stats() anywhere.
// Attach() on the loop thread before the network thread starts. The bridge must outlive the
// network thread and the loop's last run of a posted callback.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "shared/core/mutex.h"
#include "shared/runtime/loop.h"
#include "worker/loop/loop_events.h"
#include "worker/net/delivery_sink.h"

namespace mandrill::worker {

struct BridgeStats {
  std::uint64_t posts = 0;      // loop callbacks posted (one per batch of events)
  std::uint64_t delivered = 0;  // messages handed to the loop
  std::uint64_t refused = 0;    // delivery batches refused (full, or after Close)
  std::uint64_t dropped = 0;    // events that arrived after the loop closed (logged)
};

class Bridge final : public DeliverySink {
 public:
  Bridge(runtime::Loop& loop, std::size_t capacity);
  ~Bridge() override;
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Loop thread (or before the loop runs). `target` must outlive the bridge's posted callbacks.
  void Attach(LoopEvents* target) { target_ = target; }
  // Loop thread, once the network thread has exited: events still queued are dropped (the
  // broker releases their leases when the connection closes). `target` may then go away.
  void Detach();
  // Loop thread: dispatches everything queued now (in order, unchunked) and refuses deliveries
  // from then on; other events still flow until Detach.
  void Close() EXCLUDES(mu_);

  // DeliverySink (network thread).
  bool OnDeliveries(std::vector<protocol::DeliverItem>& items) override EXCLUDES(mu_);
  int room_fd() const override { return room_fd_; }
  bool closed() const override EXCLUDES(mu_);
  void OnLeasesLost(std::vector<std::uint64_t> leases) override;
  void OnSessionLost(std::string reason) override;
  void OnExtended(std::vector<protocol::ExtendedItem> items) override;
  void OnWelcome(const protocol::Welcome& welcome) override;
  void OnNetStopped(std::string reason, bool failed) override;

  BridgeStats stats() const EXCLUDES(mu_);
  std::size_t capacity() const { return capacity_; }

  static constexpr std::size_t kDispatchChunk = 256;

 private:
  struct LeasesLost {
    std::vector<std::uint64_t> leases;
  };
  struct SessionLost {
    std::string reason;
  };
  struct NetStopped {
    std::string reason;
    bool failed;
  };
  using Event = std::variant<std::vector<protocol::DeliverItem>, LeasesLost, SessionLost,
                             std::vector<protocol::ExtendedItem>, protocol::Welcome, NetStopped>;

  void Push(Event&& event) EXCLUDES(mu_);
  // Posts the loop callback unless one is pending.
  void ScheduleLocked() REQUIRES(mu_);
  // Loop thread: takes everything queued and dispatches up to kDispatchChunk messages of it (and
  // every other event before the next undispatched delivery).
  void Dispatch() EXCLUDES(mu_);
  // Loop thread: takes what is queued behind the leftovers of the previous pass.
  void TakeQueued() EXCLUDES(mu_);
  // Loop thread: hands taking_ to the loop side, up to `limit` messages; drops the rest of what
  // it dispatched and returns how many messages it handed over.
  std::size_t DispatchTaken(std::size_t limit);
  // Makes room_fd_ readable if the network thread is waiting for room.
  void SignalRoomLocked() REQUIRES(mu_);

  runtime::Loop& loop_;
  const std::size_t capacity_;
  LoopEvents* target_ = nullptr;  // loop thread only
  bool detached_ = false;         // loop thread only
  int room_fd_ = -1;  // eventfd, written when the loop took items after a refusal

  mutable core::Mutex mu_;
  std::vector<Event> queue_ GUARDED_BY(mu_);
  std::size_t in_transit_ GUARDED_BY(mu_) = 0;  // messages not yet handed to the loop side
  bool scheduled_ GUARDED_BY(mu_) = false;  // a Dispatch is posted, has not taken the queue yet
  bool closed_ GUARDED_BY(mu_) = false;     // Close() ran: deliveries are refused
  bool room_wanted_ GUARDED_BY(mu_) = false;     // a batch was refused since the last Dispatch
  bool room_signalled_ GUARDED_BY(mu_) = false;  // room_fd_ is readable
  BridgeStats stats_ GUARDED_BY(mu_);
  std::vector<Event> taking_;      // loop thread only: taken, not yet dispatched
  std::size_t next_item_ = 0;      // loop thread only: first undispatched item of taking_[0]
};

}  // namespace mandrill::worker
