#include "publisher/ctl_commands.h"

#include <ostream>
#include <random>

#include "publisher/admin_client.h"
#include "publisher/fleet_commands.h"
#include "publisher/stats_format.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {
namespace {

std::uint64_t NewRequestId() {
  std::random_device rd;
  const std::uint64_t id = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  return id == 0 ? 1 : id;  // 0 means "no request id" on the wire
}

// `after`: the page to ask for (STATS and QUEUES are paged by queue name).
protocol::Message MakeRequest(const CtlOptions& o, std::uint64_t id, const std::string& after) {
  switch (o.command) {
    case CtlCommand::kStats:
      return protocol::StatsRequest{id, after, 0};
    case CtlCommand::kQueues:
      return protocol::QueuesRequest{id, after, 0};
    case CtlCommand::kDlqList:
      return protocol::DlqListRequest{id, o.queue, o.limit};
    case CtlCommand::kDlqRequeue:
      return protocol::DlqRequeueRequest{id, o.queue, o.ids};
    case CtlCommand::kDlqPurge:
      return protocol::DlqPurgeRequest{id, o.queue, o.ids};
  }
  return protocol::StatsRequest{id, after, 0};
}

// Where the next page starts ("" when `page` was the last), and `page` folded into `all`.
std::string Fold(protocol::Message& all, protocol::Message&& page, bool first) {
  if (first) {
    all = std::move(page);
    if (auto* s = std::get_if<protocol::StatsReply>(&all)) return s->next;
    if (auto* q = std::get_if<protocol::QueuesReply>(&all)) return q->next;
    return {};
  }
  if (auto* s = std::get_if<protocol::StatsReply>(&all)) {
    if (auto* more = std::get_if<protocol::StatsReply>(&page)) {
      for (auto& q : more->queues) s->queues.push_back(std::move(q));
      s->next = more->next;
      return more->next;
    }
  }
  if (auto* q = std::get_if<protocol::QueuesReply>(&all)) {
    if (auto* more = std::get_if<protocol::QueuesReply>(&page)) {
      for (auto& n : more->names) q->names.push_back(std::move(n));
      q->next = more->next;
      return more->next;
    }
  }
  return {};
}

// The rendered reply, or empty when the reply is not the kind the command expects.
std::string Render(const CtlOptions& o, const protocol::Message& m) {
  switch (o.command) {
    case CtlCommand::kStats:
      if (const auto* s = std::get_if<protocol::StatsReply>(&m)) {
        return o.json ? RenderStatsJson(*s) : RenderStatsTable(*s);
      }
      break;
    case CtlCommand::kQueues:
      if (const auto* q = std::get_if<protocol::QueuesReply>(&m)) {
        return o.json ? RenderQueuesJson(*q) : RenderQueuesTable(*q);
      }
      break;
    case CtlCommand::kDlqList:
      if (const auto* d = std::get_if<protocol::DlqListReply>(&m)) {
        return o.json ? RenderDlqJson(*d) : RenderDlqTable(*d);
      }
      break;
    case CtlCommand::kDlqRequeue:
    case CtlCommand::kDlqPurge:
      if (const auto* ok = std::get_if<protocol::AdminOk>(&m)) {
        if (o.json) return RenderAdminOkJson(*ok);
        return RenderAdminOk(*ok, o.command == CtlCommand::kDlqPurge ? "purged" : "requeued",
                             o.queue);
      }
      break;
  }
  return {};
}

std::string Unexpected(const protocol::Message& reply, const CtlOptions& o) {
  return "unexpected " + std::string(protocol::CommandName(protocol::CommandOf(reply))) +
         " in answer to " +
         std::string(protocol::CommandName(protocol::CommandOf(MakeRequest(o, 0, {}))));
}

bool IsReplyTo(const CtlOptions& o, const protocol::Message& m) {
  switch (o.command) {
    case CtlCommand::kStats:
      return std::holds_alternative<protocol::StatsReply>(m);
    case CtlCommand::kQueues:
      return std::holds_alternative<protocol::QueuesReply>(m);
    case CtlCommand::kDlqList:
      return std::holds_alternative<protocol::DlqListReply>(m);
    case CtlCommand::kDlqRequeue:
    case CtlCommand::kDlqPurge:
      return std::holds_alternative<protocol::AdminOk>(m);
  }
  return false;
}

}  // namespace

core::Result<protocol::Message> CallCommand(AdminClient& client, const CtlOptions& o) {
  protocol::Message all;
  std::string after;
  for (bool first = true;; first = false) {
    const std::uint64_t id = NewRequestId();
    auto reply = client.Call(MakeRequest(o, id, after), id);
    if (!reply.ok()) return reply.error();
    if (!IsReplyTo(o, *reply)) return core::Error{CtlErrc::kBrokerError, Unexpected(*reply, o)};
    const std::string next = Fold(all, std::move(reply).value(), first);
    if (next.empty()) return all;
    if (next <= after) {  // a broker that does not move on would keep us here forever
      return core::Error{CtlErrc::kBrokerError, "the broker's pages do not advance (after '" +
                                                    after + "' came '" + next + "')"};
    }
    after = next;
  }
}

core::Result<protocol::StatsReply> FetchStats(AdminClient& client) {
  CtlOptions o;
  o.command = CtlCommand::kStats;
  auto reply = CallCommand(client, o);
  if (!reply.ok()) return reply.error();
  if (auto* s = std::get_if<protocol::StatsReply>(&*reply)) return std::move(*s);
  return core::Error{CtlErrc::kBrokerError, Unexpected(*reply, o)};
}

std::optional<security::ClientKeys> CurveFor(const cells::BrokerTargets& targets,
                                             const cells::BrokerTarget& target) {
  if (!targets.own_key) return std::nullopt;
  return security::ClientKeys{*targets.own_key, target.public_z85};
}

int RunCtl(const CtlOptions& o, zmq::context_t& context, std::ostream& out, std::ostream& err) {
  if (o.targets.from_cell_map) return RunFleetCtl(o, context, out, err);
  const cells::BrokerTarget& broker = o.targets.brokers.front();
  AdminClient client(context, broker.endpoint, o.timeout, CurveFor(o.targets, broker));
  auto all = CallCommand(client, o);
  if (!all.ok()) {
    err << "mandrill-ctl: " << all.error().message << std::endl;
    return CtlExitCode(all.error());
  }
  const std::string text = Render(o, *all);
  if (text.empty()) {
    err << "mandrill-ctl: " << Unexpected(*all, o) << std::endl;
    return kCtlBrokerError;
  }
  out << text << std::flush;
  return kCtlOk;
}

int RunKeygen(const std::string& name, const std::string& dir, std::ostream& out,
              std::ostream& err) {
  auto pair = security::WriteKeyFiles(dir, name);
  if (!pair.ok()) {
    err << "mandrill-ctl: keygen: " << pair.error().message << std::endl;
    return kCtlBrokerError;  // 1: nothing was written (WriteKeyFiles leaves no half pair)
  }
  // The same path WriteKeyFiles wrote, so what is printed can be copied as is.
  const std::string base = (dir.empty() ? "." : dir) + "/" + name;
  out << "wrote " << base << ".key (secret: keep it on this host, mode 0600)\n"
      << "wrote " << base << ".pub (public: for the broker's auth file or --broker-key)\n"
      << "public key: " << pair->public_z85 << std::endl;
  return kCtlOk;
}

}  // namespace mandrill::publisher
