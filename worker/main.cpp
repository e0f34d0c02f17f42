// mandrill-worker: leases messages from a mandrill-broker and runs a handler on each inside the
// supervised coroutine loop (worker/app/worker_app.h has the architecture).
#include <iostream>

#include "shared/core/logging.h"
#include "worker/app/flags.h"
#include "worker/app/worker_app.h"
#include "worker/handlers/registry.h"

int main(int argc, char** argv) {
  using namespace mandrill;
  const auto registry = worker::HandlerRegistry::WithBuiltins();
  auto flags = worker::ParseFlags(argc, argv, registry);
  if (flags.exit_code >= 0) {
    if (!flags.error.empty()) std::cerr << "mandrill-worker: " << flags.error << "\n";
    return flags.exit_code;
  }
  worker::WorkerOptions& o = flags.options;
  if (auto st = core::InitLogging("worker", o.log_level, o.log_file); !st.ok()) {
    std::cerr << "mandrill-worker: " << st.message() << "\n";
    return 64;
  }
  auto handler = registry.Create(o.handler, o.handler_config);
  if (!handler.ok()) {
    std::cerr << "mandrill-worker: " << handler.error().message << "\n";
    return 64;
  }
  worker::WorkerApp app(std::move(o), std::move(handler).value());
  return app.Run();
}
