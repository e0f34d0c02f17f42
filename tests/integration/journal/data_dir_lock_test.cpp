// The issue 11 recipe: start broker A, delete DIR/LOCK, start broker B on the same data dir.
// B must refuse to start (the dir itself is locked), and A keeps working.
#include <filesystem>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

class DataDirLockTest : public BrokerTest {};

TEST_F(DataDirLockTest, SecondBrokerFailsEvenAfterLockFileIsDeleted) {
  const std::vector<std::string> flags = {"--storage", "journal"};
  StartBroker(flags);
  ASSERT_TRUE(std::filesystem::remove(dir_ + "/data/LOCK")) << "no LOCK file to delete";
  Process second(BrokerArgv(LoopbackEndpoint(FreePort()), dir_ + "/data", flags),
                 dir_ + "/second-broker.log");
  const auto code = second.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value()) << "the second broker is running on a data dir in use:\n"
                                << second.Log();
  EXPECT_NE(0, *code);
  EXPECT_NE(std::string::npos, second.Log().find("in use")) << second.Log();
  // The first broker is unaffected.
  auto stats = Stats();
  EXPECT_GE(Counter(stats, "journal.records"), 0);
}

}  // namespace
}  // namespace mandrill::testing
