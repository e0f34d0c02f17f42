// mandrill-broker: parse flags, open storage, run the reactor.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "broker/flags.h"
#include "broker/journal/journal.h"
#include "broker/memory_storage.h"
#include "broker/reactor.h"
#include "broker/test_hooks.h"
#include "shared/core/byte_size.h"
#include "shared/core/logging.h"
#include "shared/core/signal_fd.h"
#include "shared/core/thread_name.h"

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitStartFailed = 1;

int Fail(int code, const std::string& message) {
  std::cerr << "mandrill-broker: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mandrill;
  auto parsed = broker::ParseBrokerFlags(argc, argv);
  if (!parsed.config) return parsed.exit_code;
  broker::BrokerConfig& c = *parsed.config;
  if (auto st = core::InitLogging("broker", c.log_level, c.log_file); !st.ok()) {
    return Fail(kExitUsage, st.message());
  }

  // Before any thread exists, so every thread inherits the blocked mask.
  core::SignalFd signals({SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2});
  core::SetThreadName("reactor");

  // Declared before the storage that uses it, so it is destroyed after.
  broker::TestHooks hooks;
  std::unique_ptr<broker::Storage> storage;
  if (c.broker.storage == "memory") {
    storage = std::make_unique<broker::MemoryStorage>();
    spdlog::warn("--storage memory: messages are not persisted; a restart loses them");
  } else {
    hooks.Install(c);
    storage = broker::journal::OpenJournal(c.journal);
  }
  spdlog::info("limits: {} queues, {} dead letters per queue, {} dedup ids, {} peers, {} of "
               "messages (--max-memory)",
               c.broker.max_queues, c.broker.max_dead_letters, c.broker.max_dedup_ids,
               c.broker.max_peers, core::FormatByteSize(c.broker.max_memory));

  zmq::context_t context(1);
  int rc = 0;
  {
    broker::Reactor reactor(c.broker, *storage, context, &signals, hooks.on_user_signal());
    if (auto st = reactor.Start(); !st.ok()) {
      spdlog::critical("{}", st.message());
      return Fail(kExitStartFailed, st.message());
    }
    rc = reactor.Run();
  }
  return rc;
}
