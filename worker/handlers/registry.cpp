#include "worker/handlers/registry.h"

#include "worker/handlers/exec_handler.h"
#include "worker/handlers/mandrill_handler.h"
#include "worker/handlers/noop_handler.h"

namespace mandrill::worker {

HandlerRegistry HandlerRegistry::WithBuiltins() {
  HandlerRegistry r;
  r.Register("mandrill",
             "restart the host named in the payload (simulated: --restart-ms, --fail-rate) and "
             "record it in the --ledger, concurrently; ack when both are done",
             &MandrillHandler::Create);
  r.Register("exec",
             "run --exec 'COMMAND' (via /bin/sh -c) with the payload on stdin; exit 0 acks, "
             "anything else nacks with the tail of its stderr",
             &ExecHandler::Create);
  r.Register("noop", "ack at once (benchmarks)", &NoopHandler::Create);
  return r;
}

void HandlerRegistry::Register(std::string name, std::string description,
                               HandlerFactory factory) {
  entries_[std::move(name)] = Entry{std::move(description), std::move(factory)};
}

core::Result<std::unique_ptr<Handler>> HandlerRegistry::Create(const std::string& name,
                                                               const HandlerConfig& config) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
    return core::Error{core::Errc::kInvalidArgument, "--handler '" + name + "': no such handler (known: " + known + ")"};
  }
  return it->second.factory(config);
}

std::vector<std::string> HandlerRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

std::string HandlerRegistry::Describe() const {
  std::string out;
  for (const auto& [name, e] : entries_) out += "  " + name + ": " + e.description + "\n";
  return out;
}

}  // namespace mandrill::worker
