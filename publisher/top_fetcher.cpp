#include "publisher/top_fetcher.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "publisher/admin_client.h"
#include "publisher/fleet_commands.h"

namespace mandrill::publisher {

std::int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

core::Result<TopSample> FetchTopSample(zmq::context_t& context, const CtlOptions& options) {
  if (!options.targets.from_cell_map) {
    const cells::BrokerTarget& broker = options.targets.brokers.front();
    AdminClient client(context, broker.endpoint, options.timeout,
                       CurveFor(options.targets, broker));
    auto stats = FetchStats(client);
    if (!stats.ok()) return stats.error();
    return TopSample{std::move(stats).value(), SteadyMs()};
  }
  const FleetStats fleet = MergeStats(FetchCellStats(context, options));
  TopSample sample = FleetSample(fleet, SteadyMs());
  if (fleet.answered > 0) return sample;
  const auto code = static_cast<CtlErrc>(sample.problem_exit);
  return core::Error{code, "no cell answered: " + sample.problem};
}

TopFetcher::TopFetcher(zmq::context_t& context, const CtlOptions& options)
    : context_(context), options_(options) {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd for top's fetcher");
  }
  thread_ = std::thread([this] { Run(); });
}

TopFetcher::~TopFetcher() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  context_.shutdown();  // a call waiting on the broker returns at once (ETERM)
  thread_.join();
  ::close(event_fd_);
}

void TopFetcher::Start() {
  if (busy_) return;
  busy_ = true;
  {
    core::MutexLock lock(mu_);
    wanted_ = true;
  }
  wake_.notify_all();
}

std::optional<core::Result<TopSample>> TopFetcher::Take() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(event_fd_, &count, sizeof count);  // EAGAIN: none yet
  core::MutexLock lock(mu_);
  if (!result_) return std::nullopt;
  std::optional<core::Result<TopSample>> out = std::move(result_);
  result_.reset();
  busy_ = false;
  return out;
}

void TopFetcher::Run() {
  while (true) {
    {
      core::MutexLock lock(mu_);
      lock.Wait(wake_, [this]() REQUIRES(mu_) { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
    }
    std::optional<core::Result<TopSample>> result;
    try {
      result.emplace(FetchTopSample(context_, options_));
    } catch (const zmq::error_t& e) {
      // The context was shut down under the call (we are stopping), or ZeroMQ failed.
      spdlog::debug("top: STATS call failed: {}", e.what());
      result.emplace(core::Error{CtlErrc::kNoAnswer, std::string("ZeroMQ: ") + e.what()});
    }
    {
      core::MutexLock lock(mu_);
      result_ = std::move(result);
    }
    const std::uint64_t one = 1;
    if (::write(event_fd_, &one, sizeof one) < 0) {
      spdlog::error("top: cannot signal a finished fetch: {}", std::strerror(errno));
    }
  }
}

}  // namespace mandrill::publisher
