#include "broker/queue.h"

namespace mandrill::broker {

Queue::~Queue() {
  while (Message* m = ready_.PopFront()) FreeMessage(m);
  while (Message* m = dead_.PopFront()) FreeMessage(m);
}

void Queue::PushReady(Message* m, bool front) {
  m->state = MessageState::kReady;
  if (front) {
    ready_.PushFront(m);
  } else {
    ready_.PushBack(m);
  }
}

void Queue::Bury(Message* m, std::string_view reason, std::int64_t at_unix_ms) {
  m->state = MessageState::kDead;
  m->SetLastError(reason);
  m->extra->dead_at_unix_ms = at_unix_ms;
  dead_.PushBack(m);
}

void Queue::Exhume(Message* m) { dead_.Remove(m); }

}  // namespace mandrill::broker
