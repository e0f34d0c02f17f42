// Authorization (issue 12): frames from authenticated connections carry a Principal; what its
// role and queue patterns do not allow is answered PERMISSION_DENIED, counted, and the session
// goes on. Leases and worker instances belong to the key that received / announced them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "broker/principal.h"
#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BrokerAccessTest : public BrokerHarness {
 protected:
  BrokerAccessTest() {
    publisher_ = {Role::kPublisher, "billing-pub", {"billing.*"}};
    worker_ = {Role::kWorker, "alice", {"billing.*"}};
    intruder_ = {Role::kWorker, "mallory", {}};
    admin_ = {Role::kAdmin, "ops", {}};
  }
  void SendAs(const Principal& who, const std::string& peer, protocol::Message m) {
    broker_->OnFrame(peer, -1, std::move(m), &who);
  }
  void PublishAs(const Principal& who, const std::string& peer,
                 const std::vector<std::pair<std::string, std::string>>& items) {
    protocol::Publish p;
    for (const auto& [queue, id] : items) p.items.push_back({queue, id, "payload " + id, {}});
    SendAs(who, peer, std::move(p));
  }
  std::vector<protocol::Error> Denials(const std::string& peer) {
    std::vector<protocol::Error> out;
    for (auto& e : transport_.To<protocol::Error>(peer)) {
      if (e.code == protocol::ErrorCode::kPermissionDenied) out.push_back(e);
    }
    return out;
  }

  Principal publisher_, worker_, intruder_, admin_;
};

TEST_F(BrokerAccessTest, APublisherPublishesOnlyToItsQueuesItemByItem) {
  Start();
  PublishAs(publisher_, "p", {{"billing.invoices", "a"}, {"hr.payroll", "b"}, {"billing.x", "c"}});
  MakeAllDurable();
  Pass();
  std::vector<std::string> confirmed;
  for (const auto& c : transport_.To<protocol::Confirm>("p")) {
    confirmed.insert(confirmed.end(), c.ids.begin(), c.ids.end());
  }
  EXPECT_THAT(confirmed, ::testing::UnorderedElementsAre("a", "c"));
  const auto denied = Denials("p");
  ASSERT_EQ(1u, denied.size());
  EXPECT_EQ("hr.payroll", denied[0].queue);
  EXPECT_THAT(denied[0].ids, ElementsAre("b"));
  EXPECT_THAT(denied[0].reason, HasSubstr("billing-pub"));
  EXPECT_EQ(nullptr, broker().FindQueue("hr.payroll")) << "a denied item created its queue";
  EXPECT_EQ(1, Counter("broker.permission_denied"));
}

TEST_F(BrokerAccessTest, APublisherCannotConsumeReadStatsOrTouchDeadLetters) {
  Start();
  SendAs(publisher_, "p", protocol::Ready{"p", {"billing.invoices"}, 10});
  SendAs(publisher_, "p", protocol::StatsRequest{7});
  SendAs(publisher_, "p", protocol::QueuesRequest{8});
  SendAs(publisher_, "p", protocol::DlqListRequest{9, "billing.invoices"});
  SendAs(publisher_, "p", protocol::DlqPurgeRequest{10, "billing.invoices", {}});
  SendAs(publisher_, "p", protocol::DlqRequeueRequest{11, "billing.invoices", {}});
  Pass();
  EXPECT_EQ(6u, Denials("p").size());
  EXPECT_TRUE(transport_.To<protocol::Welcome>("p").empty());
  EXPECT_TRUE(transport_.To<protocol::StatsReply>("p").empty());
  EXPECT_EQ(0u, broker().worker_count());
  EXPECT_EQ(6, Counter("broker.permission_denied"));
  // The session goes on: its allowed publish still works.
  transport_.Clear();
  PublishAs(publisher_, "p", {{"billing.invoices", "ok"}});
  MakeAllDurable();
  Pass();
  EXPECT_EQ(1u, transport_.To<protocol::Confirm>("p").size());
}

TEST_F(BrokerAccessTest, AWorkerConsumesOnlyItsQueuesAndCannotPublish) {
  Start();
  SendAs(worker_, "w", protocol::Ready{"w", {"billing.invoices", "hr.payroll"}, 10});
  Pass();
  ASSERT_EQ(1u, Denials("w").size());
  EXPECT_THAT(Denials("w")[0].reason, HasSubstr("hr.payroll"));
  EXPECT_EQ(0u, broker().worker_count());
  transport_.Clear();
  SendAs(worker_, "w", protocol::Ready{"w", {"billing.invoices"}, 10});
  PublishAs(worker_, "w", {{"billing.invoices", "forged"}});
  Pass();
  EXPECT_EQ(1u, transport_.To<protocol::Welcome>("w").size());
  EXPECT_EQ(1u, Denials("w").size());  // the publish
  EXPECT_EQ(1u, broker().worker_count());
}

