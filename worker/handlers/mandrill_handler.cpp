#include "worker/handlers/mandrill_handler.h"

#include <stdexcept>

namespace mandrill::worker {
namespace {

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

core::Result<std::unique_ptr<Handler>> MandrillHandler::Create(const HandlerConfig& config) {
  if (config.restart_max < config.restart_min) {
    return core::Error{core::Errc::kInvalidArgument, "--restart-ms: MAX is below MIN"};
  }
  if (config.fail_rate < 0 || config.fail_rate > 1) {
    return core::Error{core::Errc::kInvalidArgument, "--fail-rate must be between 0 and 1"};
  }
  std::unique_ptr<Ledger> ledger;
  if (!config.ledger_path.empty()) {
    auto opened = Ledger::Open(config.ledger_path, config.worker_name);
    if (!opened.ok()) return core::Error{core::Errc::kInvalidArgument, "--ledger: " + opened.error().message};
    ledger = std::move(opened).value();
  }
  return std::unique_ptr<Handler>(new MandrillHandler(config, std::move(ledger)));
}

MandrillHandler::MandrillHandler(const HandlerConfig& config, std::unique_ptr<Ledger> ledger)
    : restart_min_(config.restart_min),
      restart_max_(config.restart_max),
      fail_rate_(config.fail_rate),
      rng_(config.seed != 0 ? config.seed : std::random_device{}()),
      ledger_(std::move(ledger)) {}

runtime::Task<void> MandrillHandler::Start(HandlerEnv env) {
  if (ledger_) {
    writer_ = std::make_unique<LedgerWriter>(std::move(ledger_), *env.executor);
    writer_->Start(*env.services);
  }
  co_return;
}

runtime::Task<void> MandrillHandler::Stop() {
  if (writer_) co_await writer_->Stop();
}

std::string MandrillHandler::HostOf(std::string_view payload) {
  constexpr std::string_view kVerb = "restart ";
  if (payload.substr(0, kVerb.size()) == kVerb) payload.remove_prefix(kVerb.size());
  return std::string(payload);
}

runtime::Task<void> MandrillHandler::Restart(std::string host, runtime::Duration latency,
                                             bool fails) {
  co_await runtime::Sleep(latency);
  if (fails) throw std::runtime_error("restart of " + host + " failed (simulated)");
}

runtime::Task<void> MandrillHandler::Handle(const Message& msg, Context& ctx) {
  std::uniform_int_distribution<std::int64_t> latency_ms(restart_min_.count(),
                                                         restart_max_.count());
  const runtime::Duration latency = std::chrono::milliseconds(latency_ms(rng_));
  const bool fails =
      fail_rate_ > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < fail_rate_;
  // The restart first, then its outcome in the ledger, then the ack (or nack): a 'restarted' row
  // exists only for a restart that completed. runtime::Cancelled is not a std::exception: a
  // cancelled attempt (timeout, lost lease, shutdown) records nothing and propagates.
  std::exception_ptr failure;
  std::string error;
  try {
    co_await Restart(HostOf(msg.payload), latency, fails);
  } catch (const std::exception& e) {
    failure = std::current_exception();  // recorded below, then rethrown: the message is nacked
    error = e.what();
  }
  if (writer_) {
    LedgerRow row{std::string(msg.id), std::string(msg.queue), msg.attempt, WallMs(),
                  failure == nullptr, std::move(error)};
    co_await writer_->Record(std::move(row));
  }
  if (failure) {
    ctx.Debug("restart failed; recorded as a failed attempt");
    std::rethrow_exception(failure);
  }
}

}  // namespace mandrill::worker
