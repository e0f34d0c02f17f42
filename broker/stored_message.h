#pragma once
// A message the broker holds, with its lease while one is active. Owned by its Queue; raw
// pointers to it (ready deque, lease heap, dedup index, pending-durability list) are valid until
// the queue erases it, which only happens when none of those structures refers to it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "broker/intrusive_list.h"
#include "shared/core/clock.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Queue;
struct Worker;

enum class MessageState : std::uint8_t {
  kPending,   // appended to storage, not yet durable: not deliverable, not confirmed
  kReady,     // in its queue's ready deque
  kLeased,    // delivered; lease_* fields valid
  kDeferred,  // nacked with a delay; in the queue's deferred heap
  kDead,      // in the queue's dead-letter list
  kSettled,   // acked or purged: about to be erased
};

struct StoredMessage {
  std::uint64_t seq = 0;
  Queue* queue = nullptr;
  std::string id;
  std::string payload;
  protocol::Headers headers;
  std::int64_t published_unix_ms = 0;
  std::uint32_t attempts = 0;  // deliveries so far
  MessageState state = MessageState::kPending;
  std::string last_error;
  std::int64_t dead_at_unix_ms = 0;
  core::SteadyTime not_before{};  // kDeferred

  // Lease (kLeased only).
  std::uint64_t lease_id = 0;
  Worker* worker = nullptr;
  core::SteadyTime lease_started{};
  core::SteadyTime lease_deadline{};
  std::size_t heap_index = 0;  // position in LeaseTable's heap

  // Publishers (routing ids) waiting for this message's confirm while kPending.
  std::vector<std::string> confirm_waiters;

  Link<StoredMessage> in_queue;   // Queue's list of every message it owns
  Link<StoredMessage> in_worker;  // Worker's list of its leases (kLeased only)
};

using WorkerLeases = IntrusiveList<StoredMessage, &StoredMessage::in_worker>;

}  // namespace mandrill::broker
