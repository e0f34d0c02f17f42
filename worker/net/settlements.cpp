#include "worker/net/settlements.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mandrill::worker {

Settlements::Settlements() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Settlements::~Settlements() { close(fd_); }

void Settlements::WakeLocked() {
  if (woken_) return;
  woken_ = true;
  const std::uint64_t one = 1;
  // A full counter (impossible at 2^64-1) would only mean the fd is already readable.
  [[maybe_unused]] auto n = write(fd_, &one, sizeof one);
}

void Settlements::Ack(std::uint64_t lease_id) {
  core::MutexLock lock(mu_);
  pending_.acks.push_back(lease_id);
  WakeLocked();
}

void Settlements::Nack(std::uint64_t lease_id, std::uint32_t delay_ms, std::string reason) {
  core::MutexLock lock(mu_);
  pending_.nacks.push_back({lease_id, delay_ms, std::move(reason)});
  WakeLocked();
}

void Settlements::Extend(std::uint64_t lease_id, std::uint32_t duration_ms) {
  core::MutexLock lock(mu_);
  pending_.extends[duration_ms].push_back(lease_id);
  WakeLocked();
}

void Settlements::SetCredit(std::uint32_t credit) {
  core::MutexLock lock(mu_);
  pending_.credit = credit;
  WakeLocked();
}

void Settlements::RequestClose() {
  core::MutexLock lock(mu_);
  pending_.close = true;
  WakeLocked();
}

void SettlementBatch::Merge(SettlementBatch&& from) {
  if (acks.empty()) {
    acks = std::move(from.acks);
  } else {
    acks.insert(acks.end(), from.acks.begin(), from.acks.end());
  }
  for (auto& n : from.nacks) nacks.push_back(std::move(n));
  for (auto& [d, ids] : from.extends) {
    auto& v = extends[d];
    v.insert(v.end(), ids.begin(), ids.end());
  }
  if (from.credit) credit = from.credit;
  close = close || from.close;
}

std::size_t SettlementBatch::DropLeaseCommands() {
  std::size_t n = acks.size() + nacks.size();
  for (const auto& [d, ids] : extends) n += ids.size();
  acks.clear();
  nacks.clear();
  extends.clear();
  return n;
}

void Settlements::Add(Batch&& batch) {
  if (batch.empty()) return;
  core::MutexLock lock(mu_);
  pending_.Merge(std::move(batch));
  WakeLocked();
}

Settlements::Batch Settlements::Take() {
  Batch out;
  {
    core::MutexLock lock(mu_);
    std::swap(out, pending_);
    woken_ = false;
    std::uint64_t value;
    [[maybe_unused]] auto n = read(fd_, &value, sizeof value);
  }
  return out;
}

}  // namespace mandrill::worker
