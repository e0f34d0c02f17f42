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

  protocol::Limits limits;
  std::size_t max_messages_per_pass = 4096;  // bounds one reactor pass's latency
};

}  // namespace mandrill::broker
