#include "shared/runtime/cancel_scope.h"

#include <cassert>
#include <vector>

#include "shared/runtime/loop.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

CancelScope::~CancelScope() {
  assert(!attached_ && "CancelScope destroyed while tasks are inside it");
  if (attached_) Detach();
}

void CancelScope::Enter(detail::TaskCore* owner) {
  assert(!used_ && "a CancelScope can be entered only once");
  used_ = true;
  owner_ = owner;
  saved_current_ = owner->current_scope_;
  Attach(saved_current_, owner->loop());
  owner->current_scope_ = this;
}

void CancelScope::Exit() {
  if (owner_ != nullptr) owner_->current_scope_ = saved_current_;
  Detach();
}

void CancelScope::Attach(CancelScope* parent, Loop* loop) {
  assert(!attached_);
  attached_ = true;
  used_ = true;
  loop_ = loop;
  parent_ = parent;
  if (parent_ != nullptr) {
    next_sibling_ = parent_->first_child_;
    if (next_sibling_ != nullptr) next_sibling_->prev_sibling_ = this;
    parent_->first_child_ = this;
  }
  if (deadline_ != kNoDeadline) ArmDeadline();
}

void CancelScope::DetachAttached() {
  attached_ = false;
  if (timer_.armed()) detail::LoopInternals::Timers(*loop_).Cancel(&timer_);
  if (parent_ != nullptr) {
    if (prev_sibling_ != nullptr) {
      prev_sibling_->next_sibling_ = next_sibling_;
    } else {
      parent_->first_child_ = next_sibling_;
    }
    if (next_sibling_ != nullptr) next_sibling_->prev_sibling_ = prev_sibling_;
  }
  // Children still attached (only possible during loop teardown) become roots.
  for (CancelScope* c = first_child_; c != nullptr; c = c->next_sibling_) c->parent_ = nullptr;
  first_child_ = prev_sibling_ = next_sibling_ = parent_ = nullptr;
}

void CancelScope::ArmDeadline() {
  if (!attached_ || loop_ == nullptr) return;
  auto& timers = detail::LoopInternals::Timers(*loop_);
  timers.Cancel(&timer_);
  if (deadline_ == kNoDeadline || cancel_called_) return;
  timer_.scope = this;
  timer_.fire = &CancelScope::OnDeadline;
  timers.Add(&timer_, deadline_);
}

void CancelScope::OnDeadline(detail::TimerNode* node) {
  CancelScope* scope = static_cast<DeadlineTimer*>(node)->scope;
  if (scope->cancel_called_) return;
  scope->deadline_fired_ = true;
  scope->Cancel();
}

void CancelScope::Cancel() {
  if (cancel_called_) return;
  cancel_called_ = true;
  if (loop_ != nullptr) detail::LoopInternals::Timers(*loop_).Cancel(&timer_);
  DeliverCancellation();
}

void CancelScope::DeliverCancellation() {
  if (!attached_) return;  // nothing inside yet; Enter makes the state visible
  std::vector<CancelScope*> pending{this};
  while (!pending.empty()) {
    CancelScope* s = pending.back();
    pending.pop_back();
    if (s->owner_ != nullptr) s->owner_->OnCancelStatusChanged();
    for (CancelScope* c = s->first_child_; c != nullptr; c = c->next_sibling_) {
      if (!c->shield_) pending.push_back(c);
    }
  }
}

void CancelScope::SetDeadline(TimePoint deadline) {
  deadline_ = deadline;
  ArmDeadline();
}

void CancelScope::SetRelativeDeadline(Duration from_now) {
  Loop* loop = loop_ != nullptr ? loop_ : Loop::Current();
  assert(loop != nullptr && "SetRelativeDeadline needs a loop");
  SetDeadline(loop->Now() + from_now);
}

void CancelScope::SetShield(bool shield) {
  if (shield_ == shield) return;
  shield_ = shield;
  if (!shield_ && EffectivelyCancelled()) DeliverCancellation();
}

TimePoint CancelScope::EffectiveDeadline() const {
  TimePoint earliest = kNoDeadline;
  for (const CancelScope* s = this; s != nullptr; s = s->parent_) {
    if (s->deadline_ < earliest) earliest = s->deadline_;
    if (s->shield_) break;
  }
  return earliest;
}

bool CancelRequested() {
  detail::TaskCore* task = detail::CurrentTask();
  return task != nullptr && task->CancelPending();
}

TimePoint CurrentDeadline() {
  detail::TaskCore* task = detail::CurrentTask();
  return task == nullptr ? kNoDeadline : task->current_scope()->EffectiveDeadline();
}

}  // namespace mandrill::runtime
