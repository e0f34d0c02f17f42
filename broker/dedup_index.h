#pragma once
// Which (queue, id) pairs the broker has accepted: an id is deduplicated while its message is
// live (pending, ready, leased, deferred or dead) and for the dedup window after it settled.
//
// Memory: the id is stored once. A live entry is the Message itself (its id is inside it); a
// settled one is a small record in an append-only arena, in settle order, so pruning expired
// ids frees whole blocks from the front. The table holds one tagged pointer per id. The number
// of settled ids is bounded: past `max_settled` the oldest are forgotten early (counted).
// Reactor thread only.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>

#include "broker/message.h"
#include "shared/core/clock.h"

namespace mandrill::broker {

class Queue;

class DedupIndex {
 public:
  DedupIndex(std::chrono::milliseconds window, std::size_t max_settled)
      : window_(window), max_settled_(max_settled) {}
  ~DedupIndex();
  DedupIndex(const DedupIndex&) = delete;
  DedupIndex& operator=(const DedupIndex&) = delete;

  struct Hit {
    bool found = false;
    Message* live = nullptr;  // null: settled within the window
  };
  Hit Find(const Queue* q, std::string_view id) const;

  // Room for `more` ids without rehashing (recovery knows how many follow).
  void Reserve(std::size_t more);
  // `m` (with queue and id set) is live; its id must not be in the index.
  void AddLive(Message* m);
  // `m` was never accepted (its write failed): forget its id entirely.
  void RemoveLive(Message* m);
  // `m` settled (acked or purged) at `now`: its id is remembered for the window. Call before
  // freeing `m`. Past the bound the oldest settled id is forgotten; returns its queue if that
  // was the queue's last remembered id.
  Queue* Settle(Message* m, core::SteadyTime now);
  // A settled id restored from storage, remembered until `expires` (or longer, if it is
  // remembered already). Calls should come in non-decreasing `expires` order (the restorer
  // sorts them): pruning stops at the first record that has not expired.
  void AddSettled(Queue* q, std::string_view id, core::SteadyTime expires);

  // Forgets settled ids whose window ended by `now`, and the oldest ones beyond the bound;
  // appends to `released` each queue whose last remembered id went.
  void Prune(core::SteadyTime now, std::vector<Queue*>* released);

  std::size_t size() const { return table_.size(); }
  std::size_t settled() const { return settled_; }
  std::int64_t evicted() const { return evicted_; }  // forgotten before their window ended
  std::size_t arena_bytes() const { return blocks_.size() * kBlockBytes; }
  std::size_t table_bytes() const { return table_.capacity() * (sizeof(std::uintptr_t) + 1); }

 private:
  struct Settled {
    Queue* queue;
    core::SteadyTime expires;
    std::uint16_t id_size;
    const char* id() const { return reinterpret_cast<const char*>(this + 1); }
  };
  struct Key {
    const Queue* queue;
    std::string_view id;
  };
  // Table entries are Message* (low bit 0) or Settled* (low bit 1).
  static Key KeyOf(std::uintptr_t e);
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::uintptr_t e) const { return (*this)(KeyOf(e)); }
    std::size_t operator()(const Key& k) const;
  };
  struct Eq {
    using is_transparent = void;
    static Key K(std::uintptr_t e) { return KeyOf(e); }
    static const Key& K(const Key& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const Key ka = K(a), kb = K(b);
      return ka.queue == kb.queue && ka.id == kb.id;
    }
  };

  static constexpr std::size_t kBlockBytes = 64 * 1024;
  struct Block {
    std::unique_ptr<char[]> bytes;
    std::size_t used = 0;
  };
  using Table = absl::flat_hash_set<std::uintptr_t, Hash, Eq>;
  Settled* Append(Queue* q, std::string_view id, core::SteadyTime expires);
  // Points the table entry `it` at `s`, a settled record for the same (queue, id).
  void Replace(Table::iterator it, Settled* s);
  Settled* Oldest() const;
  // Drops the oldest settled record; returns its queue if that was the queue's last id.
  Queue* DropOldest();

  std::chrono::milliseconds window_;
  std::size_t max_settled_;
  Table table_;
  // Settled records in settle order: blocks_ front to back, the front block's from
  // head_offset_ on.
  std::deque<Block> blocks_;
  std::size_t head_offset_ = 0;
  std::size_t settled_ = 0;  // records in the arena not yet dropped
  std::int64_t evicted_ = 0;
};

}  // namespace mandrill::broker
