#include "worker/loop/status_reporter.h"

#include <utility>

namespace mandrill::worker {

StatusReporter::StatusReporter(StatusOptions options, const Consumer& consumer,
                               metrics::SnapshotSlot<WorkerStatus>& slot)
    : options_(options),
      loop_(*runtime::Loop::Current()),
      consumer_(consumer),
      slot_(slot),
      lag_(metrics::LatencyBounds()),
      probe_(loop_),
      publish_(loop_) {}

void StatusReporter::Start() {
  Publish();
  ArmProbe();
  ArmPublish();
}

void StatusReporter::ArmProbe() {
  if (options_.lag_probe <= runtime::Duration::zero()) return;
  const runtime::TimePoint due = loop_.Now() + options_.lag_probe;
  probe_.StartAt(due, [this, due] {
    lag_.Observe(std::chrono::duration<double>(loop_.Now() - due).count());
    ArmProbe();
  });
}

void StatusReporter::ArmPublish() {
  if (options_.interval <= runtime::Duration::zero()) return;
  publish_.Start(options_.interval, [this] {
    Publish();
    ArmPublish();
  });
}

void StatusReporter::Publish() {
  auto status = std::make_shared<WorkerStatus>();
  status->taken_at = loop_.Now();
  consumer_.Report(status->taken_at, *status);
  status->loop_lag = lag_.data();
  slot_.Publish(std::move(status));
}

}  // namespace mandrill::worker
