// CURVE and roles against a real broker (issue 12): keys from WriteKeyFiles (what
// `mandrill-ctl keygen` writes), an auth file, and scripted clients on loopback.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "shared/security/curve_keys.h"
#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

class SecurityTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    for (const char* name : {"broker", "billing-pub", "billing-worker", "other-worker", "ops",
                             "stranger"}) {
      auto pair = security::WriteKeyFiles(dir_, name);
      ASSERT_TRUE(pair.ok()) << pair.error().message;
      keys_[name] = *pair;
    }
    WriteAuth({"publisher billing-pub " + keys_["billing-pub"].public_z85 + " billing.*",
               "worker billing-worker " + keys_["billing-worker"].public_z85 + " billing.*",
               "worker other-worker " + keys_["other-worker"].public_z85,
               "admin ops " + keys_["ops"].public_z85});
    StartBroker({"--curve-key", dir_ + "/broker.key", "--auth-file", dir_ + "/auth"});
  }
  void WriteAuth(const std::vector<std::string>& lines) {
    std::ofstream out(dir_ + "/auth", std::ios::trunc);
    out << "# role name key [queue patterns]\n";
    for (const auto& l : lines) out << l << "\n";
  }
  security::ClientKeys KeysOf(const std::string& name) {
    return {keys_[name], keys_["broker"].public_z85};
  }
  Client& As(const std::string& name) {
    clients_.push_back(std::make_unique<Client>(context_, endpoint_, KeysOf(name)));
    return *clients_.back();
  }
  std::optional<protocol::Error> Denied(Client& c) {
    auto e = c.Expect<protocol::Error>(5s);
    if (e && e->code != protocol::ErrorCode::kPermissionDenied) {
      ADD_FAILURE() << "expected PERMISSION_DENIED, got " << e->reason;
    }
    return e;
  }
  protocol::StatsReply AdminStats() {
    Client& ops = As("ops");
    ops.Send(protocol::StatsRequest{1});
    auto r = ops.Expect<protocol::StatsReply>(5s);
    EXPECT_TRUE(r.has_value());
    return r.value_or(protocol::StatsReply{});
  }

  std::map<std::string, security::KeyPair> keys_;
};

TEST_F(SecurityTest, AClientWithoutKeysOrWithAnUnknownKeyGetsNothing) {
  Client& plain = NewClient();
  EXPECT_FALSE(plain.TrySend(protocol::StatsRequest{1}, 1s) && plain.Receive(1s).has_value());
  Client& stranger = As("stranger");  // a valid key pair the auth file does not list
  EXPECT_FALSE(stranger.TrySend(protocol::StatsRequest{2}, 1s) && stranger.Receive(1s));
  EXPECT_GE(Counter(AdminStats(), "broker.auth_refused"), 1);
  EXPECT_TRUE(broker_->WaitForLog("refused an unknown CURVE key", 5s));
}

TEST_F(SecurityTest, AClientTalkingToTheWrongBrokerKeyGetsNothing) {
  security::ClientKeys wrong = KeysOf("ops");
  wrong.broker_public_z85 = keys_["stranger"].public_z85;
  clients_.push_back(std::make_unique<Client>(context_, endpoint_, wrong));
  Client& c = *clients_.back();
  EXPECT_FALSE(c.TrySend(protocol::StatsRequest{1}, 1s) && c.Receive(1s).has_value());
}

