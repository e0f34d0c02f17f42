// The network thread decodes with the limits the broker's WELCOME announced: a payload over our
// 1 MiB default reaches the loop when the broker allows it, and a DELIVER it still cannot decode
// is nacked lease by lease (and counted), never dropped (issue 11, item 7).
#include "tests/integration/worker/net_thread_fixture.h"

namespace mandrill::testing {
namespace {

class NetThreadLimitsTest : public ScriptedBrokerTest {
 protected:
  static protocol::DeliverItem Big(std::uint64_t lease, std::size_t bytes) {
    auto item = Item(lease);
    item.payload.assign(bytes, 'x');
    return item;
  }
  void Welcome(std::uint32_t max_payload_bytes) {
    auto ready = Next(In(5s));
    ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
    protocol::Welcome w{"fake-broker", 1000, 30000, 600000};
    w.max_payload_bytes = max_payload_bytes;
    w.max_body_bytes = 64u << 20;
    w.max_batch = 10'000;
    Send(std::move(w));
  }
};

TEST_F(NetThreadLimitsTest, PayloadWithinTheWelcomedLimitIsDelivered) {
  Welcome(4u << 20);
  Send(protocol::Deliver{{Big(1, 3u << 20), Item(2)}});
  ASSERT_TRUE(Eventually([&] { return sink_.taken().size() == 2; }, 5s))
      << "a 3 MiB payload the broker allows did not reach the loop";
  EXPECT_EQ(net_->counters().undecodable_frames.load(), 0u);
}

TEST_F(NetThreadLimitsTest, DeliverOverTheLimitIsNackedNotDropped) {
  Welcome(0);  // an older broker: our default limit (1 MiB) applies
  Send(protocol::Deliver{{Item(3), Big(4, 2u << 20)}});
  std::vector<std::uint64_t> nacked;
  for (const auto until = In(5s); nacked.empty();) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "the undecodable DELIVER was not nacked";
    if (auto* n = std::get_if<protocol::Nack>(&*m)) {
      nacked = LeasesOf(*n, "worker cannot decode this DELIVER: ");
    }
  }
  // The whole frame was refused, so both leases go back, in order.
  EXPECT_EQ(nacked, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_TRUE(sink_.taken().empty());
  EXPECT_EQ(net_->counters().undecodable_frames.load(), 1u);
  EXPECT_EQ(net_->counters().undecodable_nacked.load(), 2u);
}

}  // namespace
}  // namespace mandrill::testing
