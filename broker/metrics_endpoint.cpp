#include "broker/metrics_endpoint.h"

#include "broker/broker.h"
#include "broker/metrics_render.h"

namespace mandrill::broker {

MetricsEndpoint::MetricsEndpoint(std::string bind, std::chrono::milliseconds interval,
                                 std::size_t max_queues)
    : interval_(interval),
      max_queues_(max_queues),
      server_(
          std::move(bind), [this] { return Render(); }, [this] { return Readiness(); }) {}

MetricsEndpoint::~MetricsEndpoint() { server_.Stop(); }

core::Status MetricsEndpoint::Start() { return server_.Start(); }

void MetricsEndpoint::MaybePublish(const Broker& broker, core::SteadyTime now) {
  if (now < next_) return;
  next_ = now + interval_;
  slot_.Publish(std::make_shared<const BrokerMetrics>(broker.Metrics(max_queues_)));
}

void MetricsEndpoint::SetNotReady(std::string why) {
  core::MutexLock lock(mu_);
  not_ready_ = std::move(why);
}

std::string MetricsEndpoint::Readiness() const {
  core::MutexLock lock(mu_);
  return not_ready_;
}

std::string MetricsEndpoint::Render() const {
  auto snapshot = slot_.Get();
  std::string text;
  {
    core::MutexLock lock(cache_mu_);
    if (cached_text_.empty() || cached_for_ != snapshot) {
      cached_text_ = RenderBrokerSnapshot(snapshot ? *snapshot : BrokerMetrics{});
      cached_for_ = std::move(snapshot);
    }
    text = cached_text_;
  }
  return WithProcessMetrics(std::move(text));
}

}  // namespace mandrill::broker