TEST_F(SecurityTest, APublisherPublishesToItsQueuesOnly) {
  Client& pub = As("billing-pub");
  pub.Send(OneMessage("billing.invoices", "inv-1"));
  auto c = pub.Expect<protocol::Confirm>(5s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(std::vector<std::string>{"inv-1"}, c->ids);
  pub.Send(OneMessage("hr.payroll", "pay-1"));
  auto e = Denied(pub);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ("hr.payroll", e->queue);
  // Nor may it consume, purge or read stats; each answered, the session going on.
  pub.Send(protocol::Ready{"pub", {"billing.invoices"}, 10});
  EXPECT_TRUE(Denied(pub).has_value());
  pub.Send(protocol::DlqPurgeRequest{5, "billing.invoices", {}});
  EXPECT_TRUE(Denied(pub).has_value());
  pub.Send(protocol::StatsRequest{6});
  EXPECT_TRUE(Denied(pub).has_value());
  pub.Send(OneMessage("billing.invoices", "inv-2"));
  EXPECT_TRUE(pub.Expect<protocol::Confirm>(5s).has_value());
  EXPECT_EQ(4, Counter(AdminStats(), "broker.permission_denied"));
}

TEST_F(SecurityTest, AWorkerTakesOnlyItsQueuesAndAnAdminSeesEverything) {
  Client& w = As("billing-worker");
  w.Send(protocol::Ready{"bw", {"hr.payroll"}, 10});
  EXPECT_TRUE(Denied(w).has_value());
  w.Send(protocol::Ready{"bw", {"billing.invoices"}, 10});
  EXPECT_TRUE(w.Expect<protocol::Welcome>(5s).has_value());
  const auto stats = AdminStats();
  EXPECT_EQ(1u, stats.workers.size());
  Client& ops = As("ops");
  ops.Send(protocol::DlqListRequest{3, "billing.invoices"});
  EXPECT_TRUE(ops.Expect<protocol::DlqListReply>(5s).has_value());
}

TEST_F(SecurityTest, AnotherKeyCannotAckAWorkersLeasesOrStealItsInstance) {
  Client& pub = As("billing-pub");
  pub.Send(OneMessage("billing.invoices", "job-1"));
  ASSERT_TRUE(pub.Expect<protocol::Confirm>(5s).has_value());
  Client& owner = As("billing-worker");
  protocol::Ready mine{"bw", {"billing.invoices"}, 1};
  mine.instance = "host-a/100";
  owner.Send(mine);
  auto d = owner.Expect<protocol::Deliver>(5s);
  ASSERT_TRUE(d.has_value());
  const std::uint64_t lease = d->items.at(0).lease_id;
  Client& thief = As("other-worker");  // may consume every queue, but is another key
  thief.Send(mine);                    // claims the instance (and so its leases)
  auto e = Denied(thief);
  ASSERT_TRUE(e.has_value());
  thief.Send(protocol::Ready{"thief", {"billing.invoices"}, 1});
  ASSERT_TRUE(thief.Expect<protocol::Welcome>(5s).has_value());
  thief.Send(protocol::Ack{{lease}});
  auto lost = thief.Expect<protocol::Error>(5s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(protocol::ErrorCode::kLeaseLost, lost->code);
  owner.Send(protocol::Ack{{lease}});
  // The owner's ack settled it: nothing left to deliver to anyone.
  EXPECT_FALSE(thief.Expect<protocol::Deliver>(500ms).has_value());
  for (const auto& q : AdminStats().queues) {
    if (q.name == "billing.invoices") {
      EXPECT_EQ(1u, q.acked) << "job-1 not settled by its owner";
    }
  }
}

TEST_F(SecurityTest, SighupAddsAKeyWithoutDroppingConnections) {
  Client& ops = As("ops");
  ops.Send(protocol::StatsRequest{1});
  ASSERT_TRUE(ops.Expect<protocol::StatsReply>(5s).has_value());
  Client& before = As("stranger");
  EXPECT_FALSE(before.TrySend(protocol::StatsRequest{2}, 500ms) && before.Receive(500ms));
  WriteAuth({"admin ops " + keys_["ops"].public_z85,
             "admin stranger " + keys_["stranger"].public_z85});
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLog("reloaded: 2 keys", 5s)) << broker_->Log();
  Client& after = As("stranger");
  after.Send(protocol::StatsRequest{3});
  EXPECT_TRUE(after.Expect<protocol::StatsReply>(5s).has_value());
  // The connection opened before the reload still works.
  ops.Send(protocol::StatsRequest{4});
  EXPECT_TRUE(ops.Expect<protocol::StatsReply>(5s).has_value());
  // A bad auth file keeps the keys in force and says which line is wrong.
  WriteAuth({"admin ops " + keys_["ops"].public_z85, "superuser x y"});
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(broker_->WaitForLog("line 3: unknown role 'superuser'", 5s)) << broker_->Log();
  ops.Send(protocol::StatsRequest{5});
  EXPECT_TRUE(ops.Expect<protocol::StatsReply>(5s).has_value());
}

TEST(BrokerBindTest, ANonLoopbackBindNeedsKeysOrInsecure) {
  const std::string dir = MakeTempDir("mandrill-bind-test");
  Process refused({Binary("mandrill-broker"), "--bind", "tcp://0.0.0.0:" + std::to_string(FreePort()),
                   "--storage", "memory"},
                  dir + "/refused.log");
  EXPECT_EQ(64, refused.Wait(10s).value_or(-1));
  EXPECT_NE(std::string::npos, refused.Log().find("--insecure")) << refused.Log();
  Process half({Binary("mandrill-broker"), "--curve-key", dir + "/x.key", "--storage", "memory"},
               dir + "/half.log");
  EXPECT_EQ(64, half.Wait(10s).value_or(-1));
  EXPECT_NE(std::string::npos, half.Log().find("go together")) << half.Log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mandrill::testing
