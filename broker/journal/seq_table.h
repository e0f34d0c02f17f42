#pragma once
// A map from message seq to T, specialised for seqs that are dense and mostly increasing (the
// broker numbers messages 1, 2, 3, ...): entries live in fixed chunks of kChunk consecutive
// seqs, a chunk is freed when its last entry is erased, and the most recently used chunk is
// cached. Insert, find and erase cost an index computation in the common case instead of a
// hash-map node allocation; a long-lived straggler pins one chunk, not its neighbours.
//
// Not thread-safe. T must be default-constructible; pointers returned by Find/Insert stay
// valid until that seq is erased or the table is cleared.
#include <bitset>
#include <cstdint>
#include <memory>
#include <unordered_map>

namespace mandrill::broker::journal {

template <typename T>
class SeqTable {
 public:
  static constexpr std::uint64_t kShift = 10;
  static constexpr std::uint64_t kChunk = 1ull << kShift;

  T* Find(std::uint64_t seq) {
    Chunk* c = ChunkFor(seq >> kShift, false);
    if (c == nullptr) return nullptr;
    const std::size_t i = seq & (kChunk - 1);
    return c->present[i] ? &c->values[i] : nullptr;
  }
  bool Contains(std::uint64_t seq) { return Find(seq) != nullptr; }

  // Returns the entry for seq, default-constructing it if absent; *inserted says which.
  T* Insert(std::uint64_t seq, bool* inserted = nullptr) {
    Chunk* c = ChunkFor(seq >> kShift, true);
    const std::size_t i = seq & (kChunk - 1);
    const bool fresh = !c->present[i];
    if (fresh) {
      c->present[i] = true;
      c->values[i] = T{};
      ++c->count;
      ++size_;
    }
    if (inserted != nullptr) *inserted = fresh;
    return &c->values[i];
  }

  bool Erase(std::uint64_t seq) {
    const std::uint64_t key = seq >> kShift;
    Chunk* c = ChunkFor(key, false);
    const std::size_t i = seq & (kChunk - 1);
    if (c == nullptr || !c->present[i]) return false;
    c->present[i] = false;
    c->values[i] = T{};  // release what T owns now
    --size_;
    if (--c->count == 0) {
      if (cached_ == c) cached_ = nullptr;
      chunks_.erase(key);
    }
    return true;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void Clear() {
    chunks_.clear();
    cached_ = nullptr;
    size_ = 0;
  }

  // Calls f(seq, T&) for every entry, in no particular order.
  template <typename F>
  void ForEach(F&& f) {
    for (auto& [key, chunk] : chunks_) {
      for (std::size_t i = 0; i < kChunk; ++i) {
        if (chunk->present[i]) f((key << kShift) | i, chunk->values[i]);
      }
    }
  }

 private:
  struct Chunk {
    T values[kChunk];
    std::bitset<kChunk> present;
    std::uint32_t count = 0;
  };

  Chunk* ChunkFor(std::uint64_t key, bool create) {
    if (cached_ != nullptr && cached_key_ == key) return cached_;
    auto it = chunks_.find(key);
    if (it == chunks_.end()) {
      if (!create) return nullptr;
      it = chunks_.emplace(key, std::make_unique<Chunk>()).first;
    }
    cached_ = it->second.get();
    cached_key_ = key;
    return cached_;
  }

  std::unordered_map<std::uint64_t, std::unique_ptr<Chunk>> chunks_;
  Chunk* cached_ = nullptr;
  std::uint64_t cached_key_ = 0;
  std::size_t size_ = 0;
};

}  // namespace mandrill::broker::journal
