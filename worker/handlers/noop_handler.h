#pragma once
// noop: acks every message at once. For benchmarks of the worker's own overhead.
#include <memory>

#include "shared/core/result.h"
#include "worker/handlers/handler.h"
#include "worker/handlers/registry.h"

namespace mandrill::worker {

class NoopHandler final : public Handler {
 public:
  static core::Result<std::unique_ptr<Handler>> Create(const HandlerConfig&) {
    return std::unique_ptr<Handler>(new NoopHandler());
  }
  runtime::Task<void> Handle(const Message&, Context&) override { co_return; }
};

}  // namespace mandrill::worker