TEST_F(BrokerAccessTest, AnAdminAdministersItsQueuesOnly) {
  Start();
  Principal billing_admin{Role::kAdmin, "billing-ops", {"billing.*"}};
  SendAs(billing_admin, "a", protocol::StatsRequest{1});
  SendAs(billing_admin, "a", protocol::DlqListRequest{2, "billing.invoices"});
  SendAs(billing_admin, "a", protocol::DlqPurgeRequest{3, "hr.payroll", {}});
  Pass();
  EXPECT_EQ(1u, transport_.To<protocol::StatsReply>("a").size());
  const auto denied = Denials("a");
  ASSERT_EQ(1u, denied.size());
  EXPECT_EQ(3u, denied[0].request_id);
  EXPECT_EQ("hr.payroll", denied[0].queue);
}

TEST_F(BrokerAccessTest, AnotherKeyCannotTakeOverAWorkerInstanceOrSettleItsLeases) {
  Start();
  PublishAs(admin_, "p", {{"billing.invoices", "m1"}, {"billing.invoices", "m2"}});
  MakeAllDurable();
  Pass();
  protocol::Ready mine{"alice", {"billing.invoices"}, 1};
  mine.instance = "host-1/4242";
  SendAs(worker_, "w-alice", mine);
  Pass();
  const auto items = TakeDeliveries("w-alice");
  ASSERT_EQ(1u, items.size());
  // mallory claims alice's instance from her own connection: refused, alice keeps the lease.
  protocol::Ready claim{"alice", {"billing.invoices"}, 5};
  claim.instance = "host-1/4242";
  SendAs(intruder_, "w-mallory", claim);
  Pass();
  ASSERT_EQ(1u, Denials("w-mallory").size());
  EXPECT_THAT(Denials("w-mallory")[0].reason, HasSubstr("another key"));
  // As a worker of her own she gets the other message, and cannot settle alice's lease.
  transport_.Clear();
  SendAs(intruder_, "w-mallory", protocol::Ready{"mallory", {"billing.invoices"}, 5});
  Pass();
  EXPECT_THAT(Ids(TakeDeliveries("w-mallory")), ElementsAre("m2"));
  SendAs(intruder_, "w-mallory", protocol::Ack{{items[0].lease_id}});
  Pass();
  const auto lost = transport_.Take<protocol::Error>("w-mallory");
  ASSERT_EQ(1u, lost.size());
  EXPECT_EQ(protocol::ErrorCode::kLeaseLost, lost[0].code);
  // Alice settles it herself.
  SendAs(worker_, "w-alice", protocol::Ack{{items[0].lease_id}});
  Pass();
  EXPECT_TRUE(transport_.To<protocol::Error>("w-alice").empty());
  EXPECT_FALSE(broker().StateOf("billing.invoices", "m1").has_value());
}

TEST_F(BrokerAccessTest, AKeyRemovedFromTheAuthFileKeepsNoRights) {
  Start();
  const Principal gone{Role::kRevoked, "old-key", {}};
  PublishAs(gone, "x", {{"billing.invoices", "a"}});
  SendAs(gone, "x", protocol::Ready{"x", {"billing.invoices"}, 1});
  SendAs(gone, "x", protocol::Credit{3});
  SendAs(gone, "x", protocol::Disconnect{});
  Pass();
  EXPECT_EQ(3u, Denials("x").size());
  EXPECT_EQ(nullptr, broker().FindQueue("billing.invoices"));
}

TEST(PrincipalTest, PatternsAreGlobsAndNoneMeansEveryQueue) {
  const Principal all{Role::kWorker, "w", {}};
  EXPECT_TRUE(all.CanConsume("anything"));
  EXPECT_FALSE(all.CanPublish("anything"));
  const Principal some{Role::kPublisher, "p", {"billing.*", "audit", "q?"}};
  EXPECT_TRUE(some.CanPublish("billing.invoices"));
  EXPECT_TRUE(some.CanPublish("audit"));
  EXPECT_TRUE(some.CanPublish("q1"));
  EXPECT_FALSE(some.CanPublish("q12"));
  EXPECT_FALSE(some.CanPublish("auditx"));
  EXPECT_FALSE(some.CanPublish("hr.billing.x"));
  const Principal admin{Role::kAdmin, "a", {}};
  EXPECT_TRUE(admin.CanPublish("x") && admin.CanConsume("x") && admin.IsAdmin());
  const Principal revoked{Role::kRevoked, "r", {}};
  EXPECT_FALSE(revoked.AllowsQueue("x"));
}

}  // namespace
}  // namespace mandrill::broker::testkit
