#pragma once
// A doubly linked list threaded through its elements (no allocation per insert/erase). An
// element may be on several lists at once, one Link member per list. Not thread-safe.
#include <cassert>
#include <cstddef>

namespace mandrill::broker {

template <typename T>
struct Link {
  T* prev = nullptr;
  T* next = nullptr;
  bool linked = false;
};

template <typename T, Link<T> T::*kLink>
class IntrusiveList {
 public:
  void PushBack(T* item) {
    Link<T>& l = item->*kLink;
    assert(!l.linked);
    l.prev = tail_;
    l.next = nullptr;
    l.linked = true;
    if (tail_ != nullptr) {
      (tail_->*kLink).next = item;
    } else {
      head_ = item;
    }
    tail_ = item;
    ++size_;
  }
  void Remove(T* item) {
    Link<T>& l = item->*kLink;
    assert(l.linked);
    if (l.prev != nullptr) {
      (l.prev->*kLink).next = l.next;
    } else {
      head_ = l.next;
    }
    if (l.next != nullptr) {
      (l.next->*kLink).prev = l.prev;
    } else {
      tail_ = l.prev;
    }
    l = Link<T>{};
    --size_;
  }
  T* front() const { return head_; }
  static T* Next(const T* item) { return (item->*kLink).next; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  template <typename F>
  void ForEach(F&& f) const {
    for (T* it = head_; it != nullptr;) {
      T* next = (it->*kLink).next;  // f may remove `it`
      f(it);
      it = next;
    }
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mandrill::broker
