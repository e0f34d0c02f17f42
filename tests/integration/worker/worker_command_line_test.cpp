// mandrill-worker with a bad command line: one line on stderr naming the flag, exit 64, and
// nothing else (no log lines, no connection attempts). `--broker nonsense` used to abort on an
// uncaught zmq::error_t; `--queue 'bad name'` used to start and log the broker's refusal (error
// 104) every 500 ms forever (issue 11, item 6).
#include <algorithm>

#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

struct BadCommandLine {
  std::string name;
  std::vector<std::string> args;
  std::string line;  // the whole stderr
};
void PrintTo(const BadCommandLine& c, std::ostream* os) {
  for (const auto& a : c.args) *os << a << ' ';
}

class WorkerCommandLineTest : public WorkerTest,
                              public ::testing::WithParamInterface<BadCommandLine> {};

TEST_P(WorkerCommandLineTest, BadValueExits64WithOneLine) {
  std::vector<std::string> argv = {Binary("mandrill-worker"), "--handler", "noop"};
  argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
  Process p(argv, dir_ + "/worker.log");
  const auto code = p.Wait(10s);
  ASSERT_TRUE(code.has_value()) << "still running: " << p.Log();
  EXPECT_EQ(*code, 64) << p.Log();
  EXPECT_EQ(p.Log(), GetParam().line + "\n");
}

INSTANTIATE_TEST_SUITE_P(
    Flags, WorkerCommandLineTest,
    ::testing::Values(
        BadCommandLine{"BrokerNotAnEndpoint",
                       {"--broker", "nonsense"},
                       "mandrill-worker: --broker 'nonsense' is not a ZeroMQ endpoint: write "
                       "tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555"},
        BadCommandLine{"BrokerPortOutOfRange",
                       {"--broker", "tcp://127.0.0.1:99999"},
                       "mandrill-worker: --broker 'tcp://127.0.0.1:99999': the port must be 1 "
                       "to 65535"},
        BadCommandLine{"QueueNameWithASpace",
                       {"--broker", "tcp://127.0.0.1:5555", "--queue", "bad name"},
                       "mandrill-worker: --queue: queue name 'bad name' may only hold A-Z a-z "
                       "0-9 . _ - :"}),
    [](const ::testing::TestParamInfo<BadCommandLine>& info) { return info.param.name; });

}  // namespace
}  // namespace mandrill::testing
