// mandrill-publish --cells against fake brokers: each id goes to its rendezvous cell, a cell that
// is down or refuses hands its messages to their next cells, and the flags' rules.
#include <memory>

#include "shared/cells/rendezvous.h"
#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

class PublishCellsTest : public PublisherProcessTest {
 protected:
  void SetUp() override {
    PublisherProcessTest::SetUp();
    for (int i = 0; i < 3; ++i) {
      names_.push_back("cell-" + std::to_string(i + 1));
      endpoints_.push_back(mandrill::testing::LoopbackEndpoint(mandrill::testing::FreePort()));
    }
    std::string map = "# three cells\n";
    for (int i = 0; i < 3; ++i) map += names_[i] + " " + endpoints_[i] + "\n";
    WriteFile(Path("cells"), map);
  }

  Process StartCells(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        Binary("mandrill-publish"), "--cells",     Path("cells"), "--queue", "restarts",
        "--json-summary",           "--log-level", "info"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, Path("publish.log"));
  }

  std::size_t FirstChoice(const std::string& id) const {
    return cells::RendezvousFirst(names_, id);
  }
  std::size_t SecondChoice(const std::string& id) const {
    return cells::RendezvousOrder(names_, id).at(1);
  }

  static long long JsonValue(const std::string& log, const std::string& key) {
    const auto at = log.find("\"" + key + "\":");
    if (at == std::string::npos) return -1;
    return std::atoll(log.c_str() + at + key.size() + 3);
  }

  std::vector<std::string> names_;
  std::vector<std::string> endpoints_;
};

