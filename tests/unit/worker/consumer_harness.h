// A Consumer wired to a recording outbox and a scripted handler, running inside a test task.
#pragma once

#include "tests/unit/worker/worker_test_util.h"
#include "worker/loop/consumer.h"

namespace mandrill::worker::testing {

inline ConsumerOptions TestOptions() {
  ConsumerOptions o;
  o.handler_timeout = std::chrono::minutes(5);
  o.retry_initial = 500ms;
  o.retry_max = 60s;
  o.stats_interval = runtime::Duration::zero();
  return o;
}

// Construct inside a task. Consumer::Run runs as a child of `sup`; Finish() stops and joins.
struct Harness {
  explicit Harness(ConsumerOptions options = TestOptions())
      : consumer(options, handler, out, nullptr) {
    sup.Spawn("consumer", consumer.Run());
    consumer.OnWelcome(WelcomeFrom("broker-1"));
  }
  runtime::Task<void> Finish() {
    consumer.Stop(runtime::Duration::zero());
    co_await sup.Join();
  }
  // Milliseconds of loop time since the harness was built.
  long long Now() const { return MsSince(start); }

  runtime::TimePoint start = runtime::Loop::Current()->Now();
  RecordingOutbox out{start};
  ScriptedHandler handler;
  Consumer consumer;
  runtime::Supervisor sup{"test"};
};

}  // namespace mandrill::worker::testing
