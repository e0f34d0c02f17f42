#pragma once
// mandrill (the default handler), the running example: "restart host cattle-x7q2". For each
// message it concurrently (two sub-tasks, ctx.Spawn) restarts the host named in the payload —
// simulated: a sleep of --restart-ms MIN:MAX that fails with probability --fail-rate — and
// records the delivery in the SQLite ledger (--ledger; batched, off the loop: LedgerWriter). The
// message is acked only when both are done; if either fails the other is cancelled and the
// message is nacked with the failure's text. A ledger row therefore means "this attempt was
// processed here"; a failed restart whose row was already committed leaves a row for an attempt
// that is retried (at-least-once: count distinct message ids).
//
// Loop thread. The random source is the loop thread's alone.
#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "shared/core/result.h"
#include "worker/handlers/handler.h"
#include "worker/handlers/registry.h"
#include "worker/ledger/ledger.h"
#include "worker/ledger/ledger_writer.h"

namespace mandrill::worker {

class MandrillHandler final : public Handler {
 public:
  // Opens the ledger now, so a bad --ledger fails before the worker connects.
  static core::Result<std::unique_ptr<Handler>> Create(const HandlerConfig& config);

  runtime::Task<void> Start(HandlerEnv env) override;
  runtime::Task<void> Stop() override;
  runtime::Task<void> Handle(const Message& msg, Context& ctx) override;

  // "restart cattle-x7q2" -> "cattle-x7q2"; any other payload is the host name itself.
  static std::string HostOf(std::string_view payload);

 private:
  MandrillHandler(const HandlerConfig& config, std::unique_ptr<Ledger> ledger);
  static runtime::Task<void> Restart(std::string host, runtime::Duration latency, bool fails);
  static runtime::Task<void> Record(LedgerWriter* writer, LedgerRow row);

  std::chrono::milliseconds restart_min_, restart_max_;
  double fail_rate_;
  std::mt19937_64 rng_;
  std::unique_ptr<Ledger> ledger_;        // until Start hands it to the writer
  std::unique_ptr<LedgerWriter> writer_;  // null without --ledger
};

}  // namespace mandrill::worker
