// mandrill-ctl: look at and manage a running mandrill-broker, or every cell of a fleet.
//   mandrill-ctl --broker tcp://127.0.0.1:5555 stats [--json]
//   mandrill-ctl --cells FILE stats          (every cell: totals, then a line per cell)
//   mandrill-ctl ... top [--once] [--interval 1s]    (live queues, workers, tasks; q quits)
//   mandrill-ctl ... queues | dlq list QUEUE [--limit N] | dlq requeue QUEUE [ID...] |
//                    dlq purge QUEUE [ID...]
//   mandrill-ctl keygen NAME [--dir DIR]     (a CURVE key pair: DIR/NAME.key, DIR/NAME.pub)
// With CURVE: --key FILE (this client's secret key) --broker-key FILE (the broker's .pub).
// With --cells, --key is this client's key and each cell's public key is in the map.
// Exit codes: 0 success, 1 the broker answered with an error, 2 no answer, 64 usage; with
// --cells, the worst of the cells' (2 if any cell did not answer; the others are still shown).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "publisher/admin_client.h"
#include "publisher/ctl_commands.h"
#include "publisher/flag_values.h"
#include "publisher/top_command.h"
#include "shared/cells/broker_targets.h"
#include "shared/core/logging.h"
#include "shared/protocol/codec.h"

