// Helpers shared by the worker unit tests: a recording outbox, a scripted handler, delivery
// builders and a runner on the runtime's virtual clock.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/runtime/runtime.h"
#include "worker/handlers/handler.h"
#include "worker/loop/outbox.h"

namespace mandrill::worker::testing {

using namespace std::chrono_literals;

// Milliseconds since `start` on the current loop's clock.
inline long long MsSince(runtime::TimePoint start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Loop::Current()->Now() -
                                                               start)
      .count();
}

// Records everything the loop side sends, stamped with loop time (ms since `start`).
class RecordingOutbox final : public Outbox {
 public:
  struct Sent {
    enum Kind { kAck, kNack, kExtend, kCredit } kind;
    long long at_ms;
    std::uint64_t lease = 0;
    std::uint32_t value = 0;  // nack delay, extend duration or credit
    std::string reason;
  };
  explicit RecordingOutbox(runtime::TimePoint start) : start_(start) {}

  void Ack(std::uint64_t lease) override { Add({Sent::kAck, Now(), lease, 0, {}}); }
  void Nack(std::uint64_t lease, std::uint32_t delay, std::string reason) override {
    Add({Sent::kNack, Now(), lease, delay, std::move(reason)});
  }
  void Extend(std::uint64_t lease, std::uint32_t duration) override {
    Add({Sent::kExtend, Now(), lease, duration, {}});
  }
  void SetCredit(std::uint32_t credit) override { Add({Sent::kCredit, Now(), 0, credit, {}}); }
  void Flush() override { ++flushes; }

  std::vector<Sent> Of(Sent::Kind kind) const {
    std::vector<Sent> out;
    for (const auto& s : sent) {
      if (s.kind == kind) out.push_back(s);
    }
    return out;
  }
  std::vector<Sent> Acks() const { return Of(Sent::kAck); }
  std::vector<Sent> Nacks() const { return Of(Sent::kNack); }
  std::vector<Sent> Extends() const { return Of(Sent::kExtend); }
  // Times (ms) at which `lease` was extended.
  std::vector<long long> ExtendTimes(std::uint64_t lease) const {
    std::vector<long long> out;
    for (const auto& s : sent) {
      if (s.kind == Sent::kExtend && s.lease == lease) out.push_back(s.at_ms);
    }
    return out;
  }
  std::size_t Settled() const { return Acks().size() + Nacks().size(); }

  // Waits (loop time) until `n` acks+nacks were sent.
  runtime::Task<void> WaitSettled(std::size_t n) {
    while (Settled() < n) (void)co_await changed_.Receive();
  }

  std::vector<Sent> sent;
  int flushes = 0;

 private:
  long long Now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Loop::Current()->Now() -
                                                                 start_)
        .count();
  }
  void Add(Sent s) {
    sent.push_back(std::move(s));
    int one = 1;
    (void)changed_.TrySend(one);
  }
  runtime::TimePoint start_;
  runtime::Channel<int> changed_{1};
};

// Behaviour chosen by the payload:
//   "ok"                 return at once
//   "sleep:MS"           sleep MS (loop clock), then return
//   "throw:TEXT"         throw std::runtime_error(TEXT)
//   "sleep-throw:MS:T"   sleep MS, then throw T
//   "hang"               sleep an hour
//   "swallow"            sleep an hour; if cancelled, swallow it and return
//   "spawn-fail:MS:T"    sub-task A sleeps an hour, sub-task B fails with T after MS
class ScriptedHandler final : public Handler {
 public:
  runtime::Task<void> Handle(const Message& msg, Context& ctx) override {
    ++started;
    const std::string p(msg.payload);
    if (p == "ok") co_return;
    if (p.rfind("sleep:", 0) == 0) {
      co_await runtime::Sleep(std::chrono::milliseconds(std::stoll(p.substr(6))));
      co_return;
    }
    if (p.rfind("throw:", 0) == 0) throw std::runtime_error(p.substr(6));
    if (p.rfind("sleep-throw:", 0) == 0) {
      const auto colon = p.find(':', 12);
      co_await runtime::Sleep(std::chrono::milliseconds(std::stoll(p.substr(12, colon - 12))));
      throw std::runtime_error(p.substr(colon + 1));
    }
    if (p == "hang") {
      co_await runtime::Sleep(1h);
      co_return;
    }
    if (p == "swallow") {
      try {
        co_await runtime::Sleep(1h);
      } catch (const runtime::Cancelled&) {
        ++swallowed;  // deliberately returns normally: must not turn into an ACK of a lost lease
      }
      co_return;
    }
    if (p.rfind("spawn-fail:", 0) == 0) {
      const auto colon = p.find(':', 11);
      ctx.Spawn("slow", SleepFor(1h, &subtask_cancelled));
      ctx.Spawn("failing", FailAfter(std::chrono::milliseconds(std::stoll(p.substr(11, colon - 11))),
                                     p.substr(colon + 1)));
      co_return;
    }
    throw std::logic_error("unknown script '" + p + "'");
  }

  int started = 0;
  int swallowed = 0;
  int subtask_cancelled = 0;

 private:
  static runtime::Task<void> SleepFor(runtime::Duration d, int* cancelled) {
    try {
      co_await runtime::Sleep(d);
    } catch (const runtime::Cancelled&) {
      ++*cancelled;
      throw;
    }
  }
  static runtime::Task<void> FailAfter(runtime::Duration d, std::string what) {
    co_await runtime::Sleep(d);
    throw std::runtime_error(what);
  }
};

// v[i], or (with a test failure) a default value when v is too short: coroutine tests cannot use
// ASSERT_* (it returns), and must not index past the end either.
template <class T>
T At(const std::vector<T>& v, std::size_t i) {
  if (i < v.size()) return v[i];
  ADD_FAILURE() << "expected at least " << i + 1 << " elements, got " << v.size();
  return T{};
}

inline protocol::DeliverItem Item(std::uint64_t lease, std::string payload,
                                  std::uint32_t attempt = 1, std::uint32_t lease_ms = 3000,
                                  std::string id = {}) {
  protocol::DeliverItem d;
  d.lease_id = lease;
  d.id = id.empty() ? "m-" + std::to_string(lease) : std::move(id);
  d.queue = "restarts";
  d.payload = std::move(payload);
  d.attempt = attempt;
  d.lease_ms = lease_ms;
  return d;
}

inline std::vector<protocol::DeliverItem> Items(std::vector<protocol::DeliverItem> v) { return v; }

inline protocol::Welcome WelcomeFrom(std::string broker_id, std::uint32_t lease_ms = 3000) {
  protocol::Welcome w;
  w.broker_id = std::move(broker_id);
  w.heartbeat_ms = 1000;
  w.lease_ms = lease_ms;
  w.max_lease_ms = 3'600'000;
  return w;
}

inline runtime::LoopOptions VirtualOptions(runtime::VirtualClock* clock) {
  runtime::LoopOptions o;
  o.name = "test-loop";
  o.clock = clock;
  o.slow_step_threshold = runtime::Duration::zero();
  return o;
}

// Runs `main` on a fresh loop with a virtual clock.
inline void RunVirtual(runtime::Task<void> main) {
  runtime::VirtualClock clock;
  runtime::Loop loop(VirtualOptions(&clock));
  loop.Run(std::move(main));
}

}  // namespace mandrill::worker::testing
