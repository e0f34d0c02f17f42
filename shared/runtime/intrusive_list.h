// IntrusiveList: a doubly-linked list of objects that embed a ListHook. The list never owns its
// elements; an element unlinks itself (Unlink) before it dies. Single-threaded.
#pragma once

#include <cassert>
#include <cstddef>

namespace mandrill::runtime::detail {

struct ListHook {
  ListHook* prev = nullptr;
  ListHook* next = nullptr;
  bool linked() const { return prev != nullptr; }
};

// T must derive from ListHook (once; use a tag type to be in two lists).
template <class T, class Hook = ListHook>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next == &head_; }
  std::size_t size() const { return size_; }

  void PushBack(T* item) {
    Hook* h = item;
    assert(!h->linked());
    h->prev = head_.prev;
    h->next = &head_;
    head_.prev->next = h;
    head_.prev = h;
    ++size_;
  }
  // Links `item` right after `pos`, or at the front if `pos` is null.
  void InsertAfter(T* pos, T* item) {
    Hook* h = item;
    assert(!h->linked());
    ListHook* p = pos == nullptr ? static_cast<ListHook*>(&head_) : static_cast<Hook*>(pos);
    h->prev = p;
    h->next = p->next;
    p->next->prev = h;
    p->next = h;
    ++size_;
  }
  static void Unlink(T* item) {
    Hook* h = item;
    if (!h->linked()) return;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->prev = h->next = nullptr;
  }
  void Remove(T* item) {
    Hook* h = item;
    if (!h->linked()) return;
    Unlink(item);
    --size_;
  }
  T* Front() { return empty() ? nullptr : Cast(head_.next); }
  T* Back() { return empty() ? nullptr : Cast(head_.prev); }
  T* PopFront() {
    T* t = Front();
    if (t != nullptr) Remove(t);
    return t;
  }
  // Next/previous element or nullptr at the end.
  T* Next(T* item) {
    ListHook* n = static_cast<Hook*>(item)->next;
    return n == &head_ ? nullptr : Cast(n);
  }
  T* Prev(T* item) {
    ListHook* p = static_cast<Hook*>(item)->prev;
    return p == &head_ ? nullptr : Cast(p);
  }

 private:
  static T* Cast(ListHook* h) { return static_cast<T*>(static_cast<Hook*>(h)); }
  Hook head_;
  std::size_t size_ = 0;
};

}  // namespace mandrill::runtime::detail
