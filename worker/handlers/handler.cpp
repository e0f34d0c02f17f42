#include "worker/handlers/handler.h"

namespace mandrill::worker {

runtime::Task<void> Handler::Start(HandlerEnv /*env*/) { co_return; }

runtime::Task<void> Handler::Stop() { co_return; }

}  // namespace mandrill::worker
