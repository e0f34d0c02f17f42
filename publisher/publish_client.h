#pragma once
// A blocking publish client for programs of your own (the C++ SDK, docs/clients.md): hand it
// messages, get back once each is confirmed (durable under the broker's storage policy) or
// refused for good. One socket, owned by the calling thread; not thread-safe.
//
// What it does for you, as mandrill-publish does:
//   - batches: up to `max_batch` items per PUBLISH frame;
//   - resends a message with the SAME id when no answer came within `resend_after` (a lost
//     frame, a broker restart): the broker deduplicates, so a resend never makes a second copy;
//   - retries, with backoff, the refusals that mean "later" (QUEUE_FULL, BROKER_FULL,
//     STORAGE_FAILED, SHUTTING_DOWN) until the call's timeout;
//   - reports the refusals that mean "never like this" (INVALID_ARGUMENT, TOO_LARGE,
//     PERMISSION_DENIED, LIMIT_REACHED, ...) per message, with the broker's reason; what the
//     protocol's limits refuse anyway (bad queue name or id, payload over 1 MiB) is refused
//     before sending;
//   - when the broker refuses a whole frame (its decoder names no ids: a payload over a lower
//     --max-payload-bytes), sends each message that was waiting alone from then on: the others
//     are confirmed, and the bad one times out carrying the broker's reason.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "shared/core/result.h"
#include "shared/protocol/error_code.h"
#include "shared/protocol/messages.h"

namespace mandrill::client {

struct PublishClientOptions {
  std::string broker = "tcp://127.0.0.1:5555";
  // CURVE (docs/security.md): this client's secret key file and the broker's public key file,
  // both or neither.
  std::string key_file;
  std::string broker_key_file;
  std::chrono::milliseconds resend_after{2000};
  std::size_t max_batch = 1000;
};

struct OutgoingMessage {
  std::string queue;
  std::string id;  // empty: the client makes a unique one (reported back in the result)
  std::string payload;
  protocol::Headers headers;
};

struct PublishOutcome {
  std::string queue;
  std::string id;
  // kNone: confirmed. Otherwise the broker's final refusal, or (retryable codes) the last one
  // seen when the timeout ended the call, or kNone with timed_out for a message never answered.
  protocol::ErrorCode code = protocol::ErrorCode::kNone;
  std::string reason;
  bool timed_out = false;
  bool confirmed() const { return code == protocol::ErrorCode::kNone && !timed_out; }
};

class PublishClient {
 public:
  // Reads the keys and connects (ZeroMQ connects lazily: an absent broker is not an error
  // here; the first Publish waits for it within its timeout).
  static core::Result<std::unique_ptr<PublishClient>> Connect(PublishClientOptions options);
  ~PublishClient();
  PublishClient(const PublishClient&) = delete;
  PublishClient& operator=(const PublishClient&) = delete;

  // Publishes every message and returns one outcome each, in order, once each is settled or
  // `timeout` has passed. An Error only for a call that could not run (the socket failed).
  core::Result<std::vector<PublishOutcome>> Publish(std::vector<OutgoingMessage> messages,
                                                    std::chrono::milliseconds timeout);
  // One message: Ok once confirmed; else an Error whose code is the protocol::ErrorCode (or
  // core::Errc::kUnavailable after the timeout) and whose message is the broker's reason.
  core::Status PublishOne(OutgoingMessage message, std::chrono::milliseconds timeout);

 private:
  class Impl;
  explicit PublishClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mandrill::client
