#include "broker/outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mandrill::broker {

void Outbox::Error(const std::string& peer, protocol::ErrorCode code, std::string reason,
                   std::uint8_t answers, std::uint64_t request_id) {
  protocol::Error e;
  e.code = code;
  e.reason = std::move(reason);
  e.answers = answers;
  e.request_id = request_id;
  Reply(peer, std::move(e));
}

void Outbox::Confirm(const std::string& peer, const std::string& queue, std::string_view id) {
  // A pass's confirms come in runs from one publisher and queue: the last batch first.
  if (!confirms_.empty() && confirms_.back().peer == peer && confirms_.back().queue == queue) {
    confirms_.back().ids.emplace_back(id);
    return;
  }
  if (auto it = confirm_index_.find(std::pair<std::string_view, std::string_view>(peer, queue));
      it != confirm_index_.end()) {
    it->second->ids.emplace_back(id);
    return;
  }
  ConfirmBatch& batch = confirms_.emplace_back(ConfirmBatch{peer, queue, {std::string(id)}});
  confirm_index_.emplace(std::pair<std::string_view, std::string_view>(batch.peer, batch.queue),
                         &batch);
}

void Outbox::Deliver(Session* s, const Message& m, std::uint64_t lease_id, std::uint32_t lease_ms,
                     std::int64_t deadline_unix_ms) {
  auto& out = deliveries_[s];
  const std::string& queue = m.queue->name();
  // A new frame when this one is full: the worker refuses frames over its limits.
  constexpr std::size_t kItemOverhead = 64;
  const std::size_t item_bytes = kItemOverhead + m.id_size + queue.size() + m.payload_size +
                                 m.encoded_headers().size();
  if (out.empty() || out.back().writer.count() >= limits_.max_batch ||
      out.back().writer.size() + item_bytes > limits_.max_body_bytes) {
    out.emplace_back();
  }
  out.back().writer.AddEncoded(lease_id, m.id(), queue, m.payload(), m.attempts, lease_ms,
                               deadline_unix_ms, m.encoded_headers());
  out.back().leases.push_back(lease_id);
}

void Outbox::Flush(FlushEvents& events) {
  auto replies = std::move(replies_);
  replies_.clear();
  for (auto& [peer, m] : replies) {
    const auto result = transport_.Send(peer, m);
    if (result == protocol::SendResult::kSent) {
      events.Sent(peer);
      continue;
    }
    ++send_failures_;
    if (result == protocol::SendResult::kUnreachable) {
      events.Unreachable(peer);
    } else {
      spdlog::debug("{} to {} not sent", protocol::CommandName(protocol::CommandOf(m)),
                    protocol::PrintableId(peer));
    }
  }
  auto deliveries = std::move(deliveries_);
  deliveries_.clear();
  for (auto& [s, frames] : deliveries) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const auto result = transport_.SendBody(s->routing_id, protocol::Command::kDeliver,
                                              frames[i].writer.Finish());
      if (result == protocol::SendResult::kSent) {
        events.Sent(s->routing_id);
        continue;
      }
      ++send_failures_;
      // Frames i.. never left.
      std::vector<std::uint64_t> leases;
      for (std::size_t j = i; j < frames.size(); ++j) {
        leases.insert(leases.end(), frames[j].leases.begin(), frames[j].leases.end());
      }
      events.NotDelivered(s, std::move(leases), result == protocol::SendResult::kUnreachable);
      break;
    }
  }
  confirm_index_.clear();
  auto confirms = std::move(confirms_);
  confirms_.clear();
  for (auto& batch : confirms) {
    const std::size_t limit = limits_.max_batch;
    for (std::size_t i = 0; i < batch.ids.size(); i += limit) {
      protocol::Confirm c;
      c.queue = batch.queue;
      const auto end = std::min(batch.ids.size(), i + limit);
      c.ids.assign(std::make_move_iterator(batch.ids.begin() + static_cast<std::ptrdiff_t>(i)),
                   std::make_move_iterator(batch.ids.begin() + static_cast<std::ptrdiff_t>(end)));
      if (transport_.Send(batch.peer, c) != protocol::SendResult::kSent) {
        // The publisher retries unconfirmed ids; the retry is deduplicated and confirmed then.
        ++send_failures_;
        spdlog::warn("CONFIRM of {} ids to {} could not be sent", c.ids.size(),
                     protocol::PrintableId(batch.peer));
      }
    }
  }
}

}  // namespace mandrill::broker
