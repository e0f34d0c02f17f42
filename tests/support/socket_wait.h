#pragma once
// Blocking helpers for the benchmarks' raw protocol sockets (tests/bench): they run outside
// gtest, so they wait instead of failing a test.
#include <chrono>
#include <thread>

#include <zmq.hpp>

#include "shared/protocol/transport.h"

namespace mandrill::testing {

inline bool WaitReadable(zmq::socket_t& s, long ms) {
  zmq_pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  return zmq_poll(&item, 1, ms) > 0;
}

// IMMEDIATE sockets refuse to queue until connected, and a full HWM refuses too: retry.
inline void SendOrRetry(zmq::socket_t& s, const protocol::Message& m) {
  while (protocol::Send(s, m) != protocol::SendResult::kSent) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace mandrill::testing
