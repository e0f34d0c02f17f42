// FirstOf: await whichever of two tasks finishes first, cancelling the other (Trio's "race",
// asyncio.wait(FIRST_COMPLETED) done right).
//
//   auto r = co_await FirstOf(Handle(msg), KeepLease(lease));
//   // r.index() == 0: the handler finished; the lease keeper has been cancelled AND has ended.
//
// Both run as child tasks of a TaskGroup inside the caller. When one finishes with a value, the
// other is cancelled and awaited; FirstOf returns the winner's value as a variant (void becomes
// std::monostate). If one fails first, the other is cancelled and the error is rethrown. Errors
// are never lost: a loser that fails (not merely cancelled) while being cancelled is rethrown
// too. Cancelling the caller cancels both.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "shared/runtime/supervisor.h"
#include "shared/runtime/task.h"

namespace mandrill::runtime {

namespace detail {
template <class T>
using ValueOrMonostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class V, std::size_t I, class T>
Task<void> RaceArm(Task<T> work, std::optional<V>* winner, TaskGroup* group) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(work);
    if (!winner->has_value()) winner->emplace(std::in_place_index<I>);
  } else {
    T value = co_await std::move(work);
    if (!winner->has_value()) winner->emplace(std::in_place_index<I>, std::move(value));
  }
  group->CancelAll();
}
}  // namespace detail

template <class A, class B>
Task<std::variant<detail::ValueOrMonostate<A>, detail::ValueOrMonostate<B>>> FirstOf(Task<A> a,
                                                                                   Task<B> b) {
  using V = std::variant<detail::ValueOrMonostate<A>, detail::ValueOrMonostate<B>>;
  std::optional<V> winner;
  TaskGroup group("first-of");
  group.Spawn("first-of[0]", detail::RaceArm<V, 0>(std::move(a), &winner, &group));
  group.Spawn("first-of[1]", detail::RaceArm<V, 1>(std::move(b), &winner, &group));
  co_await group.Join();
  if (!winner.has_value()) throw std::logic_error("FirstOf: neither task finished");
  co_return std::move(*winner);
}

}  // namespace mandrill::runtime
