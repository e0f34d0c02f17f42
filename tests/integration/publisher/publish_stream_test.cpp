// mandrill-publish over time: a stdin stream published as it arrives, a broker that goes away
// and comes back, and the progress line.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

class PublishStreamTest : public PublisherProcessTest {};

TEST_F(PublishStreamTest, StdinLinesArePublishedAsTheyArriveNotAtEndOfInput) {
  FakeBroker broker(endpoint_, {});
  const std::string fifo = Path("input.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto p =
      StartPublishWithStdin({"--id-prefix", "s", "--confirmed-out", Path("confirmed.txt")}, fifo);
  int fd = -1;
  // Non-blocking open for writing fails (ENXIO) until the publisher's shell opened the read end.
  ASSERT_TRUE(mandrill::testing::Eventually(
      [&] {
        fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        return fd >= 0;
      },
      10s))
      << p.Log();
  ASSERT_EQ(::write(fd, "first\nsecond\n", 13), 13);
  // Confirmed while the stream is still open: the publisher does not wait for end of input.
  ASSERT_TRUE(mandrill::testing::Eventually(
      [&] { return ReadLines(Path("confirmed.txt")).size() == 2; }, 10s))
      << p.Log();
  EXPECT_TRUE(p.running());
  ASSERT_EQ(::write(fd, "third\n", 6), 6);
  ::close(fd);
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(ReadLines(Path("confirmed.txt")), (std::vector<std::string>{"s-1", "s-2", "s-3"}));
  EXPECT_EQ(broker.payloads().at("s-3"), "third");
}

TEST_F(PublishStreamTest, BrokerThatDiesWithoutConfirmingIsReplacedAndEverythingConfirmed) {
  auto p = StartPublish({"--count", "200", "--id-prefix", "re", "--confirm-timeout", "300ms",
                         "--confirmed-out", Path("confirmed.txt")});
  {
    FakeBrokerScript script;
    script.silent = true;  // takes the messages, then goes away without a confirm
    FakeBroker first(endpoint_, script);
    ASSERT_TRUE(first.WaitForItems(200, 20s)) << p.Log();
  }
  FakeBroker second(endpoint_, {});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const auto lines = ReadLines(Path("confirmed.txt"));
  EXPECT_EQ(lines.size(), 200u);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), 200u);
  EXPECT_EQ(second.times_received().count("re-200"), 1u);
  EXPECT_GE(SummaryValue(p.Log(), "retried"), 200);
}

TEST_F(PublishStreamTest, ProgressLinesReportCounts) {
  FakeBroker broker(endpoint_, {});
  auto p = StartPublish({"--count", "3000", "--rate", "2000", "--progress"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_NE(p.Log().find("mandrill-publish: progress published="), std::string::npos) << p.Log();
  EXPECT_NE(p.Log().find(" confirmed="), std::string::npos) << p.Log();
}

TEST_F(PublishStreamTest, RateLimitsGeneratedMessages) {
  FakeBroker broker(endpoint_, {});
  auto p = StartPublish({"--count", "300", "--rate", "1000", "--json-summary"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  // 300 messages at 1000/s cannot finish in much under 0.3 s (a 50-message burst allowed).
  const auto at = p.Log().find("\"elapsed_ms\":");
  ASSERT_NE(at, std::string::npos) << p.Log();
  EXPECT_GE(std::atoll(p.Log().c_str() + at + 13), 240) << p.Log();
}

}  // namespace
}  // namespace mandrill::publisher::testing
