#include "broker/dedup_index.h"

#include <algorithm>

#include "broker/stored_message.h"

namespace mandrill::broker {
namespace {
// Debian's Abseil has its own string_view type.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

DedupIndex::Hit DedupIndex::Find(std::string_view id) const {
  auto it = entries_.find(Key(id));
  if (it == entries_.end()) return {};
  return Hit{true, it->second.live};
}

void DedupIndex::AddLive(StoredMessage* m) { entries_[m->id] = Entry{m, {}}; }

void DedupIndex::Settle(const StoredMessage* m, core::SteadyTime now) {
  auto it = entries_.find(Key(m->id));
  if (it == entries_.end()) return;
  it->second.live = nullptr;
  it->second.expires = now + window_;
  expiry_.emplace_back(it->second.expires, m->id);
}

void DedupIndex::Forget(const StoredMessage* m) {
  if (auto it = entries_.find(Key(m->id)); it != entries_.end()) entries_.erase(it);
}

void DedupIndex::AddSettled(std::string_view id, core::SteadyTime until) {
  auto [it, inserted] = entries_.try_emplace(std::string(id), Entry{nullptr, until});
  if (!inserted) {
    if (it->second.live != nullptr) return;  // a live message with this id wins
    it->second.expires = std::max(it->second.expires, until);
    until = it->second.expires;
  }
  expiry_.emplace_back(until, std::string(id));
}

void DedupIndex::Prune(core::SteadyTime now) {
  // Entries are appended in settle order, so expiry times are nearly sorted; an entry re-used
  // since (republished, or settled again) carries a different expiry and is kept.
  while (!expiry_.empty() && expiry_.front().first <= now) {
    auto it = entries_.find(Key(expiry_.front().second));
    if (it != entries_.end() && it->second.live == nullptr &&
        it->second.expires == expiry_.front().first) {
      entries_.erase(it);
    }
    expiry_.pop_front();
  }
}

}  // namespace mandrill::broker
