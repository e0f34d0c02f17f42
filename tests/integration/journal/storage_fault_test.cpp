// A failing disk never crashes the broker and never gets a publish confirmed: publishers get
// STORAGE_FAILED, acks still go through on a full disk, and everything works again once the disk
// does. Faults are injected through the broker's test-only hook (--fault-injection; SIGUSR1
// toggles failing writes with ENOSPC, SIGUSR2 failing syncs with EIO).
#include <signal.h>

#include <set>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

class StorageFaultTest : public BrokerTest {
 protected:
  void Toggle(int sig, const std::string& expect_log) {
    broker_->Signal(sig);
    ASSERT_TRUE(broker_->WaitForLog(expect_log, 10s)) << broker_->Log();
  }
  void ExpectRefused(Client& pub, const std::string& id) {
    pub.Send(OneMessage("restarts", id));
    auto err = pub.Expect<protocol::Error>(10s);
    ASSERT_TRUE(err.has_value()) << "no error for " << id;
    EXPECT_EQ(err->code, ErrorCode::kStorageFailed);
    EXPECT_EQ(err->ids, std::vector<std::string>{id});
    EXPECT_NE(err->reason.find("NOT accepted"), std::string::npos) << err->reason;
    EXPECT_FALSE(pub.Expect<protocol::Confirm>(300ms).has_value()) << id << " was confirmed";
  }
};

TEST_F(StorageFaultTest, FailingSyncRefusesPublishesUntilTheDiskRecovers) {
  StartBroker({"--storage", "journal", "--fault-injection"});
  Client& pub = NewClient();
  pub.PublishConfirmed("restarts", "ok-1");
  Toggle(SIGUSR2, "fault injection #1: journal writes ok, syncs FAIL");
  ExpectRefused(pub, "sync-1");
  ExpectRefused(pub, "sync-2");
  ASSERT_TRUE(broker_->running());
  EXPECT_GE(Counter(Stats(), "broker.storage_failures"), 2);
  Toggle(SIGUSR2, "fault injection #2: journal writes ok, syncs ok");
  pub.PublishConfirmed("restarts", "sync-1");  // the retry is a new, accepted message
  EXPECT_EQ(QueueStatsFor("restarts").ready, 2u);
}

TEST_F(StorageFaultTest, FailingWritesRefusePublishesAndLoseNothingConfirmed) {
  StartBroker({"--storage", "journal", "--fault-injection"});
  Client& pub = NewClient();
  pub.PublishConfirmed("restarts", "a");
  pub.PublishConfirmed("restarts", "b");
  Toggle(SIGUSR1, "fault injection #1: journal writes FAIL, syncs ok");
  ExpectRefused(pub, "refused-1");
  // The broker keeps serving what it holds: deliveries and acks go on (an ack that cannot be
  // written only means the message may be delivered again after a crash).
  Client& worker = NewClient();
  worker.Ready("restarts", 10);
  auto d = worker.Deliveries(2, 10s);
  ASSERT_EQ(d.size(), 2u);
  const std::uint64_t lease_a = d[0].id == "a" ? d[0].lease_id : d[1].lease_id;
  worker.Send(protocol::Ack{{lease_a}});
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").acked == 1; }, 10s));
  Toggle(SIGUSR1, "fault injection #2: journal writes ok, syncs ok");
  pub.PublishConfirmed("restarts", "c");

  broker_->Kill();
  StartBroker({"--storage", "journal"});
  Client& again = NewClient();
  again.Ready("restarts", 10);
  std::set<std::string> ids;
  for (const auto& item : again.Deliveries(3, 5s)) ids.insert(item.id);
  EXPECT_TRUE(ids.count("b")) << "confirmed, unacked b was lost";
  EXPECT_TRUE(ids.count("c")) << "confirmed c was lost";
  EXPECT_FALSE(ids.count("refused-1")) << "a refused publish came back";
}

}  // namespace
}  // namespace mandrill::testing
