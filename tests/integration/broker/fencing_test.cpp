// Fencing epochs on a real broker (issue 14): SIGKILL a broker that has a message out on lease,
// start it again on the same data dir, and check that WELCOME's epoch went up by exactly one,
// that the ack of the old lease is LEASE_LOST (counted as a stale epoch), and that the message is
// delivered again and settled: nothing lost.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kJournal = {"--storage", "journal"};

class FencingTest : public BrokerTest {
 protected:
  static std::uint64_t EpochTag(std::uint64_t lease_id) { return lease_id >> 48; }
};

TEST_F(FencingTest, RestartAfterSigkillRaisesTheEpochByOneAndFencesTheOldLease) {
  StartBroker(kJournal);
  Client& worker = NewClient("fence-worker");
  const protocol::Welcome before = worker.Ready("restarts", 1);
  EXPECT_EQ(before.epoch, 1u) << "a new data dir starts at epoch 1";
  NewClient().PublishConfirmed("restarts", "fence-1");
  const auto first = worker.Deliveries(1, 5s);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(EpochTag(first[0].lease_id), before.epoch & 0xffff);

  broker_->Kill();  // SIGKILL: no goodbye, the lease is still "held" by the worker
  StartBroker(kJournal);
  EXPECT_TRUE(broker_->WaitForLog("epoch " + std::to_string(before.epoch + 1), 1s))
      << broker_->Log();

  // The same worker connection (ZeroMQ re-dials) announces itself to the new run.
  worker.skipped.clear();
  const protocol::Welcome after = worker.Ready("restarts", 1);
  std::cout << "epoch " << before.epoch << " -> " << after.epoch << "\n";
  EXPECT_EQ(after.epoch, before.epoch + 1);
  EXPECT_NE(after.broker_id, before.broker_id);
  const auto again = worker.Deliveries(1, 5s);
  ASSERT_EQ(again.size(), 1u) << "the message was not delivered again";
  EXPECT_EQ(again[0].id, "fence-1");
  // 1 or 2: the delivery record may not have reached the disk before the SIGKILL (the journal
  // holds deliveries a few ms; at-least-once allows the uncounted attempt).
  EXPECT_GE(again[0].attempt, 1u);
  EXPECT_EQ(EpochTag(again[0].lease_id), after.epoch & 0xffff);

  // The worker still acks the lease of the old run: fenced.
  worker.Send(protocol::Ack{{first[0].lease_id}});
  const auto lost = worker.Expect<protocol::Error>(5s);
  ASSERT_TRUE(lost.has_value()) << "no answer to the old lease's ACK";
  EXPECT_EQ(lost->code, protocol::ErrorCode::kLeaseLost) << lost->reason;
  EXPECT_EQ(lost->leases, std::vector<std::uint64_t>{first[0].lease_id});
  EXPECT_EQ(QueueStatsFor("restarts").acked, 0u) << "the old lease settled the message";

  worker.Send(protocol::Ack{{again[0].lease_id}});
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").acked == 1; }, 5s));
  const auto stats = Stats();
  EXPECT_EQ(Counter(stats, "broker.epoch"), static_cast<std::int64_t>(after.epoch));
  EXPECT_EQ(Counter(stats, "broker.stale_epoch_leases"), 1);
  EXPECT_EQ(Counter(stats, "broker.lease_lost"), 1);
  std::cout << "LEASE_LOST " << Counter(stats, "broker.lease_lost") << ", stale epoch "
            << Counter(stats, "broker.stale_epoch_leases") << "\n";
  const auto q = QueueStatsFor("restarts");
  EXPECT_EQ(q.ready, 0u);
  EXPECT_EQ(q.in_flight, 0u);
  EXPECT_EQ(q.dead, 0u);
  // LOST 0: the one confirmed message was settled by its redelivery.
  std::cout << "LOST " << (1 - static_cast<std::int64_t>(q.acked)) << "\n";
}

TEST_F(FencingTest, ACorruptEpochFileStopsTheStartAndNamesThePath) {
  StartBroker(kJournal);
  broker_->Signal(SIGTERM);
  ASSERT_EQ(broker_->Wait(20s), std::optional<int>(0));
  const std::string epoch_path = dir_ + "/data/EPOCH";
  ASSERT_TRUE(std::filesystem::exists(epoch_path));
  std::ofstream(epoch_path, std::ios::trunc) << "epoch-v1 99 00000000\n";
  Process again(BrokerArgv(LoopbackEndpoint(port_), dir_ + "/data", kJournal),
                dir_ + "/corrupt-start.log");
  const auto code = again.Wait(20s);
  ASSERT_TRUE(code.has_value()) << "a broker started on a corrupt epoch file:\n" << again.Log();
  EXPECT_NE(*code, 0);
  EXPECT_NE(again.Log().find(epoch_path), std::string::npos) << again.Log();
  EXPECT_NE(again.Log().find("corrupt"), std::string::npos) << again.Log();
  EXPECT_EQ(again.Log().find("listening on"), std::string::npos) << "it bound its socket";
}

TEST_F(FencingTest, MemoryStorageStillTakesADifferentEpochAtEveryStart) {
  StartBroker();  // --storage memory: the epoch is the start time in ms
  const auto first = NewClient().Ready("restarts", 1).epoch;
  EXPECT_GT(first, 1'600'000'000'000u);
  broker_->Kill();
  StartBroker();
  const auto second = NewClient().Ready("restarts", 1).epoch;
  EXPECT_GT(second, first);
}

}  // namespace
}  // namespace mandrill::testing
