#include "broker/dedup_index.h"

#include "broker/queue.h"

namespace mandrill::broker {

std::string DedupIndex::Key(std::string_view queue, std::string_view id) {
  std::string key;
  key.reserve(queue.size() + 1 + id.size());
  key.append(queue).push_back('\n');  // '\n' cannot occur in a queue name
  key.append(id);
  return key;
}

DedupIndex::Hit DedupIndex::Find(std::string_view queue, std::string_view id) const {
  auto it = entries_.find(Key(queue, id));
  if (it == entries_.end()) return {};
  return Hit{true, it->second.live};
}

void DedupIndex::AddLive(StoredMessage* m) {
  entries_[Key(m->queue->name(), m->id)] = Entry{m, {}};
}

void DedupIndex::Settle(const StoredMessage* m, core::SteadyTime now) {
  auto key = Key(m->queue->name(), m->id);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.live = nullptr;
  it->second.expires = now + window_;
  expiry_.emplace_back(it->second.expires, std::move(key));
}

void DedupIndex::Forget(const StoredMessage* m) { entries_.erase(Key(m->queue->name(), m->id)); }

void DedupIndex::AddSettled(std::string_view queue, std::string_view id, core::SteadyTime until) {
  auto key = Key(queue, id);
  entries_[key] = Entry{nullptr, until};
  expiry_.emplace_back(until, std::move(key));
}

void DedupIndex::Prune(core::SteadyTime now) {
  // Entries are appended in settle order, so expiry times are nearly sorted; an entry re-used
  // since (republished, or settled again) carries a different expiry and is kept.
  while (!expiry_.empty() && expiry_.front().first <= now) {
    auto it = entries_.find(expiry_.front().second);
    if (it != entries_.end() && it->second.live == nullptr &&
        it->second.expires == expiry_.front().first) {
      entries_.erase(it);
    }
    expiry_.pop_front();
  }
}

}  // namespace mandrill::broker
