#include "broker/durability.h"

#include <algorithm>

namespace mandrill::broker {

void Durability::AddPublish(Ticket t, Message* m, std::string waiter,
                            core::SteadyTime received) {
  publishes_.push_back({t, m, std::move(waiter), received});
}

void Durability::AddWaiter(Message* m, std::string waiter) {
  extra_waiters_[m].push_back(std::move(waiter));
}

void Durability::AddAdmin(Ticket first, Ticket last, AdminOp op) {
  admin_.push_back({first, last, std::move(op)});
}

void Durability::AddSettle(Ticket t, SettleRecord r) { settles_.push_back({t, r}); }

Durability::Fate Durability::FateOf(Ticket first, Ticket last, const std::string** error) const {
  for (const auto& f : failures_) {
    if (first <= f.last && f.first <= last) {
      *error = &f.error;
      return Fate::kFailed;
    }
  }
  return last <= durable_upto_ ? Fate::kDurable : Fate::kUndecided;
}

std::vector<std::string> Durability::TakeWaiters(Message* m, std::string first) {
  std::vector<std::string> out;
  out.push_back(std::move(first));
  if (auto it = extra_waiters_.find(m); it != extra_waiters_.end()) {
    for (auto& w : it->second) out.push_back(std::move(w));
    extra_waiters_.erase(it);
  }
  return out;
}

void Durability::OnProgress(const StorageProgress& progress, DurabilityEvents& events,
                            core::SteadyTime now) {
  for (const auto& f : progress.failures) {
    failed_records_ += f.last - f.first + 1;
    failures_.push_back(f);
  }
  durable_upto_ = std::max(durable_upto_, progress.durable_upto);
  // Each list is in ticket order: settle its front while its fate is known.
  const std::string* error = nullptr;
  while (!publishes_.empty()) {
    auto& p = publishes_.front();
    const Fate fate = FateOf(p.ticket, p.ticket, &error);
    if (fate == Fate::kUndecided) break;
    Message* m = p.message;
    auto waiters = TakeWaiters(m, std::move(p.waiter));
    const std::string why = fate == Fate::kFailed ? *error : std::string();
    const core::SteadyTime received = p.received;
    publishes_.pop_front();
    if (fate == Fate::kDurable) {
      confirm_seconds_.Observe(core::ToSeconds(now - received));
      events.PublishDurable(m, std::move(waiters));
    } else {
      events.PublishFailed(m, std::move(waiters), why);
    }
  }
  while (!admin_.empty()) {
    auto& a = admin_.front();
    const Fate fate = FateOf(a.first, a.last, &error);
    if (fate == Fate::kUndecided) break;
    AdminOp op = std::move(a.op);
    const std::string why = fate == Fate::kFailed ? *error : std::string();
    admin_.pop_front();
    if (fate == Fate::kDurable) {
      events.AdminDurable(std::move(op));
    } else {
      events.AdminFailed(std::move(op), why);
    }
  }
  // Failed settles are collected first: SettleFailed appends again (AddSettle).
  std::vector<std::pair<SettleRecord, std::string>> failed_settles;
  while (!settles_.empty()) {
    auto& s = settles_.front();
    const Fate fate = FateOf(s.ticket, s.ticket, &error);
    if (fate == Fate::kUndecided) break;
    if (fate == Fate::kFailed) failed_settles.emplace_back(s.record, *error);
    settles_.pop_front();
  }
  // A failure can be forgotten once every list has passed it and durability is past it.
  Ticket next = durable_upto_ + 1;
  if (!publishes_.empty()) next = std::min(next, publishes_.front().ticket);
  if (!admin_.empty()) next = std::min(next, admin_.front().first);
  if (!settles_.empty()) next = std::min(next, settles_.front().ticket);
  std::erase_if(failures_, [&](const auto& f) { return f.last < next; });
  for (auto& [record, why] : failed_settles) events.SettleFailed(record, why);
}

}  // namespace mandrill::broker
