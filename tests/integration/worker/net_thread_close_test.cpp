// The network thread's close against a scripted broker (a ROUTER in this process, on loopback):
// deliveries that the loop will never take (refused by its closed bridge, or arriving after the
// close was requested) are nacked for immediate redelivery before the DISCONNECT, so the broker
// counts them as nacked instead of releasing them with the connection.
#include "tests/integration/worker/net_thread_fixture.h"

namespace mandrill::testing {
namespace {

class NetThreadCloseTest : public ScriptedBrokerTest {};

TEST_F(NetThreadCloseTest, DeliveriesTheLoopWillNotTakeAreNackedBeforeTheDisconnect) {
  auto ready = Next(In(5s));
  ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
  Send(protocol::Welcome{"fake-broker", 1000, 30000, 600000});
  Send(protocol::Deliver{{Item(1)}});
  ASSERT_TRUE(Eventually([&] { return sink_.taken().size() == 1; }, 5s));

  // The loop is behind: lease 2 is refused and held by the network thread (back-pressure), and
  // the close comes before the loop has room again.
  sink_.refuse = true;
  Send(protocol::Deliver{{Item(2)}});
  ASSERT_TRUE(Eventually([&] { return sink_.refused() == 1; }, 5s));
  settlements_.Ack(1);
  settlements_.RequestClose();

  // Up to the close's STATS round trip: the loop's ACK and the held delivery's NACK.
  std::vector<std::uint64_t> acked, nacked;
  std::optional<std::uint64_t> sync_id;
  for (const auto until = In(5s); !sync_id;) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "no STATS request: the close never asked the broker to confirm";
    if (auto* a = std::get_if<protocol::Ack>(&*m)) acked.insert(acked.end(), a->leases.begin(), a->leases.end());
    if (auto* n = std::get_if<protocol::Nack>(&*m)) {
      for (auto id : LeasesOf(*n)) nacked.push_back(id);
    }
    if (auto* s = std::get_if<protocol::StatsRequest>(&*m)) sync_id = s->request_id;
    ASSERT_FALSE(std::holds_alternative<protocol::Disconnect>(*m)) << "DISCONNECT before the sync";
  }
  EXPECT_EQ(acked, std::vector<std::uint64_t>{1});
  EXPECT_EQ(nacked, std::vector<std::uint64_t>{2});

  // Sent before the broker saw CREDIT 0, arriving together with the sync's answer.
  Send(protocol::Deliver{{Item(3), Item(4)}});
  protocol::StatsReply reply;
  reply.request_id = *sync_id;
  Send(std::move(reply));
  nacked.clear();
  bool said_goodbye = false;
  for (const auto until = In(5s); !said_goodbye;) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "no DISCONNECT after the sync";
    if (auto* n = std::get_if<protocol::Nack>(&*m)) {
      for (auto id : LeasesOf(*n)) nacked.push_back(id);
    }
    said_goodbye = std::holds_alternative<protocol::Disconnect>(*m);
  }
  EXPECT_EQ(nacked, (std::vector<std::uint64_t>{3, 4})) << "late deliveries must precede DISCONNECT";
  net_->Join();
  EXPECT_EQ(net_->counters().nacked_on_close.load(), 3u);
  EXPECT_EQ(sink_.taken(), std::vector<std::uint64_t>{1}) << "the closed loop side got more";
}

// The loop closed its side a moment before its close request reaches the network thread: a
// delivery refused in between is nacked at once, not mistaken for back-pressure and held.
TEST_F(NetThreadCloseTest, DeliveryRefusedByAClosedLoopIsNackedAtOnce) {
  auto ready = Next(In(5s));
  ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
  Send(protocol::Welcome{"fake-broker", 1000, 30000, 600000});
  sink_.close = true;
  Send(protocol::Deliver{{Item(5), Item(6)}});
  // CREDIT 0 first, so the broker does not deliver the nacked messages straight back; then the
  // NACK, with no back-pressure hold in between.
  std::vector<std::uint64_t> nacked;
  bool credit_zero_first = false;
  for (const auto until = In(5s); nacked.empty();) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "the refused deliveries were held, not nacked";
    if (auto* c = std::get_if<protocol::Credit>(&*m)) credit_zero_first = c->credit == 0;
    if (auto* n = std::get_if<protocol::Nack>(&*m)) nacked = LeasesOf(*n);
  }
  EXPECT_TRUE(credit_zero_first);
  EXPECT_EQ(nacked, (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(net_->counters().refused_by_sink.load(), 0u);
  EXPECT_EQ(net_->counters().nacked_on_close.load(), 2u);
}

}  // namespace
}  // namespace mandrill::testing
