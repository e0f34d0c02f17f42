#include "tests/integration/publisher/fake_broker.h"

#include <gtest/gtest.h>

#include <zmq.hpp>

#include "shared/protocol/transport.h"

namespace mandrill::publisher::testing {
namespace {

using protocol::ErrorCode;

protocol::Error PublishError(ErrorCode code, std::string reason, const std::string& queue,
                             std::vector<std::string> ids) {
  protocol::Error e;
  e.code = code;
  e.reason = std::move(reason);
  e.answers = static_cast<std::uint8_t>(protocol::Command::kPublish);
  e.queue = queue;
  e.ids = std::move(ids);
  return e;
}

}  // namespace

FakeBroker::FakeBroker(std::string endpoint, FakeBrokerScript script) : script_(std::move(script)) {
  thread_ = std::thread([this, endpoint] { Serve(endpoint); });
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return bound_ || bind_failed_; });
  if (bind_failed_) ADD_FAILURE() << "fake broker cannot bind " << endpoint << ": " << bind_error_;
}

FakeBroker::~FakeBroker() {
  stop_ = true;
  thread_.join();
}

void FakeBroker::Serve(std::string endpoint) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::router);
  protocol::ConfigureRouter(socket, protocol::RouterOptions{});
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    std::lock_guard lock(mu_);
    bind_failed_ = true;
    bind_error_ = e.what();
    changed_.notify_all();
    return;
  }
  {
    std::lock_guard lock(mu_);
    bound_ = true;
  }
  changed_.notify_all();

  int queue_full_left = script_.queue_full_frames;
  std::map<std::string, int> first_seen;  // for drop_first_confirm (serve thread only)
  protocol::Received received;
  const protocol::Limits limits;
  // Confirms gathered in one pass, per peer: sent together after the pass.
  std::map<std::string, protocol::Confirm> confirms;

  while (!stop_) {
    zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 20) <= 0) continue;
    while (protocol::Receive(socket, received)) {
      const std::string peer(protocol::View(received.frames[0]));
      auto decoded = protocol::DecodeReceived(received, 1, limits);
      if (!decoded.ok()) {
        std::lock_guard lock(mu_);
        ++undecodable_;
        continue;
      }
      auto& m = *decoded;
      if (auto* publish = std::get_if<protocol::Publish>(&m)) {
        {
          std::lock_guard lock(mu_);
          ++frames_;
          items_ += publish->items.size();
          if (script_.record_ids) {
            for (const auto& it : publish->items) {
              ++times_[it.id];
              payloads_[it.id] = it.payload;
            }
          }
        }
        if (script_.silent) continue;
        const std::string& queue = publish->items.front().queue;
        if (queue_full_left > 0) {
          --queue_full_left;
          std::vector<std::string> ids;
          for (const auto& it : publish->items) ids.push_back(it.id);
          protocol::Send(socket,
                         PublishError(ErrorCode::kQueueFull, "queue '" + queue + "' is full", queue,
                                      std::move(ids)),
                         peer);
          continue;
        }
        std::vector<std::string> refused;
        auto& confirm = confirms[peer];
        confirm.queue = queue;
        for (auto& it : publish->items) {
          if (script_.refuse.count(it.id) != 0) {
            refused.push_back(it.id);
          } else if (script_.drop_first_confirm.count(it.id) != 0 && first_seen[it.id]++ == 0) {
            // Taken, but its confirm is "lost".
          } else {
            confirm.ids.push_back(std::move(it.id));
          }
        }
        if (!refused.empty()) {
          protocol::Send(socket,
                         PublishError(ErrorCode::kInvalidArgument, "refused by the test script",
                                      queue, std::move(refused)),
                         peer);
        }
        continue;
      }
      // Admin requests.
      {
        std::lock_guard lock(mu_);
        admin_.push_back(m);
      }
      changed_.notify_all();
      if (script_.silent) continue;
      const std::uint64_t request_id = std::visit(
          [](const auto& body) -> std::uint64_t {
            if constexpr (requires { body.request_id; }) {
              return body.request_id;
            } else {
              return 0;
            }
          },
          m);
      if (script_.admin_error) {
        protocol::Error e = *script_.admin_error;
        e.request_id = request_id;
        e.answers = static_cast<std::uint8_t>(protocol::CommandOf(m));
        protocol::Send(socket, e, peer);
      } else if (std::holds_alternative<protocol::StatsRequest>(m)) {
        auto reply = script_.stats;
        reply.request_id = request_id;
        protocol::Send(socket, reply, peer);
      } else if (std::holds_alternative<protocol::QueuesRequest>(m)) {
        auto reply = script_.queues;
        reply.request_id = request_id;
        protocol::Send(socket, reply, peer);
      } else if (std::holds_alternative<protocol::DlqListRequest>(m)) {
        auto reply = script_.dlq_list;
        reply.request_id = request_id;
        protocol::Send(socket, reply, peer);
      } else if (std::holds_alternative<protocol::DlqRequeueRequest>(m) ||
                 std::holds_alternative<protocol::DlqPurgeRequest>(m)) {
        auto reply = script_.admin_ok;
        reply.request_id = request_id;
        protocol::Send(socket, reply, peer);
      }
    }
    for (auto& [peer, confirm] : confirms) {
      if (confirm.ids.empty()) continue;
      protocol::Send(socket, confirm, peer);
      if (script_.confirm_twice) protocol::Send(socket, confirm, peer);
    }
    confirms.clear();
    changed_.notify_all();
  }
}

bool FakeBroker::WaitForItems(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return items_ >= n; });
}

bool FakeBroker::WaitForAdminRequests(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return admin_.size() >= n; });
}

std::size_t FakeBroker::items_received() const {
  std::lock_guard lock(mu_);
  return items_;
}

std::size_t FakeBroker::frames_received() const {
  std::lock_guard lock(mu_);
  return frames_;
}

std::map<std::string, int> FakeBroker::times_received() const {
  std::lock_guard lock(mu_);
  return times_;
}

std::map<std::string, std::string> FakeBroker::payloads() const {
  std::lock_guard lock(mu_);
  return payloads_;
}

std::vector<protocol::Message> FakeBroker::admin_requests() const {
  std::lock_guard lock(mu_);
  return admin_;
}

std::size_t FakeBroker::undecodable() const {
  std::lock_guard lock(mu_);
  return undecodable_;
}

}  // namespace mandrill::publisher::testing
