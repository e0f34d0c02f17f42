#pragma once
// mandrill (the default handler), the running example: "restart host cattle-x7q2". For each
// message it restarts the host named in the payload — simulated: a sleep of --restart-ms MIN:MAX
// that fails with probability --fail-rate — then records the attempt's outcome in the SQLite
// ledger (--ledger; batched, off the loop: LedgerWriter): 'restarted' before the ack, 'failed'
// with its error before the nack. So a 'restarted' row means "this restart completed here"; a
// failed attempt has a 'failed' row and is retried; a cancelled one (timeout, lost lease,
// shutdown) has none. Ledger rows used to be written concurrently with the restart, leaving rows
// for attempts that then failed or were cancelled (issue 11).
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

  std::chrono::milliseconds restart_min_, restart_max_;
  double fail_rate_;
  std::mt19937_64 rng_;
  std::unique_ptr<Ledger> ledger_;        // until Start hands it to the writer
  std::unique_ptr<LedgerWriter> writer_;  // null without --ledger
};

}  // namespace mandrill::worker
