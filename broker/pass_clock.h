#pragma once
// The broker's view of time: one reading per event. A frame of 200 acks, or one pass's 200
// deliveries, would otherwise read the system clock twice per message for what is, to a
// lease or a dedup window, the same instant. While an event is handled (a Pin is held), Now and
// WallMs return the time it began; outside one they read the underlying clock. Reactor thread
// only.
#include <cstdint>

#include "shared/core/clock.h"

namespace mandrill::broker {

class PassClock final : public core::Clock {
 public:
  explicit PassClock(const core::Clock& base) : base_(base) {}

  core::TimePoint Now() const override { return pins_ > 0 ? now_ : base_.Now(); }
  std::int64_t WallMs() const override { return pins_ > 0 ? wall_ : base_.WallMs(); }
  bool IsVirtual() const override { return base_.IsVirtual(); }

  // Holds the time for one event; nested pins keep the outermost reading.
  class Pin {
   public:
    explicit Pin(const PassClock& c) : c_(c) {
      if (c_.pins_++ == 0) {
        c_.now_ = c_.base_.Now();
        c_.wall_ = c_.base_.WallMs();
      }
    }
    ~Pin() { --c_.pins_; }
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    const PassClock& c_;
  };

 private:
  const core::Clock& base_;
  // Mutable: const queries (Stats) pin too.
  mutable int pins_ = 0;
  mutable core::TimePoint now_{};
  mutable std::int64_t wall_ = 0;
};

}  // namespace mandrill::broker
