// Nothing confirmed is lost when the broker is SIGKILLed mid-run and restarted on the same data
// dir: every id the publisher reports confirmed ends up in a worker's ledger.
#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <set>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

std::set<std::string> ReadLines(const std::string& path) {
  std::set<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

std::size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Every message_id in the ledgers, with how many times it was processed.
std::map<std::string, int> LedgerIds(const std::vector<std::string>& ledgers) {
  std::map<std::string, int> out;
  for (const auto& path : ledgers) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      continue;  // not created yet
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT message_id FROM processed", -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        ++out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))];
      }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return out;
}

class DurabilityTest : public BrokerTest, public ::testing::WithParamInterface<const char*> {
 protected:
  std::vector<std::string> BrokerFlags() const {
    return {"--storage", "journal", "--fsync", GetParam(), "--heartbeat-ms", "500",
            "--lease-ms", "5000"};
  }
};

TEST_P(DurabilityTest, ConfirmedMessagesSurviveBrokerKills) {
  constexpr int kMessages = 3000;
  constexpr int kKills = 3;
  StartBroker(BrokerFlags());
  std::vector<std::unique_ptr<Process>> workers;
  std::vector<std::string> ledgers;
  for (int i = 1; i <= 2; ++i) {
    ledgers.push_back(dir_ + "/ledger-" + std::to_string(i) + ".db");
    workers.push_back(std::make_unique<Process>(
        std::vector<std::string>{Binary("mandrill-worker"), "--broker", endpoint_, "--queue",
                                 "restarts", "--concurrency", "16", "--ledger", ledgers.back(),
                                 "--restart-ms", "1:5", "--name", "w" + std::to_string(i)},
        dir_ + "/worker-" + std::to_string(i) + ".log"));
  }
  const std::string confirmed_path = dir_ + "/confirmed.txt";
  Process publisher({Binary("mandrill-publish"), "--broker", endpoint_, "--queue", "restarts",
                     "--count", std::to_string(kMessages), "--rate", "1000", "--seed", "7",
                     "--confirmed-out", confirmed_path, "--confirm-timeout", "1s", "--give-up",
                     "60s"},
                    dir_ + "/publisher.log");

  for (int kill = 1; kill <= kKills; ++kill) {
    // Kill mid-run: after a share of the messages is confirmed.
    const std::size_t target = static_cast<std::size_t>(kMessages) * kill / (kKills + 1);
    ASSERT_TRUE(Eventually([&] { return CountLines(confirmed_path) >= target; }, 60s))
        << "publisher stalled before kill " << kill << ":\n" << publisher.Log();
    broker_->Kill();
    StartBroker(BrokerFlags());
  }
  const auto rc = publisher.Wait(120s);
  ASSERT_TRUE(rc.has_value()) << "publisher did not finish";
  EXPECT_EQ(*rc, 0) << publisher.Log();

  const auto confirmed = ReadLines(confirmed_path);
  EXPECT_EQ(confirmed.size(), static_cast<std::size_t>(kMessages));
  std::vector<std::string> lost;
  ASSERT_TRUE(Eventually(
      [&] {
        const auto processed = LedgerIds(ledgers);
        lost.clear();
        for (const auto& id : confirmed) {
          if (!processed.count(id)) lost.push_back(id);
        }
        return lost.empty();
      },
      60s))
      << lost.size() << " confirmed messages never processed, e.g. " << lost.front();
  const auto processed = LedgerIds(ledgers);
  std::size_t duplicates = 0;
  for (const auto& [id, n] : processed) duplicates += n > 1 ? n - 1 : 0;
  std::cout << "[ durability ] fsync " << GetParam() << ": " << kKills << " broker kills, "
            << confirmed.size() << " confirmed, LOST 0, duplicated " << duplicates << "\n";
  const auto stats = Stats();
  EXPECT_GE(Counter(stats, "journal.recovered_messages"), 0);
}

INSTANTIATE_TEST_SUITE_P(Fsync, DurabilityTest, ::testing::Values("always", "interval:50"),
                         [](const auto& info) {
                           return std::string(info.param) == "always" ? "Always" : "Interval";
                         });

}  // namespace
}  // namespace mandrill::testing
