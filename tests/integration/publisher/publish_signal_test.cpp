// mandrill-publish and SIGTERM/SIGINT: stop sending, wait the grace for confirms, report.
#include <signal.h>

#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

class PublishSignalTest : public PublisherProcessTest {};

TEST_F(PublishSignalTest, SigtermStopsSendingAndRecordsEveryConfirm) {
  FakeBroker broker(endpoint_, {});
  auto p = StartPublish(
      {"--count", "100000000", "--rate", "5000", "--confirmed-out", Path("confirmed.txt")});
  ASSERT_TRUE(mandrill::testing::Eventually(
      [&] { return ReadLines(Path("confirmed.txt")).size() >= 200; }, 20s))
      << p.Log();
  p.Signal(SIGTERM);
  ASSERT_EQ(ExitCode(p, 20s), 0) << p.Log();
  const std::string log = p.Log();
  EXPECT_NE(log.find("interrupted"), std::string::npos) << log;
  const auto lines = ReadLines(Path("confirmed.txt"));
  EXPECT_EQ(static_cast<long long>(lines.size()), SummaryValue(log, "confirmed")) << log;
  EXPECT_EQ(SummaryValue(log, "unconfirmed"), 0) << log;
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), lines.size());
}

TEST_F(PublishSignalTest, SigintWithUnconfirmedMessagesExitsTwoAfterGrace) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish({"--count", "100", "--grace", "300ms"});
  ASSERT_TRUE(broker.WaitForItems(100, 20s)) << p.Log();
  p.Signal(SIGINT);
  ASSERT_EQ(ExitCode(p, 20s), 2) << p.Log();
  EXPECT_EQ(SummaryValue(p.Log(), "unconfirmed"), 100) << p.Log();
  EXPECT_NE(p.Log().find("interrupted"), std::string::npos) << p.Log();
}

TEST_F(PublishSignalTest, SecondSignalExitsWithoutWaitingForTheGrace) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  auto p = StartPublish({"--count", "10", "--grace", "10m"});
  ASSERT_TRUE(broker.WaitForItems(10, 20s)) << p.Log();
  p.Signal(SIGTERM);
  ASSERT_TRUE(p.WaitForLog("stop requested", 20s)) << p.Log();
  p.Signal(SIGTERM);
  ASSERT_EQ(ExitCode(p, 20s), 2) << p.Log();
}

}  // namespace
}  // namespace mandrill::publisher::testing
