#pragma once
// Every broker tunable with its default, in one place (set by main.cpp from flags).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/protocol/limits.h"

namespace mandrill::broker {

struct BrokerOptions {
  std::string bind = "tcp://127.0.0.1:5555";
  std::string data_dir = "./mandrill-data";
  std::string storage = "journal";  // journal | memory
  std::string fsync = "always";     // always | interval:MS | never

  // Queue defaults (apply to every queue).
  std::chrono::milliseconds lease{30'000};
  std::chrono::milliseconds max_lease{3'600'000};  // EXTEND never pushes past start + this
  std::uint32_t max_deliveries = 5;                // then dead-letter
  std::size_t queue_limit = 1'000'000;             // depth (ready + leased + deferred)
  std::chrono::milliseconds dedup_window{600'000};

  std::chrono::milliseconds heartbeat{1000};
  int liveness = 3;  // heartbeats missed before a worker is declared dead

  // Bounds on what peers can make the broker hold (issue 10). Each refusal is counted and
  // answered with a clear error.
  std::size_t max_queues = 10'000;           // PUBLISH/READY naming a new queue past it: refused
  std::chrono::milliseconds queue_idle{300'000};  // an empty, unused queue is removed after this
  std::size_t max_dead_letters = 100'000;    // per queue; past it the oldest dead letter is purged
  std::size_t max_dedup_ids = 2'000'000;     // settled ids remembered; past it the oldest go early
  std::size_t max_peers = 10'000;            // workers + publishers + admins known at once
  std::size_t max_memory = 0;                // message bytes held; 0: no budget (main sets one)

  // Paging of admin replies.
  std::size_t stats_page = 1000;    // queues per STATS reply (and workers on its first page)
  std::size_t queues_page = 10'000;  // names per QUEUES reply

  // Security (docs/security.md): CURVE with ZAP against the auth file when both are set.
  std::string curve_key_file;  // --curve-key: the broker's secret key
  std::string auth_file;       // --auth-file
  bool insecure = false;       // --insecure: allow a non-loopback bind without them
  std::uint64_t lease_id_seed = 0;  // tests only: reproducible lease ids (0: random)

  // Observability (docs/observability.md): --metrics-bind HOST:PORT serves /metrics, /healthz
  // and /readyz; empty: off.
  std::string metrics_bind;
  std::chrono::milliseconds metrics_interval{1000};  // how often the reactor copies its figures
  std::size_t metrics_max_queues = 10'000;           // queues labelled in /metrics

  protocol::Limits limits;
  std::size_t max_messages_per_pass = 4096;  // bounds one reactor pass's latency
};

}  // namespace mandrill::broker
