#pragma once
// A doubly linked list threaded through its elements: no allocation per insert or removal, O(1)
// removal from the middle. T derives from Hook (ListHook, or a tag type derived from it, once per
// list an element can be on). The list never owns its elements; an element is removed before it
// dies. Single-threaded. The broker's queues, leases and sessions and the runtime's tasks,
// waiters and lease schedule all use this one list.
#include <cassert>
#include <cstddef>

namespace mandrill::core {

struct ListHook {
  ListHook* prev = nullptr;
  ListHook* next = nullptr;
  bool linked() const { return prev != nullptr; }
};

template <class T, class Hook = ListHook>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next == &head_; }
  std::size_t size() const { return size_; }

  void PushBack(T* item) { LinkAfter(head_.prev, item); }
  void PushFront(T* item) { LinkAfter(&head_, item); }
  // Links `item` right after `pos`, or at the front if `pos` is null.
  void InsertAfter(T* pos, T* item) {
    LinkAfter(pos == nullptr ? static_cast<ListHook*>(&head_) : static_cast<Hook*>(pos), item);
  }
  // Unlinks `item` if it is linked (on this list: an element is on one list per hook).
  void Remove(T* item) {
    Hook* h = item;
    if (!h->linked()) return;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->prev = h->next = nullptr;
    --size_;
  }
  // Moves a linked `item` to the back (e.g. most recently used).
  void MoveToBack(T* item) {
    Remove(item);
    PushBack(item);
  }
  T* Front() const { return empty() ? nullptr : Cast(head_.next); }
  T* Back() const { return empty() ? nullptr : Cast(head_.prev); }
  T* PopFront() {
    T* t = Front();
    if (t != nullptr) Remove(t);
    return t;
  }
  // The element after `item`, or nullptr at the end.
  T* Next(const T* item) const {
    const ListHook* n = static_cast<const Hook*>(item)->next;
    return n == &head_ ? nullptr : Cast(const_cast<ListHook*>(n));
  }
  // The element before `item`, or nullptr at the front.
  T* Prev(const T* item) const {
    const ListHook* p = static_cast<const Hook*>(item)->prev;
    return p == &head_ ? nullptr : Cast(const_cast<ListHook*>(p));
  }
  // Calls f(T*) for each element in order; f may remove the element it is given.
  template <typename F>
  void ForEach(F&& f) const {
    for (ListHook* h = head_.next; h != &head_;) {
      ListHook* next = h->next;
      f(Cast(h));
      h = next;
    }
  }

 private:
  void LinkAfter(ListHook* pos, T* item) {
    Hook* h = item;
    assert(!h->linked());
    h->prev = pos;
    h->next = pos->next;
    pos->next->prev = h;
    pos->next = h;
    ++size_;
  }
  static T* Cast(ListHook* h) { return static_cast<T*>(static_cast<Hook*>(h)); }
  Hook head_;
  std::size_t size_ = 0;
};

}  // namespace mandrill::core
