#include "publisher/fleet_commands.h"

#include <ostream>

#include "publisher/cell_calls.h"
#include "publisher/fleet_format.h"

namespace mandrill::publisher {
namespace {

// `options.command` on every cell, each reply as the kind the command expects (CallCommand
// guarantees the kind).
template <typename Reply>
std::vector<CellAnswer<Reply>> AskEveryCell(zmq::context_t& context, const CtlOptions& options) {
  auto replies = CallEveryCell(context, options.targets, options.timeout,
                               [&options](AdminClient& c) { return CallCommand(c, options); });
  std::vector<CellAnswer<Reply>> answers;
  answers.reserve(replies.size());
  for (auto& r : replies) {
    if (r.reply.ok()) {
      answers.push_back({r.cell, r.endpoint, std::get<Reply>(std::move(r.reply).value())});
    } else {
      answers.push_back({r.cell, r.endpoint, r.reply.error()});
    }
  }
  return answers;
}

// The exit code and the summary line on `err` for cells that failed.
int Finish(const std::vector<CellCount>& cells, bool unknown_everywhere, const std::string& queue,
           std::ostream& err) {
  std::vector<int> codes;
  std::string failed;
  for (const auto& c : cells) {
    if (c.answered) continue;
    codes.push_back(c.exit_code);
    failed += (failed.empty() ? "" : ", ") + c.cell + " " + CellStateName(false, c.exit_code);
  }
  if (!failed.empty()) {
    err << "mandrill-ctl: " << codes.size() << " of " << cells.size() << " cells failed (" << failed
        << ")" << std::endl;
  }
  if (unknown_everywhere) {
    err << "mandrill-ctl: no queue named '" << queue << "' on any cell that answered" << std::endl;
    codes.push_back(kCtlBrokerError);
  }
  return FleetExitCode(codes);
}

std::vector<CellCount> AsCounts(const std::vector<CellSummary>& cells) {
  std::vector<CellCount> out;
  for (const auto& c : cells) {
    CellCount n;
    n.cell = c.cell;
    n.answered = c.answered;
    n.message = c.error;
    n.exit_code = c.exit_code;
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

std::vector<CellAnswer<protocol::StatsReply>> FetchCellStats(zmq::context_t& context,
                                                             const CtlOptions& options) {
  CtlOptions o = options;
  o.command = CtlCommand::kStats;
  return AskEveryCell<protocol::StatsReply>(context, o);
}

int RunFleetCtl(const CtlOptions& o, zmq::context_t& context, std::ostream& out,
                std::ostream& err) {
  switch (o.command) {
    case CtlCommand::kStats: {
      const FleetStats f = MergeStats(FetchCellStats(context, o));
      out << (o.json ? RenderFleetStatsJson(f) : RenderFleetStatsTable(f)) << std::flush;
      return Finish(AsCounts(f.cells), false, {}, err);
    }
    case CtlCommand::kQueues: {
      const FleetQueues f = MergeQueues(AskEveryCell<protocol::QueuesReply>(context, o));
      out << (o.json ? RenderFleetQueuesJson(f) : RenderFleetQueuesTable(f)) << std::flush;
      return Finish(f.cells, false, {}, err);
    }
    case CtlCommand::kDlqList: {
      const FleetDlq f =
          MergeDlqLists(o.queue, AskEveryCell<protocol::DlqListReply>(context, o), o.limit);
      if (!f.unknown_everywhere) {
        out << (o.json ? RenderFleetDlqJson(f) : RenderFleetDlqTable(f)) << std::flush;
      }
      return Finish(f.cells, f.unknown_everywhere, o.queue, err);
    }
    case CtlCommand::kDlqRequeue:
    case CtlCommand::kDlqPurge: {
      const FleetAdminOk f = MergeAdminOks(o.ids, AskEveryCell<protocol::AdminOk>(context, o));
      if (!f.unknown_everywhere) {
        const char* verb = o.command == CtlCommand::kDlqPurge ? "purged" : "requeued";
        out << (o.json ? RenderFleetAdminOkJson(f) : RenderFleetAdminOk(f, verb, o.queue))
            << std::flush;
      }
      return Finish(f.cells, f.unknown_everywhere, o.queue, err);
    }
  }
  return kCtlUsage;
}

}  // namespace mandrill::publisher