namespace {

using mandrill::publisher::CtlCommand;
using mandrill::publisher::kCtlUsage;

int Usage(const std::string& what) {
  std::cerr << "mandrill-ctl: " << what << " (see mandrill-ctl --help)" << std::endl;
  return kCtlUsage;
}

int Main(int argc, char** argv) {
  mandrill::publisher::CtlOptions o;
  mandrill::publisher::TopOptions top_options;
  std::string timeout = "5s", limit = "100", log_level = "warn", interval = "1s";
  CLI::App app{
      "Look at and manage a running mandrill-broker, or with --cells FILE every cell of a\n"
      "fleet: stats, top, queues and dlq list show the totals and each cell's part; dlq\n"
      "requeue and purge go to every cell. All cells are asked at once, so a cell that does\n"
      "not answer costs one --timeout, and what the others said is still shown. A cell\n"
      "without the queue a dlq command names is not a failure; a queue on no cell is.\n\n"
      "Exit codes: 0 success; 1 the broker answered with an error; 2 no answer within\n"
      "--timeout; 64 usage error. With --cells: 0 only when every cell answered, else the\n"
      "worst of the cells' codes (64 over 2 over 1).",
      "mandrill-ctl"};
  std::string broker, cells_file, key_file, broker_key_file, key_name, key_dir = ".";
  // Not ->required(): keygen runs without a broker; the other commands check it below.
  app.add_option("--broker", broker, "Broker endpoint, e.g. tcp://127.0.0.1:5555 (all but keygen)")
      ->envname("MANDRILL_BROKER");
  app.add_option("--cells", cells_file,
                 "Cell map FILE (NAME ENDPOINT [PUBLIC_KEY_FILE] per line) instead of --broker: "
                 "ask every cell");
  app.add_option("--key", key_file, "This client's CURVE secret key file (mandrill-ctl keygen)");
  app.add_option("--broker-key", broker_key_file,
                 "The broker's CURVE public key file (NAME.pub); with --cells, the map names them");
  app.add_option("--timeout", timeout, "How long to wait for the answer [5s]");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off [warn]");
  app.require_subcommand(1);

  auto* stats = app.add_subcommand("stats", "Queues, workers and broker counters");
  stats->add_flag("--json", o.json, "One JSON object instead of tables");
  auto* top = app.add_subcommand(
      "top", "Live view of queues, workers and in-flight tasks (full screen; q quits)");
  top->add_flag("--once", top_options.once,
                "Print one frame as plain text (two samples --interval apart) and exit");
  top->add_option("--interval", interval, "Time between refreshes [1s]");
  auto* queues = app.add_subcommand(
      "queues", "Names of the broker's queues (with --cells: of every cell, and which hold each)");
  queues->add_flag("--json", o.json, "JSON instead of one name per line");
  auto* dlq = app.add_subcommand("dlq", "Dead letters of a queue");
  dlq->require_subcommand(1);
  auto* list = dlq->add_subcommand("list", "Show dead letters of QUEUE");
  list->add_option("queue", o.queue, "Queue name")->required();
  list->add_option("--limit", limit, "Show at most N [100]");
  list->add_flag("--json", o.json, "JSON instead of a table");
  auto* requeue = dlq->add_subcommand("requeue", "Put dead letters back on QUEUE (all if no ID)");
  requeue->add_option("queue", o.queue, "Queue name")->required();
  requeue->add_option("ids", o.ids, "Message ids (default: all)");
  requeue->add_flag("--json", o.json, "JSON output");
  auto* purge = dlq->add_subcommand("purge", "Delete dead letters of QUEUE (all if no ID)");
  purge->add_option("queue", o.queue, "Queue name")->required();
  purge->add_option("ids", o.ids, "Message ids (default: all)");
  purge->add_flag("--json", o.json, "JSON output");
  auto* keygen = app.add_subcommand(
      "keygen", "Write a CURVE key pair: DIR/NAME.key (secret, 0600) and DIR/NAME.pub (public)");
  keygen->add_option("name", key_name, "Key name (the auth file's NAME, say)")->required();
  keygen->add_option("--dir", key_dir, "Directory to write into [.]");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Usage(e.what());
  }
  if (*keygen) return mandrill::publisher::RunKeygen(key_name, key_dir, std::cout, std::cerr);
  // MANDRILL_BROKER from the environment gives way to an explicit --cells (as for
  // mandrill-publish).
  const char* env = std::getenv("MANDRILL_BROKER");
  if (!cells_file.empty() && env != nullptr && broker == env) broker.clear();
  auto targets =
      mandrill::cells::ResolveBrokerTargets(broker, cells_file, key_file, broker_key_file);
  if (!targets.ok()) return Usage(targets.error().message);
  o.targets = std::move(*targets);
  auto t = mandrill::publisher::ParseDurationFlag("--timeout", timeout);
  if (!t.ok()) return Usage(t.error().message);
  o.timeout = *t;
  if (*top) {
    auto i = mandrill::publisher::ParseDurationFlag("--interval", interval);
    if (!i.ok()) return Usage(i.error().message);
    top_options.interval = *i;
  }
  if (*stats) o.command = CtlCommand::kStats;
  if (*queues) o.command = CtlCommand::kQueues;
  if (*list) {
    o.command = CtlCommand::kDlqList;
    auto n = mandrill::publisher::ParseUnsignedFlag("--limit", limit, 1, 100'000);
    if (!n.ok()) return Usage(n.error().message);
    o.limit = static_cast<std::uint32_t>(*n);
  }
  if (*requeue) o.command = CtlCommand::kDlqRequeue;
  if (*purge) o.command = CtlCommand::kDlqPurge;
  if (*dlq) {
    if (auto e = mandrill::protocol::CheckQueueName(o.queue); !e.empty()) {
      return Usage("queue '" + o.queue + "': " + e);
    }
  }
  if (auto st = mandrill::core::InitLogging("mandrill-ctl", log_level, ""); !st) {
    return Usage("--log-level: " + st.message());
  }
  zmq::context_t context(1);
  if (*top) return mandrill::publisher::RunTop(o, top_options, context, std::cout, std::cerr);
  return mandrill::publisher::RunCtl(o, context, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    spdlog::critical("mandrill-ctl failed: {}", e.what());
    std::cerr << "mandrill-ctl: internal error: " << e.what() << std::endl;
    return mandrill::publisher::kCtlBrokerError;
  }
}
