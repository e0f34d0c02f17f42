// mandrill-publish: parse the command line, pick the message source, run the publisher,
// print the summary, exit with the documented code (see --help).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <exception>
#include <iostream>
#include <memory>

#include "publisher/message_source.h"
#include "publisher/publish_options.h"
#include "publisher/publish_summary.h"
#include "publisher/publisher.h"
#include "publisher/stop_signal.h"
#include "shared/core/clock.h"
#include "shared/core/logging.h"
#include "shared/protocol/limits.h"

namespace {

std::unique_ptr<mandrill::publisher::MessageSource> MakeSource(
    const mandrill::publisher::PublishOptions& o) {
  using namespace mandrill::publisher;
  if (!o.payloads.empty()) return std::make_unique<ArgsSource>(o.payloads);
  if (o.count) return std::make_unique<GeneratedSource>(*o.count, o.seed, o.payload_bytes);
  return std::make_unique<LineSource>(STDIN_FILENO, mandrill::protocol::Limits{}.max_payload_bytes);
}

int Main(int argc, char** argv) {
  using namespace mandrill::publisher;
  auto parsed = ParsePublishCommandLine(argc, argv, std::cout, std::cerr);
  if (!parsed.options) return parsed.exit_code;
  const PublishOptions& o = *parsed.options;
  if (auto st = mandrill::core::InitLogging("mandrill-publish", o.log_level, ""); !st) {
    std::cerr << "mandrill-publish: --log-level: " << st.message() << std::endl;
    return kExitUsage;
  }
  auto source = MakeSource(o);
  StopSignal stop;
  mandrill::core::SystemClock clock;
  zmq::context_t context(1);
  Publisher publisher(o, *source, context, &stop, clock);
  auto report = publisher.Run();
  if (!report.ok()) {
    std::cerr << "mandrill-publish: " << report.error().message << std::endl;
    return kExitUsage;  // the run could not start (Publisher::Run)
  }
  std::cerr << "mandrill-publish: " << FormatSummaryLine(*report) << std::endl;
  if (o.json_summary) std::cout << FormatSummaryJson(*report) << std::endl;
  return ExitCodeFor(*report);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    // Nothing is known about what was confirmed beyond --confirmed-out: report it as such.
    spdlog::critical("mandrill-publish failed: {}", e.what());
    std::cerr << "mandrill-publish: internal error: " << e.what() << std::endl;
    return mandrill::publisher::kExitUnconfirmed;
  }
}
