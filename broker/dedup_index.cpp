#include "broker/dedup_index.h"

#include <cassert>
#include <cstring>

#include <absl/hash/hash.h>

#include "broker/queue.h"

namespace mandrill::broker {
namespace {

constexpr std::uintptr_t kSettledTag = 1;

std::size_t RecordBytes(std::size_t header, std::size_t id_size) {
  return (header + id_size + 7) & ~std::size_t{7};
}

}  // namespace

DedupIndex::~DedupIndex() = default;

DedupIndex::Key DedupIndex::KeyOf(std::uintptr_t e) {
  if (e & kSettledTag) {
    const auto* s = reinterpret_cast<const Settled*>(e & ~kSettledTag);
    return {s->queue, std::string_view(s->id(), s->id_size)};
  }
  const auto* m = reinterpret_cast<const Message*>(e);
  return {m->queue, m->id()};
}

std::size_t DedupIndex::Hash::operator()(const Key& k) const {
  // Debian's Abseil has its own string_view type.
  return absl::HashOf(k.queue, absl::string_view(k.id.data(), k.id.size()));
}

DedupIndex::Hit DedupIndex::Find(const Queue* q, std::string_view id) const {
  auto it = table_.find(Key{q, id});
  if (it == table_.end()) return {};
  if (*it & kSettledTag) return {true, nullptr};
  return {true, reinterpret_cast<Message*>(*it)};
}

void DedupIndex::Reserve(std::size_t more) { table_.reserve(table_.size() + more); }

void DedupIndex::AddLive(Message* m) {
  const bool inserted = table_.insert(reinterpret_cast<std::uintptr_t>(m)).second;
  assert(inserted);
  (void)inserted;
}

void DedupIndex::RemoveLive(Message* m) {
  auto it = table_.find(Key{m->queue, m->id()});
  if (it != table_.end() && *it == reinterpret_cast<std::uintptr_t>(m)) table_.erase(it);
}

Queue* DedupIndex::Settle(Message* m, core::SteadyTime now) {
  auto it = table_.find(Key{m->queue, m->id()});
  if (it == table_.end() || *it != reinterpret_cast<std::uintptr_t>(m)) return nullptr;
  if (window_.count() <= 0) {
    table_.erase(it);
    return nullptr;
  }
  Settled* s = Append(m->queue, m->id(), now + window_);
  Replace(it, s);
  if (settled_ <= max_settled_) return nullptr;
  ++evicted_;
  return DropOldest();
}

void DedupIndex::AddSettled(Queue* q, std::string_view id, core::SteadyTime expires) {
  auto it = table_.find(Key{q, id});
  if (it != table_.end()) {
    if (!(*it & kSettledTag)) return;  // a live message with this id wins
    const auto* old = reinterpret_cast<const Settled*>(*it & ~kSettledTag);
    if (old->expires >= expires) return;
    // The older record stays in the arena, orphaned, until pruned.
    Replace(it, Append(q, id, expires));
    return;
  }
  Settled* s = Append(q, id, expires);
  table_.insert(reinterpret_cast<std::uintptr_t>(s) | kSettledTag);
}

void DedupIndex::Replace(Table::iterator it, Settled* s) {
  // In place: `s` has the same (queue, id) as the entry, so its hash and slot stay valid. An
  // erase and insert instead leaves a tombstone per settle, and the table rehashes every few
  // hundred thousand settles to clear them (a tenth of the reactor's time at full rate).
  const_cast<std::uintptr_t&>(*it) = reinterpret_cast<std::uintptr_t>(s) | kSettledTag;
}

DedupIndex::Settled* DedupIndex::Append(Queue* q, std::string_view id, core::SteadyTime expires) {
  const std::size_t need = RecordBytes(sizeof(Settled), id.size());
  if (blocks_.empty() || blocks_.back().used + need > kBlockBytes) {
    blocks_.push_back(Block{std::make_unique<char[]>(kBlockBytes), 0});
  }
  Block& b = blocks_.back();
  auto* s = new (b.bytes.get() + b.used) Settled{q, expires, static_cast<std::uint16_t>(id.size())};
  std::memcpy(const_cast<char*>(s->id()), id.data(), id.size());
  b.used += need;
  ++settled_;
  ++q->dedup_ids;
  return s;
}

DedupIndex::Settled* DedupIndex::Oldest() const {
  if (blocks_.empty()) return nullptr;
  const Block& b = blocks_.front();
  if (head_offset_ >= b.used) return nullptr;  // only the back block can be partly used
  return reinterpret_cast<Settled*>(b.bytes.get() + head_offset_);
}

Queue* DedupIndex::DropOldest() {
  Settled* s = Oldest();
  assert(s != nullptr);
  auto it = table_.find(Key{s->queue, std::string_view(s->id(), s->id_size)});
  if (it != table_.end() && *it == (reinterpret_cast<std::uintptr_t>(s) | kSettledTag)) {
    table_.erase(it);
  }
  Queue* q = s->queue;
  head_offset_ += RecordBytes(sizeof(Settled), s->id_size);
  if (head_offset_ >= blocks_.front().used && (blocks_.size() > 1 || head_offset_ >= kBlockBytes)) {
    blocks_.pop_front();
    head_offset_ = 0;
  } else if (blocks_.size() == 1 && head_offset_ >= blocks_.front().used) {
    blocks_.front().used = 0;  // the only block is empty: reuse it from the start
    head_offset_ = 0;
  }
  --settled_;
  return --q->dedup_ids == 0 ? q : nullptr;
}

void DedupIndex::Prune(core::SteadyTime now, std::vector<Queue*>* released) {
  while (settled_ > 0) {
    const Settled* s = Oldest();
    if (s == nullptr) break;
    const bool over_bound = settled_ > max_settled_;
    if (!over_bound && s->expires > now) break;
    if (over_bound && s->expires > now) ++evicted_;
    if (Queue* q = DropOldest()) released->push_back(q);
  }
}

}  // namespace mandrill::broker
