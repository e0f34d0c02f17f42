// mandrill-publish against the fake broker: confirms, lost confirms, queue full, refusals,
// silence, a broker that starts late, and command-line errors.
#include "publisher/host_names.h"
#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

class PublishTest : public PublisherProcessTest {};

TEST_F(PublishTest, PayloadArgumentsAreConfirmedAndListedOnce) {
  FakeBroker broker(endpoint_, {});
  auto p = StartPublish({"--id-prefix", "run1", "--confirmed-out", Path("confirmed.txt"),
                         "restart cattle-aaaa", "restart cattle-bbbb", "restart cattle-cccc"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(ReadLines(Path("confirmed.txt")),
            (std::vector<std::string>{"run1-1", "run1-2", "run1-3"}));
  const auto payloads = broker.payloads();
  EXPECT_EQ(payloads.at("run1-1"), "restart cattle-aaaa");
  EXPECT_EQ(payloads.at("run1-3"), "restart cattle-cccc");
  EXPECT_EQ(SummaryValue(p.Log(), "confirmed"), 3);
  EXPECT_EQ(SummaryValue(p.Log(), "unconfirmed"), 0);
}

TEST_F(PublishTest, ExplicitIdIsUsedForTheSingleMessage) {
  FakeBroker broker(endpoint_, {});
  auto p = StartPublish({"--id", "restart-x7q2-2024", "--header", "origin=test", "cattle-x7q2"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(broker.times_received(), (std::map<std::string, int>{{"restart-x7q2-2024", 1}}));
}

TEST_F(PublishTest, GeneratedRequestsAreReproducibleFromTheSeed) {
  FakeBroker broker(endpoint_, {});
  auto p = StartPublish({"--count", "2000", "--seed", "42", "--id-prefix", "gen", "--confirmed-out",
                         Path("confirmed.txt"), "--json-summary"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const auto lines = ReadLines(Path("confirmed.txt"));
  EXPECT_EQ(lines.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), 2000u);
  const auto payloads = broker.payloads();
  ASSERT_EQ(payloads.size(), 2000u);
  for (const auto& [id, payload] : payloads) {
    ASSERT_EQ(payload.rfind("restart ", 0), 0u) << id << ": " << payload;
    ASSERT_TRUE(IsHostName(payload.substr(8))) << id << ": " << payload;
  }
  EXPECT_NE(p.Log().find("\"confirmed\":2000"), std::string::npos) << p.Log();
  EXPECT_NE(p.Log().find("\"seed\":42"), std::string::npos) << p.Log();

  // Same seed, second run against the same broker: same host names in the same order.
  auto again =
      StartPublish({"--count", "2000", "--seed", "42", "--id-prefix", "again"}, "again.log");
  ASSERT_EQ(ExitCode(again), 0) << again.Log();
  const auto both = broker.payloads();
  for (int i = 1; i <= 2000; i += 199) {
    const auto n = std::to_string(i);
    EXPECT_EQ(both.at("gen-" + n), both.at("again-" + n));
  }
}

TEST_F(PublishTest, EachStdinLineIsOneMessage) {
  FakeBroker broker(endpoint_, {});
  WriteFile(Path("in.txt"), "restart cattle-0001\n\nrestart cattle-0002\r\nrestart cattle-0003");
  auto p = StartPublishWithStdin({"--id-prefix", "in"}, Path("in.txt"));
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(broker.payloads(),
            (std::map<std::string, std::string>{{"in-1", "restart cattle-0001"},
                                                {"in-2", "restart cattle-0002"},
                                                {"in-3", "restart cattle-0003"}}));
}

TEST_F(PublishTest, LostConfirmIsResentWithTheSameIdAndListedOnce) {
  FakeBrokerScript script;
  script.drop_first_confirm = {"lost-3", "lost-7"};
  FakeBroker broker(endpoint_, script);
  // Long enough that no confirm but the two dropped ones is late, even on a loaded machine.
  auto p = StartPublish({"--count", "10", "--id-prefix", "lost", "--confirm-timeout", "1s",
                         "--confirmed-out", Path("confirmed.txt")});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const auto times = broker.times_received();
  EXPECT_EQ(times.at("lost-3"), 2);
  EXPECT_EQ(times.at("lost-7"), 2);
  EXPECT_EQ(times.at("lost-1"), 1);
  auto lines = ReadLines(Path("confirmed.txt"));
  EXPECT_EQ(lines.size(), 10u);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), 10u);
  EXPECT_EQ(SummaryValue(p.Log(), "retried"), 2);
}

TEST_F(PublishTest, DuplicateConfirmsAreWrittenOnce) {
  FakeBrokerScript script;
  script.confirm_twice = true;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish({"--count", "500", "--confirmed-out", Path("confirmed.txt")});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  auto lines = ReadLines(Path("confirmed.txt"));
  EXPECT_EQ(lines.size(), 500u);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), 500u);
}

TEST_F(PublishTest, QueueFullIsRetriedUntilAccepted) {
  FakeBrokerScript script;
  script.queue_full_frames = 3;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish(
      {"--count", "50", "--id-prefix", "full", "--confirmed-out", Path("confirmed.txt")});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(ReadLines(Path("confirmed.txt")).size(), 50u);
  EXPECT_GT(SummaryValue(p.Log(), "retried"), 0);
  EXPECT_EQ(SummaryValue(p.Log(), "refused"), 0);
  EXPECT_GE(broker.times_received().at("full-1"), 2);
}

TEST_F(PublishTest, PermanentRefusalExitsOne) {
  FakeBrokerScript script;
  script.refuse = {"bad-2"};
  FakeBroker broker(endpoint_, script);
  auto p =
      StartPublish({"--id-prefix", "bad", "--confirmed-out", Path("confirmed.txt"), "a", "b", "c"});
  ASSERT_EQ(ExitCode(p), 1) << p.Log();
  EXPECT_EQ(ReadLines(Path("confirmed.txt")), (std::vector<std::string>{"bad-1", "bad-3"}));
  EXPECT_EQ(SummaryValue(p.Log(), "refused"), 1);
  EXPECT_NE(p.Log().find("refused by the test script"), std::string::npos) << p.Log();
}

TEST_F(PublishTest, SilentBrokerMakesItGiveUpWithExitTwo) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish({"--count", "20", "--give-up", "600ms", "--confirm-timeout", "200ms",
                         "--confirmed-out", Path("confirmed.txt")});
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  EXPECT_TRUE(ReadLines(Path("confirmed.txt")).empty());
  EXPECT_EQ(SummaryValue(p.Log(), "unconfirmed"), 20);
  EXPECT_NE(p.Log().find("gave up"), std::string::npos) << p.Log();
  // It kept re-sending with the same ids while waiting.
  EXPECT_GE(broker.times_received().begin()->second, 2);
}

