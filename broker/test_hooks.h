#pragma once
// Test-only hooks of mandrill-broker, compiled in only with the CMake option
// MANDRILL_TEST_HOOKS (on for Debug builds, which the test suite uses; off for release
// builds, whose --help does not show them). Without it TestHooks does nothing.
//
// --fault-injection: SIGUSR1 toggles failing journal writes (ENOSPC), SIGUSR2 failing syncs
// (EIO), through a FaultInjectingFs under the journal.
#include <functional>
#include <memory>

#include "broker/flags.h"

namespace mandrill::broker {

namespace journal {
class FaultInjectingFs;
}

class TestHooks {
 public:
  TestHooks();
  ~TestHooks();
  // Wires the hooks the flags ask for into the journal's options. Call before opening it.
  void Install(BrokerConfig& config);
  // The reactor's SIGUSR1/SIGUSR2 handler, or empty (those signals are then ignored).
  std::function<void(int)> on_user_signal() const { return on_user_signal_; }

 private:
  std::unique_ptr<journal::FaultInjectingFs> faults_;
  std::function<void(int)> on_user_signal_;
};

}  // namespace mandrill::broker
