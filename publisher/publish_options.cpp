#include "publisher/publish_options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <ostream>
#include <random>

#include "publisher/flag_values.h"
#include "publisher/host_names.h"
#include "shared/protocol/codec.h"
#include "shared/protocol/limits.h"

namespace mandrill::publisher {
namespace {

constexpr char kDescription[] =
    R"(Publish messages to a mandrill-broker queue and wait for each confirm.

Messages come from the PAYLOAD arguments (one each), else from --count (generated
"restart cattle-xxxx" requests), else from stdin (one per line; empty lines skipped).
Each message gets an id "<prefix>-<n>" (or --id); a re-send reuses it, so the broker
stores it once. Unconfirmed messages are re-sent after --confirm-timeout; queue-full,
storage and shutdown refusals are retried with backoff, as is a broker that is not up yet.

Exit codes: 0 all confirmed; 1 some refused permanently; 2 some never confirmed
(gave up after --give-up without progress, or interrupted); 64 usage error.
SIGINT/SIGTERM: stop sending, wait --grace for confirms, then summarize and exit.)";

// Raw text of the flags that need strict parsing.
struct RawFlags {
  std::string count, rate, seed, payload_bytes, window, batch;
  std::string confirm_timeout = "5s", give_up = "60s", grace = "2s", cell_failover = "2s";
  std::vector<std::string> headers;
  std::string id;
  std::string key, broker_key;
};

core::Status Resolve(const RawFlags& raw, const CLI::App& app, PublishOptions& o) {
  using protocol::Limits;
  auto take = [](auto result, auto& into) -> core::Status {
    if (!result.ok()) return result.error();
    into = static_cast<std::remove_reference_t<decltype(into)>>(*result);
    return core::Status::Ok();
  };
  if (auto e = protocol::CheckQueueName(o.queue); !e.empty()) {
    return core::Error{core::Errc::kInvalidArgument, "--queue '" + o.queue + "': " + e};
  }
  if (app.count("--id") > 0) {
    if (auto e = protocol::CheckMessageId(raw.id); !e.empty()) {
      return core::Error{core::Errc::kInvalidArgument, "--id '" + raw.id + "': " + e};
    }
    if (o.payloads.size() != 1) {
      return core::Error{core::Errc::kInvalidArgument,
                         "--id names one message: give exactly one PAYLOAD argument with it"};
    }
    o.id = raw.id;
  }
  if (app.count("--count") > 0) {
    std::uint64_t n = 0;
    if (auto st = take(ParseUnsignedFlag("--count", raw.count, 0, UINT64_MAX / 2), n); !st) {
      return st;
    }
    if (!o.payloads.empty()) {
      return core::Error{core::Errc::kInvalidArgument,
                         "--count generates messages: do not also give PAYLOAD arguments"};
    }
    o.count = n;
  }
  if (app.count("--rate") > 0) {
    if (auto st = take(ParseNonNegativeFlag("--rate", raw.rate), o.rate); !st) return st;
  }
  if (app.count("--seed") > 0) {
    if (auto st = take(ParseUnsignedFlag("--seed", raw.seed, 0, UINT64_MAX), o.seed); !st) {
      return st;
    }
  } else {
    o.seed = RandomSeed();
  }
  if (app.count("--payload-bytes") > 0) {
    if (auto st = take(
            ParseUnsignedFlag("--payload-bytes", raw.payload_bytes, 0, Limits{}.max_payload_bytes),
            o.payload_bytes);
        !st) {
      return st;
    }
  }
  if (auto st =
          take(ParseUnsignedFlag("--window", raw.window.empty() ? "1000" : raw.window, 1, 100'000),
               o.window);
      !st) {
    return st;
  }
  if (auto st = take(ParseUnsignedFlag("--batch", raw.batch.empty() ? "1000" : raw.batch, 1,
                                       Limits{}.max_batch),
                     o.batch);
      !st) {
    return st;
  }
  if (auto st =
          take(ParseDurationFlag("--confirm-timeout", raw.confirm_timeout), o.confirm_timeout);
      !st) {
    return st;
  }
  if (auto st = take(ParseDurationFlag("--give-up", raw.give_up), o.give_up); !st) return st;
  if (auto st = take(ParseDurationFlag("--grace", raw.grace, true), o.grace); !st) return st;
  for (const auto& h : raw.headers) {
    auto kv = ParseHeaderFlag(h);
    if (!kv.ok()) return kv.error();
    o.headers.push_back(*kv);
  }
  if (app.count("--id-prefix") > 0) {
    // The id must stay valid with "-<n>" appended.
    if (auto e = protocol::CheckMessageId(o.id_prefix + "-1");
        !e.empty() || o.id_prefix.empty() || o.id_prefix.size() > 200) {
      return core::Error{
          core::Errc::kInvalidArgument,
          "--id-prefix '" + o.id_prefix + "': use 1 to 200 printable characters without spaces"};
    }
  } else {
    std::mt19937_64 rng(RandomSeed());
    o.id_prefix = RandomToken(rng, 8);
  }
  if (auto st = take(ParseDurationFlag("--cell-failover", raw.cell_failover), o.cell_failover);
      !st) {
    return st;
  }
  // MANDRILL_BROKER from the environment gives way to an explicit --cells.
  std::string broker = o.broker;
  const char* env = std::getenv("MANDRILL_BROKER");
  if (!o.cells_file.empty() && env != nullptr && broker == env) broker.clear();
  auto targets = cells::ResolveBrokerTargets(broker, o.cells_file, raw.key, raw.broker_key);
  if (!targets.ok()) return targets.error();
  o.targets = std::move(*targets);
  return core::Status::Ok();
}

}  // namespace

ParsedCommandLine ParsePublishCommandLine(int argc, const char* const* argv, std::ostream& out,
                                          std::ostream& err) {
  PublishOptions o;
  RawFlags raw;
  CLI::App app{kDescription, "mandrill-publish"};
  app.option_defaults()->always_capture_default();
  app.add_option("--broker", o.broker, "Broker endpoint, e.g. tcp://127.0.0.1:5555")
      ->envname("MANDRILL_BROKER");
  app.add_option("--cells", o.cells_file,
                 "Cell map FILE (NAME ENDPOINT [PUBLIC_KEY_FILE] per line) instead of --broker: "
                 "each message goes to the cell its id hashes to");
  app.add_option("--cell-failover", raw.cell_failover,
                 "With --cells: send a cell's messages to their next cell once it has been "
                 "unreachable this long [2s]");
  app.add_option("--queue", o.queue, "Queue to publish to")->required();
  app.add_option("--id", raw.id, "Id of the single message (one PAYLOAD argument)");
  app.add_option("--id-prefix", o.id_prefix,
                 "Prefix of generated ids <prefix>-<n> (default: random per run)");
  app.add_option("--count", raw.count, "Generate N restart requests instead of reading input");
  app.add_option("--rate", raw.rate, "Messages per second (0 or absent: as fast as possible)");
  app.add_option("--seed", raw.seed, "Seed for generated host names (default: random)");
  app.add_option("--payload-bytes", raw.payload_bytes,
                 "Pad generated payloads to this many bytes (throughput runs)");
  app.add_option("--header,--headers", raw.headers, "Header key=value (repeatable)")
      ->allow_extra_args(false);  // one value per flag: the next word is a payload
  app.add_option("--window", raw.window, "Most unconfirmed messages in flight [1000]");
  app.add_option("--batch", raw.batch, "Most messages per PUBLISH frame [1000]");
  app.add_option("--confirm-timeout", raw.confirm_timeout,
                 "Re-send a message unconfirmed this long [5s]");
  app.add_option("--give-up", raw.give_up, "Give up after this long without progress [60s]");
  app.add_option("--grace", raw.grace, "After SIGINT/SIGTERM, wait this long for confirms [2s]");
  app.add_option("--confirmed-out", o.confirmed_out,
                 "Append each confirmed id to FILE, one per line, as confirms arrive");
  app.add_flag("--progress", o.progress, "Print a progress line to stderr every second");
  app.add_flag("--json-summary", o.json_summary, "Also print the summary as JSON on stdout");
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off [warn]");
  app.add_option("--key", raw.key, "This client's CURVE secret key file (mandrill-ctl keygen)");
  app.add_option("--broker-key", raw.broker_key, "The broker's CURVE public key file (NAME.pub)");
  app.add_option("payload", o.payloads, "Message payloads (one message each)");

  auto usage = [&](const std::string& what) {
    err << "mandrill-publish: " << what << " (see mandrill-publish --help)" << std::endl;
    return ParsedCommandLine{std::nullopt, kExitUsage};
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return ParsedCommandLine{std::nullopt, 0};
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }
  if (auto st = Resolve(raw, app, o); !st.ok()) return usage(st.message());
  return ParsedCommandLine{std::move(o), 0};
}

}  // namespace mandrill::publisher
