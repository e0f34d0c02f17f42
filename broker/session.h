#pragma once
// One worker's session with the broker, from its READY to its going away.
//
//   READY ──▶ kWelcomed ──(WELCOME sent)──▶ kWorking ◀──(CREDIT n>0)──▶ kDraining (CREDIT 0)
//                 any state ──(DISCONNECT, connection closed, heartbeats missed, unreachable)──▶ gone
//
// A session receives deliveries only while welcomed or working and holding fewer leases than
// its credit; in kDraining it keeps its leases and settles them, and is sent nothing new. A
// worker process that reconnects (same Ready::instance, new routing id) keeps its session.
// Reactor thread only.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/core/intrusive_list.h"
#include "broker/lease_table.h"
#include "broker/message.h"
#include "broker/queue.h"
#include "shared/core/clock.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

enum class SessionState : std::uint8_t { kWelcomed, kWorking, kDraining };
const char* SessionStateName(SessionState s);

struct HeardHook : core::ListHook {};  // SessionTable's list, least recently heard first
struct SentHook : core::ListHook {};   // SessionTable's list, least recently sent to first

struct Session : HeardHook, SentHook {
  std::uint32_t number = 0;  // unique in this broker run (Message::avoid_session)
  std::string routing_id;    // the connection it was last READY on (assigned by the ROUTER)
  std::string instance;      // the worker process's token (Ready::instance); empty: none
  std::string name;
  std::string owner;  // the key name that announced it (authentication on); empty otherwise
  SessionState state = SessionState::kWelcomed;
  std::uint32_t credit = 0;
  // Leases held when the credit was last set: lowering credit below them is allowed, but no
  // delivery is made until they drop below it (CheckInvariants).
  std::uint32_t leases_at_credit = 0;
  LeaseList leases;  // its leases, oldest delivery first
  std::vector<std::unique_ptr<Subscription>> subscriptions;
  bool hungry = false;  // its subscriptions are on their queues' hungry lists

  int fd = -1;               // TCP connection it last spoke on (ZMQ_SRCFD)
  std::int64_t fd_pass = 0;  // the broker pass whose frame set `fd`
  core::SteadyTime last_heard{};
  core::SteadyTime last_sent{};
  std::uint64_t delivered = 0, acked = 0, nacked = 0;
  // Its handlers' run times from its last HEARTBEAT with task reports (STATS shows them).
  std::vector<protocol::TaskReport> reported;
  core::SteadyTime reported_at{};

  std::uint32_t free_credit() const {
    return leases.size() >= credit ? 0 : credit - static_cast<std::uint32_t>(leases.size());
  }
  // Whether dispatch may give it a message now.
  bool wants_work() const { return state != SessionState::kDraining && free_credit() > 0; }
};

}  // namespace mandrill::broker
