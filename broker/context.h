#pragma once
// What the broker's handlers share: options, clock, storage, the data (Store), the outbox, the
// durability tracker and the counters. Each handler (publishing.h, worker_protocol.h,
// leasing.h, dispatcher.h, admin.h) holds a reference to one Context owned by the Broker.
// Reactor thread only.
#include <cstdint>

#include "broker/durability.h"
#include "broker/options.h"
#include "broker/outbox.h"
#include "broker/storage.h"
#include "broker/store.h"
#include "shared/core/clock.h"
#include "shared/core/log_limiter.h"

namespace mandrill::broker {

struct Principal;

struct BrokerCounters {
  std::int64_t frames_in = 0;
  std::int64_t bad_frames = 0;
  std::int64_t internal_errors = 0;       // a handler threw: answered INTERNAL
  std::int64_t lease_lost = 0;
  std::int64_t stale_epoch_leases = 0;    // of those, leases of another broker run (epoch)
  std::int64_t not_ready = 0;
  std::int64_t storage_failures = 0;      // publishes not accepted because storage failed
  std::int64_t settle_rewrites = 0;       // ack/purge records written again after a failure
  std::int64_t workers_disconnected = 0;  // connection closed (socket monitor)
  std::int64_t closes_ambiguous = 0;      // closed fd reused at once: worker kept
  std::int64_t workers_timed_out = 0;     // heartbeats stopped
  std::int64_t workers_left = 0;          // sent DISCONNECT
  std::int64_t workers_reconnected = 0;   // READY from a known instance on a new connection
  std::int64_t leases_released = 0;       // returned because their worker went away
  std::int64_t refused_full = 0;          // publishes refused: queue depth limit
  std::int64_t refused_memory = 0;        // publishes refused: --max-memory
  std::int64_t refused_queues = 0;        // requests refused: --max-queues
  std::int64_t refused_peers = 0;         // frames refused: --max-peers
  std::int64_t refused_too_large = 0;     // publish items over --max-payload-bytes
  std::int64_t dead_letters_dropped = 0;  // oldest dead letters purged: --max-dead-letters
  std::int64_t redelivered_elsewhere = 0;  // a returned message went to another worker
  std::int64_t permission_denied = 0;      // requests (or publish items) refused by the key's rights
  std::int64_t auth_refused = 0;           // CURVE handshakes refused by ZAP (copied by the reactor)
  std::int64_t auth_admitted = 0;          // CURVE handshakes admitted
  std::int64_t passes = 0;
};

struct Context {
  Context(const BrokerOptions& o, const core::Clock& c, Storage& s, Store& st, Outbox& out,
          Durability& d, BrokerCounters& n)
      : options(o), clock(c), storage(s), store(st), outbox(out), durability(d), counters(n) {}

  const BrokerOptions& options;
  const core::Clock& clock;
  Storage& storage;
  Store& store;
  Outbox& outbox;
  Durability& durability;
  BrokerCounters& counters;
  bool shutting_down = false;
  // This run's fencing epoch (Storage::Open); 0 until the broker is opened.
  std::uint64_t epoch = 0;
  // The principal of the frame being handled (authentication on); nullptr otherwise.
  const Principal* who = nullptr;

  // Repeated warnings, rate-limited (issue 10: a full disk must not fill the log).
  core::LogLimiter storage_log{"storage failures", &clock};
  core::LogLimiter refusal_log{"refused publishes", &clock};
  core::LogLimiter bad_frame_log{"bad frames", &clock};
  core::LogLimiter peer_log{"peer limit", &clock};
  core::LogLimiter stale_epoch_log{"acks of another epoch's leases", &clock};
};

}  // namespace mandrill::broker
