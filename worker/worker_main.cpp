// mandrill::worker::Main: flags, logging, the chosen handler, then the WorkerApp's run.
#include "worker/worker_main.h"

#include <iostream>

#include "shared/core/logging.h"
#include "worker/app/flags.h"
#include "worker/app/worker_app.h"

namespace mandrill::worker {

int Main(int argc, char** argv, const HandlerRegistry& registry) {
  auto flags = ParseFlags(argc, argv, registry);
  if (flags.exit_code >= 0) {
    if (!flags.error.empty()) std::cerr << "mandrill-worker: " << flags.error << "\n";
    return flags.exit_code;
  }
  WorkerOptions& o = flags.options;
  if (auto st = core::InitLogging("worker", o.log_level, o.log_file); !st.ok()) {
    std::cerr << "mandrill-worker: " << st.message() << "\n";
    return 64;
  }
  auto handler = registry.Create(o.handler, o.handler_config);
  if (!handler.ok()) {
    std::cerr << "mandrill-worker: " << handler.error().message << "\n";
    return 64;
  }
  WorkerApp app(std::move(o), std::move(handler).value());
  return app.Run();
}

}  // namespace mandrill::worker