TEST_F(PublishTest, NoBrokerAtAllGivesUpWithExitTwo) {
  auto p = StartPublish({"--give-up", "500ms", "hello"});
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  EXPECT_EQ(SummaryValue(p.Log(), "published"), 0);
  EXPECT_EQ(SummaryValue(p.Log(), "unconfirmed"), 1);
  EXPECT_NE(p.Log().find("is the broker at " + endpoint_ + " up?"), std::string::npos) << p.Log();
}

// It used to ask "is the broker up?" of a broker that had just answered "queue full".
TEST_F(PublishTest, GivingUpOnAFullQueueSaysTheQueueIsFull) {
  FakeBrokerScript script;
  script.queue_full_frames = 1'000'000;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish({"--give-up", "800ms", "hello"});
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  const std::string log = p.Log();
  EXPECT_EQ(log.find("is the broker"), std::string::npos) << log;
  EXPECT_NE(log.find("gave up: no confirm for 800ms with 1 outstanding: the broker at " +
                     endpoint_ + " is up but kept refusing them for now: queue 'restarts' is "
                     "full (queue full)"),
            std::string::npos)
      << log;
}

TEST_F(PublishTest, BrokerStartedAfterThePublisherGetsEverything) {
  auto p = StartPublish(
      {"--count", "300", "--log-level", "info", "--confirmed-out", Path("confirmed.txt")});
  // The publisher is up and holding its messages before the broker exists.
  ASSERT_TRUE(p.WaitForLog("not reachable yet", 10s)) << p.Log();
  FakeBroker broker(endpoint_, {});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(ReadLines(Path("confirmed.txt")).size(), 300u);
}

