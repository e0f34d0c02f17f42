// Issue 10: past 10,016 queues `mandrill-ctl stats` and `queues` failed ("an array in the body
// has more than 10016 elements"). Replies are paged now: any number of queues can be listed.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

class ManyQueuesTest : public BrokerTest {
 protected:
  // Runs mandrill-ctl with `args`; returns its exit code, its output in *out.
  int Ctl(const std::vector<std::string>& args, std::string* out) {
    std::vector<std::string> argv = {Binary("mandrill-ctl"), "--broker", endpoint_, "--timeout",
                                     "20s"};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, dir_ + "/ctl-" + std::to_string(++ctl_runs_) + ".log");
    const auto rc = p.Wait(60s);
    *out = p.Log();
    return rc.value_or(-1);
  }
  int ctl_runs_ = 0;
};

TEST_F(ManyQueuesTest, CtlListsMoreQueuesThanOneFrameHolds) {
  constexpr int kQueues = 10'100;
  StartBroker({"--max-queues", "20000"});
  Client& pub = NewClient();
  std::size_t confirmed = 0;
  for (int first = 0; first < kQueues; first += 5000) {
    protocol::Publish p;
    for (int i = first; i < std::min(kQueues, first + 5000); ++i) {
      p.items.push_back({"q-" + std::to_string(i), "m", "x", {}});
    }
    pub.Send(p);
  }
  while (confirmed < static_cast<std::size_t>(kQueues)) {
    auto c = pub.Expect<protocol::Confirm>(20s);
    ASSERT_TRUE(c.has_value()) << confirmed << " confirmed";
    confirmed += c->ids.size();
  }

  std::string out;
  ASSERT_EQ(Ctl({"queues"}, &out), 0) << out.substr(0, 500);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), kQueues);
  EXPECT_NE(out.find("q-10099\n"), std::string::npos);

  ASSERT_EQ(Ctl({"stats", "--json"}, &out), 0) << out.substr(0, 500);
  std::size_t names = 0;
  for (auto at = out.find("\"name\":\"q-"); at != std::string::npos;
       at = out.find("\"name\":\"q-", at + 1)) {
    ++names;
  }
  EXPECT_EQ(names, static_cast<std::size_t>(kQueues)) << "every queue, from every page";
}

}  // namespace
}  // namespace mandrill::testing
