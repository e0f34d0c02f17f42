// RingQueue: a growable FIFO ring buffer for the loop's ready queues. Single-threaded.
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>
#include <utility>

namespace mandrill::runtime::detail {

template <class T>
class RingQueue {
 public:
  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;
  ~RingQueue() {
    while (!empty()) Pop();
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  void Push(T value) {
    if (size_ == capacity_) Grow();
    ::new (static_cast<void*>(Slot(head_ + size_))) T(std::move(value));
    ++size_;
  }

  T Pop() {
    assert(size_ > 0);
    T* slot = Slot(head_);
    T value = std::move(*slot);
    slot->~T();
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return value;
  }

 private:
  T* Slot(std::size_t i) { return reinterpret_cast<T*>(buffer_.get()) + (i & (capacity_ - 1)); }

  void Grow() {
    std::size_t new_capacity = capacity_ == 0 ? 64 : capacity_ * 2;
    std::unique_ptr<Storage[]> fresh(new Storage[new_capacity]);
    T* dst = reinterpret_cast<T*>(fresh.get());
    for (std::size_t i = 0; i < size_; ++i) {
      T* src = Slot(head_ + i);
      ::new (static_cast<void*>(dst + i)) T(std::move(*src));
      src->~T();
    }
    buffer_ = std::move(fresh);
    capacity_ = new_capacity;
    head_ = 0;
  }

  struct alignas(T) Storage {
    unsigned char bytes[sizeof(T)];
  };
  std::unique_ptr<Storage[]> buffer_;
  std::size_t capacity_ = 0;  // always 0 or a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace mandrill::runtime::detail
