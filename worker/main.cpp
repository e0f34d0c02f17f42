// mandrill-worker: leases messages from a mandrill-broker and runs a handler on each inside the
// supervised coroutine loop (worker/app/worker_app.h has the architecture). A program with
// handlers of its own does the same with its own registry (worker/worker_main.h).
#include "worker/handlers/registry.h"
#include "worker/worker_main.h"

int main(int argc, char** argv) {
  return mandrill::worker::Main(argc, argv, mandrill::worker::HandlerRegistry::WithBuiltins());
}
