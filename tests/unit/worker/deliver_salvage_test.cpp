#include "worker/net/deliver_salvage.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>

#include "shared/protocol/codec.h"

namespace mandrill::worker {
namespace {

std::string Body(const protocol::Message& m) {
  msgpack::sbuffer out;
  protocol::EncodeBody(m, out);
  return std::string(out.data(), out.size());
}

protocol::DeliverItem Item(std::uint64_t lease, std::size_t payload_bytes) {
  protocol::DeliverItem d;
  d.lease_id = lease;
  d.id = "m" + std::to_string(lease);
  d.queue = "q";
  d.payload.assign(payload_bytes, 'x');
  d.attempt = 1;
  return d;
}

TEST(DeliverSalvageTest, LeasesOfADeliverOverTheLimitsAreRead) {
  const std::string body = Body(protocol::Deliver{{Item(7, 10), Item(8, 2u << 20), Item(9, 1)}});
  // The strict decoder refuses it with the default limits...
  EXPECT_FALSE(protocol::Decode(protocol::VersionFrame(),
                                std::string(1, static_cast<char>(protocol::Command::kDeliver)),
                                body, protocol::Limits{})
                   .ok());
  // ...and every lease is still named.
  const auto s = SalvageDeliverLeases(body);
  EXPECT_EQ(s.items, 3u);
  EXPECT_EQ(s.leases, (std::vector<std::uint64_t>{7, 8, 9}));
}

TEST(DeliverSalvageTest, ItemsWithoutALeaseAreCountedNotNamed) {
  msgpack::sbuffer out;
  msgpack::packer<msgpack::sbuffer> pk(out);
  pk.pack_array(1);
  pk.pack_array(3);
  pk.pack_array(2).pack(std::uint64_t{5}).pack("id");
  pk.pack_array(2).pack("not a lease").pack("id");
  pk.pack(42);  // not an item at all
  const auto s = SalvageDeliverLeases(std::string_view(out.data(), out.size()));
  EXPECT_EQ(s.items, 3u);
  EXPECT_EQ(s.leases, std::vector<std::uint64_t>{5});
}

TEST(DeliverSalvageTest, GarbageYieldsNothing) {
  EXPECT_TRUE(SalvageDeliverLeases("").leases.empty());
  EXPECT_EQ(SalvageDeliverLeases("\xc1\xc1\xc1").items, 0u);
  EXPECT_TRUE(SalvageDeliverLeases("\x91\x92").leases.empty());  // truncated
  EXPECT_TRUE(SalvageDeliverLeases("\x91\x01").leases.empty());  // items is not an array
}

}  // namespace
}  // namespace mandrill::worker
