#include "publisher/cell_calls.h"

#include <optional>
#include <thread>

#include "publisher/ctl_commands.h"

namespace mandrill::publisher {

std::vector<CellReply> CallEveryCell(
    zmq::context_t& context, const cells::BrokerTargets& targets, std::chrono::milliseconds timeout,
    const std::function<core::Result<protocol::Message>(AdminClient&)>& exchange) {
  // Each thread writes only its own slot; join() makes the writes visible here.
  std::vector<std::optional<core::Result<protocol::Message>>> slots(targets.brokers.size());
  std::vector<std::thread> threads;
  threads.reserve(targets.brokers.size());
  for (std::size_t i = 0; i < targets.brokers.size(); ++i) {
    threads.emplace_back([&, i] {
      const cells::BrokerTarget& target = targets.brokers[i];
      try {
        AdminClient client(context, target.endpoint, timeout, CurveFor(targets, target));
        slots[i].emplace(exchange(client));
      } catch (const zmq::error_t& e) {
        slots[i].emplace(core::Error{CtlErrc::kNoAnswer, std::string("ZeroMQ: ") + e.what()});
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<CellReply> replies;
  replies.reserve(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    replies.push_back(
        CellReply{targets.brokers[i].name, targets.brokers[i].endpoint, std::move(*slots[i])});
  }
  return replies;
}

}  // namespace mandrill::publisher
