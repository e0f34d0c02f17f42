#pragma once
// A scriptable stand-in for mandrill-broker, for testing mandrill-publish and mandrill-ctl
// before the real broker exists: a ZeroMQ ROUTER on its own thread speaking the wire protocol
// through shared/protocol/transport.h. Like the real broker it drains every frame waiting,
// then answers with one CONFIRM per publisher per pass.
//
// The script is fixed at construction. Observations are thread-safe; Wait* block on a
// condition variable (no polling) up to a timeout.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shared/protocol/messages.h"

namespace mandrill::publisher::testing {

struct FakeBrokerScript {
  bool silent = false;                       // receive everything, answer nothing
  std::set<std::string> drop_first_confirm;  // take these ids but swallow their first confirm
  int queue_full_frames = 0;                 // refuse the first N PUBLISH frames: queue full
  std::set<std::string> refuse;              // refuse these ids permanently (invalid argument)
  bool confirm_twice = false;                // send every confirm twice
  bool record_ids = true;                    // keep ids and payloads (off for volume runs)

  // Admin replies (request ids are filled in from the request).
  protocol::StatsReply stats;
  protocol::QueuesReply queues;
  protocol::DlqListReply dlq_list;
  protocol::AdminOk admin_ok;
  std::optional<protocol::Error> admin_error;  // answer every admin request with this
};

class FakeBroker {
 public:
  // Binds `endpoint` (e.g. tcp://127.0.0.1:PORT) and starts serving. Fails the current test
  // (ADD_FAILURE) if it cannot bind.
  FakeBroker(std::string endpoint, FakeBrokerScript script);
  ~FakeBroker();  // stops the thread and closes the socket
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  // Blocks until at least `n` publish items (counting repeats) were received, or timeout.
  bool WaitForItems(std::size_t n, std::chrono::milliseconds timeout);
  // Blocks until at least `n` admin requests were received, or timeout.
  bool WaitForAdminRequests(std::size_t n, std::chrono::milliseconds timeout);

  std::size_t items_received() const;
  std::size_t frames_received() const;
  // How often each id arrived (when record_ids).
  std::map<std::string, int> times_received() const;
  // Payload of each id (last received), when record_ids.
  std::map<std::string, std::string> payloads() const;
  std::vector<protocol::Message> admin_requests() const;
  std::size_t undecodable() const;

 private:
  void Serve(std::string endpoint);

  const FakeBrokerScript script_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool bound_ = false;
  bool bind_failed_ = false;
  std::string bind_error_;
  std::size_t items_ = 0;
  std::size_t frames_ = 0;
  std::size_t undecodable_ = 0;
  std::map<std::string, int> times_;
  std::map<std::string, std::string> payloads_;
  std::vector<protocol::Message> admin_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mandrill::publisher::testing