TEST_F(PublishTest, ManyMessagesOfHundredBytesAreAllConfirmed) {
  FakeBrokerScript script;
  script.record_ids = false;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish(
      {"--count", "100000", "--payload-bytes", "100", "--confirmed-out", Path("confirmed.txt")});
  ASSERT_EQ(ExitCode(p, 60s), 0) << p.Log();
  EXPECT_EQ(ReadLines(Path("confirmed.txt")).size(), 100000u);
  EXPECT_GE(broker.items_received(), 100000u);
  // Batched: far fewer frames than messages.
  EXPECT_LT(broker.frames_received(), 100000u / 50);
  std::cout << p.Log();  // the summary line carries the rate (not asserted: tests are not benches)
}

struct BadFlags {
  std::string name;  // test name suffix
  std::vector<std::string> args;
  std::string expected;  // part of the one-line error
};
void PrintTo(const BadFlags& f, std::ostream* os) {
  for (const auto& a : f.args) *os << a << ' ';
}

class PublishUsageTest : public PublisherProcessTest,
                         public ::testing::WithParamInterface<BadFlags> {};

TEST_P(PublishUsageTest, BadValueExits64WithOneLine) {
  auto p = StartPublish(GetParam().args);
  ASSERT_EQ(ExitCode(p, 10s), 64) << p.Log();
  const std::string log = p.Log();
  EXPECT_NE(log.find(GetParam().expected), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_EQ(log.rfind("mandrill-publish: ", 0), 0u) << log;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, PublishUsageTest,
    ::testing::Values(
        BadFlags{"NegativeRate", {"--rate", "-3", "x"}, "--rate '-3'"},
        BadFlags{"CountNotANumber", {"--count", "abc"}, "--count 'abc'"},
        BadFlags{"NegativeCount", {"--count", "-1"}, "--count '-1'"},
        BadFlags{"ZeroWindow", {"--window", "0", "x"}, "--window '0'"},
        BadFlags{"TimeoutWithoutUnit", {"--confirm-timeout", "soon", "x"}, "--confirm-timeout"},
        BadFlags{"ZeroGiveUp", {"--give-up", "0", "x"}, "--give-up '0'"},
        BadFlags{"UnknownFlag", {"--bogus", "x"}, "--bogus"},
        BadFlags{"IdWithTwoPayloads", {"--id", "one", "a", "b"}, "exactly one PAYLOAD"},
        BadFlags{"CountWithPayload", {"--count", "5", "payload"}, "--count"},
        BadFlags{"HeaderWithoutEquals", {"--header", "novalue", "x"}, "key=value"},
        BadFlags{"UnknownLogLevel", {"--log-level", "loud", "x"}, "--log-level"}),
    [](const ::testing::TestParamInfo<BadFlags>& info) { return info.param.name; });

TEST_F(PublishTest, BadQueueNameExits64) {
  auto p = Process({Binary("mandrill-publish"), "--broker", endpoint_, "--queue", "no spaces", "x"},
                   Path("q.log"));
  ASSERT_EQ(ExitCode(p, 10s), 64) << p.Log();
  EXPECT_NE(p.Log().find("--queue 'no spaces'"), std::string::npos) << p.Log();
}

TEST_F(PublishTest, BadEndpointExits64) {
  auto p = Process({Binary("mandrill-publish"), "--broker", "nowhere", "--queue", "q", "x"},
                   Path("e.log"));
  ASSERT_EQ(ExitCode(p, 10s), 64) << p.Log();
  EXPECT_NE(p.Log().find("--broker 'nowhere'"), std::string::npos) << p.Log();
}

TEST_F(PublishTest, HelpExitsZero) {
  auto p = Process({Binary("mandrill-publish"), "--help"}, Path("help.log"));
  ASSERT_EQ(ExitCode(p, 10s), 0) << p.Log();
  EXPECT_NE(p.Log().find("--confirmed-out"), std::string::npos);
  EXPECT_NE(p.Log().find("Exit codes"), std::string::npos);
}

}  // namespace
}  // namespace mandrill::publisher::testing