TEST_F(PublishCellsTest, EachIdGoesToItsRendezvousCellAndTheCellsShareTheLoad) {
  std::vector<std::unique_ptr<FakeBroker>> brokers;
  for (const auto& e : endpoints_)
    brokers.push_back(std::make_unique<FakeBroker>(e, FakeBrokerScript{}));
  auto p = StartCells({"--count", "3000", "--id-prefix", "rv"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  std::size_t total = 0;
  for (std::size_t c = 0; c < 3; ++c) {
    const auto times = brokers[c]->times_received();
    for (const auto& [id, n] : times) {
      ASSERT_EQ(FirstChoice(id), c) << id << " reached " << names_[c];
      ASSERT_EQ(n, 1) << id;
    }
    // 1000 expected per cell; 4 sigma of a binomial(3000, 1/3) is about 103.
    EXPECT_NEAR(static_cast<double>(times.size()), 1000.0, 104.0) << names_[c];
    total += times.size();
  }
  EXPECT_EQ(total, 3000u);
  EXPECT_EQ(JsonValue(p.Log(), "moved_to_other_cells"), 0) << p.Log();
}

TEST_F(PublishCellsTest, ACellThatIsDownHandsItsIdsToTheirSecondCellAfterTheFailover) {
  // cell-2 never comes up.
  FakeBroker one(endpoints_[0], {});
  FakeBroker three(endpoints_[2], {});
  auto p = StartCells(
      {"--count", "600", "--id-prefix", "dn", "--cell-failover", "300ms", "--give-up", "20s"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  std::size_t moved = 0;
  for (auto* b : {&one, &three}) {
    const std::size_t c = b == &one ? 0 : 2;
    for (const auto& [id, n] : b->times_received()) {
      if (FirstChoice(id) == c) continue;
      ASSERT_EQ(FirstChoice(id), 1u) << id << " is not cell-2's, yet reached " << names_[c];
      ASSERT_EQ(SecondChoice(id), c) << id << " skipped its second cell";
      ++moved;
    }
  }
  EXPECT_GT(moved, 100u);  // about 200 of 600 ids prefer cell-2
  EXPECT_EQ(JsonValue(p.Log(), "confirmed"), 600) << p.Log();
  EXPECT_NE(p.Log().find("cell cell-2 (" + endpoints_[1] + ") is down"), std::string::npos)
      << p.Log();
}

TEST_F(PublishCellsTest, ACellThatStopsMidRunIsFailedOverAndNothingIsLeftUnconfirmed) {
  std::vector<std::unique_ptr<FakeBroker>> brokers;
  for (const auto& e : endpoints_)
    brokers.push_back(std::make_unique<FakeBroker>(e, FakeBrokerScript{}));
  auto p = StartCells({"--count", "3000", "--rate", "3000", "--id-prefix", "mid", "--cell-failover",
                       "500ms", "--give-up", "20s"});
  ASSERT_TRUE(brokers[1]->WaitForItems(200, 20s)) << p.Log();
  brokers[1].reset();  // cell-2 goes away without a word, like a killed broker
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  // Every message was confirmed by someone: by cell-2 before it went, or by the next cell of
  // its id once cell-2 was down.
  EXPECT_EQ(JsonValue(p.Log(), "confirmed"), 3000) << p.Log();
  EXPECT_GT(JsonValue(p.Log(), "moved_to_other_cells"), 0) << p.Log();
  std::size_t moved = 0;
  for (std::size_t c : {0u, 2u}) {
    for (const auto& [id, n] : brokers[c]->times_received()) {
      if (FirstChoice(id) == c) continue;
      ASSERT_EQ(FirstChoice(id), 1u) << id << " reached " << names_[c];
      ASSERT_EQ(SecondChoice(id), c) << id << " skipped its second cell";
      ++moved;
    }
  }
  EXPECT_GT(moved, 0u);
}

TEST_F(PublishCellsTest, ACellThatRefusesForNowPassesTheMessageToTheNextCellAtOnce) {
  FakeBrokerScript full;
  full.queue_full_frames = 1'000'000;  // cell-1 is always full
  FakeBroker one(endpoints_[0], full);
  FakeBroker two(endpoints_[1], {});
  FakeBroker three(endpoints_[2], {});
  auto p = StartCells({"--count", "300", "--id-prefix", "full", "--give-up", "20s"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  EXPECT_EQ(JsonValue(p.Log(), "confirmed"), 300) << p.Log();
  std::size_t refused_first = 0;
  for (const auto& [id, n] : one.times_received()) {
    EXPECT_EQ(FirstChoice(id), 0u) << id;
    ++refused_first;
  }
  EXPECT_GT(refused_first, 50u);
  for (auto* b : {&two, &three}) {
    for (const auto& [id, n] : b->times_received()) {
      const std::size_t c = b == &two ? 1 : 2;
      EXPECT_TRUE(FirstChoice(id) == c || (FirstChoice(id) == 0 && SecondChoice(id) == c)) << id;
    }
  }
}

TEST_F(PublishCellsTest, BrokerAndCellsTogetherOrAKeyedMapWithoutKeyAreUsageErrors) {
  auto both = Process({Binary("mandrill-publish"), "--cells", Path("cells"), "--broker",
                       endpoints_[0], "--queue", "q", "x"},
                      Path("both.log"));
  EXPECT_EQ(ExitCode(both), 64);
  EXPECT_NE(both.Log().find("--broker and --cells both given"), std::string::npos) << both.Log();

  WriteFile(Path("keyed"), "cell-1 " + endpoints_[0] + " cell-1.pub\n");
  auto keyed = Process({Binary("mandrill-publish"), "--cells", Path("keyed"), "--queue", "q", "x"},
                       Path("keyed.log"));
  EXPECT_EQ(ExitCode(keyed), 64);
  EXPECT_NE(keyed.Log().find("give this client's --key too"), std::string::npos) << keyed.Log();

  WriteFile(Path("bad"), "cell-1 " + endpoints_[0] + "\ncell-1 " + endpoints_[1] + "\n");
  auto bad = Process({Binary("mandrill-publish"), "--cells", Path("bad"), "--queue", "q", "x"},
                     Path("bad.log"));
  EXPECT_EQ(ExitCode(bad), 64);
  EXPECT_NE(bad.Log().find("line 2: cell cell-1 is listed twice"), std::string::npos) << bad.Log();
}

}  // namespace
}  // namespace mandrill::publisher::testing
