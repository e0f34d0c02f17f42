#include "worker/app/flags.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace mandrill::worker {
namespace {

ParsedFlags Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "mandrill-worker");
  static const HandlerRegistry registry = HandlerRegistry::WithBuiltins();
  return ParseFlags(static_cast<int>(args.size()), args.data(), registry);
}

TEST(WorkerFlagsTest, DefaultsAreTheOptionsStructsDefaults) {
  const auto p = Parse({});
  ASSERT_EQ(p.exit_code, -1) << p.error;
  const WorkerOptions& o = p.options;
  EXPECT_EQ(o.broker, "tcp://127.0.0.1:5555");
  EXPECT_EQ(o.queues, std::vector<std::string>{"restarts"});
  EXPECT_EQ(o.handler, "mandrill");
  EXPECT_EQ(o.concurrency, 16u);
  EXPECT_EQ(o.grace, std::chrono::seconds(30));
  EXPECT_EQ(o.drain, DrainMode::kWait);
  EXPECT_EQ(o.handler_config.restart_min, std::chrono::milliseconds(50));
  EXPECT_EQ(o.handler_config.restart_max, std::chrono::milliseconds(200));
  EXPECT_FALSE(o.name.empty());
  EXPECT_EQ(o.handler_config.worker_name, o.name);
}

TEST(WorkerFlagsTest, BrokerTestFlagsStillWork) {
  const auto p = Parse({"--broker", "tcp://127.0.0.1:7777", "--queue", "restarts,audits",
                        "--concurrency", "5", "--restart-ms", "60000:60000", "--name", "doomed"});
  ASSERT_EQ(p.exit_code, -1) << p.error;
  EXPECT_EQ(p.options.broker, "tcp://127.0.0.1:7777");
  EXPECT_EQ(p.options.queues, (std::vector<std::string>{"restarts", "audits"}));
  EXPECT_EQ(p.options.concurrency, 5u);
  EXPECT_EQ(p.options.handler_config.restart_min, std::chrono::milliseconds(60000));
  EXPECT_EQ(p.options.name, "doomed");
  EXPECT_EQ(p.options.handler_config.worker_name, "doomed");
}

TEST(WorkerFlagsTest, DurationsTakeUnits) {
  const auto p = Parse({"--grace", "2m", "--handler-timeout", "1500ms", "--retry-initial", "2s",
                        "--exec-kill-grace", "250", "--drain", "nack"});
  ASSERT_EQ(p.exit_code, -1) << p.error;
  EXPECT_EQ(p.options.grace, std::chrono::minutes(2));
  EXPECT_EQ(p.options.handler_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(p.options.retry_initial, std::chrono::seconds(2));
  EXPECT_EQ(p.options.handler_config.kill_grace, std::chrono::milliseconds(250));
  EXPECT_EQ(p.options.drain, DrainMode::kNack);
}

TEST(WorkerFlagsTest, BadValuesAreUsageErrorsNamingTheFlag) {
  struct Case {
    std::vector<const char*> args;
    std::string mentions;
  };
  for (const auto& c : std::vector<Case>{{{"--restart-ms", "200:100"}, "--restart-ms"},
                                         {{"--grace", "soon"}, "--grace"},
                                         {{"--handler-timeout", "0"}, "--handler-timeout"},
                                         {{"--drain", "maybe"}, "--drain"},
                                         {{"--concurrency", "0"}, "--concurrency"},
                                         {{"--queue", ","}, "--queue"},
                                         {{"--fail-rate", "2"}, "--fail-rate"},
                                         {{"--queue", "bad name"}, "--queue: queue name"},
                                         {{"--queue", "ok,b@d"}, "'b@d'"},
                                         {{"--broker", "nonsense"}, "--broker 'nonsense'"},
                                         {{"--broker", "tcp://127.0.0.1:99999"}, "port"}}) {
    const auto p = Parse(c.args);
    EXPECT_EQ(p.exit_code, 64) << c.mentions;
    EXPECT_NE(p.error.find(c.mentions), std::string::npos) << p.error;
  }
}

TEST(WorkerFlagsTest, HandlerArgsReachTheHandlerConfigAndBadOnesAreUsageErrors) {
  const auto p = Parse({"--handler-arg", "out=/tmp/x=y", "--handler-arg", "mode=", "--handler-arg",
                        "level=3"});
  ASSERT_EQ(p.exit_code, -1) << p.error;
  EXPECT_EQ(p.options.handler_config.args,
            (std::map<std::string, std::string>{{"out", "/tmp/x=y"}, {"mode", ""}, {"level", "3"}}));
  EXPECT_TRUE(Parse({}).options.handler_config.args.empty());
  for (const char* bad : {"novalue", "=value"}) {
    const auto q = Parse({"--handler-arg", bad});
    EXPECT_EQ(q.exit_code, 64) << bad;
    EXPECT_NE(q.error.find("--handler-arg"), std::string::npos) << q.error;
  }
  const auto twice = Parse({"--handler-arg", "a=1", "--handler-arg", "a=2"});
  EXPECT_EQ(twice.exit_code, 64);
  EXPECT_NE(twice.error.find("given twice"), std::string::npos) << twice.error;
}

TEST(WorkerFlagsTest, UnknownHandlerListsTheKnownOnes) {
  const auto registry = HandlerRegistry::WithBuiltins();
  auto h = registry.Create("teleport", HandlerConfig{});
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("exec, mandrill, noop"), std::string::npos)
      << h.error().message;
}

}  // namespace
}  // namespace mandrill::worker
