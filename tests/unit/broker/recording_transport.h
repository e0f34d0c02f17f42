#pragma once
// A Transport that records what the broker sends, decoded back from the wire bytes, and can be
// told to refuse sends to a peer (kWouldBlock, kUnreachable) to exercise the broker's recovery.
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "shared/protocol/codec.h"

namespace mandrill::broker::testkit {

struct Sent {
  std::string peer;
  protocol::Message message;
  protocol::SendResult result = protocol::SendResult::kSent;
};

class RecordingTransport final : public Transport {
 public:
  protocol::SendResult Send(const std::string& peer, const protocol::Message& m) override {
    msgpack::sbuffer body;
    protocol::EncodeBody(m, body);
    return Record(peer, protocol::CommandOf(m), body);
  }
  protocol::SendResult SendBody(const std::string& peer, protocol::Command command,
                                msgpack::sbuffer&& body) override {
    return Record(peer, command, body);
  }

  // Frames are decoded with these limits (the peers'); a frame they refuse is recorded in
  // undecodable() instead of all().
  void set_limits(const protocol::Limits& limits) { limits_ = limits; }
  const std::vector<std::string>& undecodable() const { return undecodable_; }

  // The next sends of `command` to `peer` return `result` (once per entry, in order).
  void FailNext(const std::string& peer, protocol::Command command, protocol::SendResult result) {
    scripted_[{peer, command}].push_back(result);
  }
  // Every later send to `peer` returns `result` (kSent clears it).
  void SetPeerResult(const std::string& peer, protocol::SendResult result) {
    if (result == protocol::SendResult::kSent) {
      sticky_.erase(peer);
    } else {
      sticky_[peer] = result;
    }
  }

  // Every attempted send, in order, with its result.
  const std::vector<Sent>& all() const { return sent_; }
  void Clear() { sent_.clear(); }

  // The messages of type T that were really sent (kSent) to `peer` ("" for any peer).
  template <typename T>
  std::vector<T> To(const std::string& peer = "") const {
    std::vector<T> out;
    for (const auto& s : sent_) {
      if (s.result != protocol::SendResult::kSent) continue;
      if (!peer.empty() && s.peer != peer) continue;
      if (const T* t = std::get_if<T>(&s.message)) out.push_back(*t);
    }
    return out;
  }
  // Like To<T>, then forgets everything recorded.
  template <typename T>
  std::vector<T> Take(const std::string& peer = "") {
    auto out = To<T>(peer);
    Clear();
    return out;
  }
  // Every DELIVER item really sent to `peer`, in order.
  std::vector<protocol::DeliverItem> Deliveries(const std::string& peer = "") const {
    std::vector<protocol::DeliverItem> out;
    for (const auto& d : To<protocol::Deliver>(peer)) {
      out.insert(out.end(), d.items.begin(), d.items.end());
    }
    return out;
  }
  std::size_t CountSent(const std::string& peer = "") const {
    std::size_t n = 0;
    for (const auto& s : sent_) {
      if (s.result == protocol::SendResult::kSent && (peer.empty() || s.peer == peer)) ++n;
    }
    return n;
  }

 private:
  protocol::SendResult Record(const std::string& peer, protocol::Command command,
                              const msgpack::sbuffer& body) {
    const char byte = static_cast<char>(command);
    auto decoded = protocol::Decode(protocol::VersionFrame(), std::string_view(&byte, 1),
                                    std::string_view(body.data(), body.size()), limits_);
    if (!decoded.ok()) {
      undecodable_.push_back(std::string(protocol::CommandName(command)) + " to " + peer + ": " +
                             decoded.error().message);
      return protocol::SendResult::kSent;
    }
    protocol::SendResult result = protocol::SendResult::kSent;
    if (auto it = scripted_.find({peer, command}); it != scripted_.end() && !it->second.empty()) {
      result = it->second.front();
      it->second.pop_front();
    } else if (auto st = sticky_.find(peer); st != sticky_.end()) {
      result = st->second;
    }
    sent_.push_back({peer, std::move(decoded).value(), result});
    return result;
  }

  protocol::Limits limits_;
  std::vector<Sent> sent_;
  std::vector<std::string> undecodable_;
  std::map<std::pair<std::string, protocol::Command>, std::deque<protocol::SendResult>> scripted_;
  std::map<std::string, protocol::SendResult> sticky_;
};

}  // namespace mandrill::broker::testkit
