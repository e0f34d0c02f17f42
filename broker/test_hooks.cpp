#include "broker/test_hooks.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>

#include "broker/journal/fault_fs.h"

namespace mandrill::broker {

TestHooks::TestHooks() = default;
TestHooks::~TestHooks() = default;

void TestHooks::Install(BrokerConfig& config) {
#ifdef MANDRILL_TEST_HOOKS
  if (!config.fault_injection) return;
  faults_ = std::make_unique<journal::FaultInjectingFs>();
  config.journal.fs = faults_.get();
  on_user_signal_ = [f = faults_.get(), writes = false, syncs = false, changes = 0](int sig) mutable {
    bool& failing = sig == SIGUSR1 ? writes : syncs;
    failing = !failing;
    f->ClearFaults();
    if (writes) f->FailAllWrites(ENOSPC);
    if (syncs) f->FailAllSyncs(EIO);
    spdlog::warn("fault injection #{}: journal writes {}, syncs {}", ++changes,
                 writes ? "FAIL" : "ok", syncs ? "FAIL" : "ok");
  };
  spdlog::warn("fault injection enabled (--fault-injection): for tests only");
#else
  (void)config;
#endif
}

}  // namespace mandrill::broker
