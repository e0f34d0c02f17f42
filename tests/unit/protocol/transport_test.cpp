// protocol::Send / Receive / DecodeReceived over a real ZeroMQ DEALER -> ROUTER pair on inproc://.
// Every wait is a bounded zmq_poll; nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "shared/protocol/codec.h"
#include "shared/protocol/transport.h"
#include "tests/unit/protocol/codec_test_util.h"
#include "tests/unit/protocol/sample_messages.h"

namespace mandrill::protocol {
namespace {

using testutil::Describe;
using testutil::IsError;

constexpr long kWaitMs = 5000;  // a bound, not a sleep: polls return as soon as a message is in
constexpr char kWorkerId[] = "worker-1";

bool WaitFor(zmq::socket_t& s, short events) {
  zmq_pollitem_t item{s.handle(), 0, events, 0};
  return zmq_poll(&item, 1, kWaitMs) == 1;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next{0};
    endpoint_ = "inproc://mandrill-transport-test-" + std::to_string(next++);
    RouterOptions router_options;
    router_options.linger_ms = 0;
    ConfigureRouter(router_, router_options);
    router_.bind(endpoint_);
    DealerOptions dealer_options;
    dealer_options.identity = kWorkerId;
    dealer_options.linger_ms = 0;
    ConfigureDealer(dealer_, dealer_options);
    dealer_.connect(endpoint_);
    ASSERT_TRUE(WaitFor(dealer_, ZMQ_POLLOUT)) << "dealer never connected";
  }

  // Receives one message from `s`, waiting at most kWaitMs for it.
  Received ReceiveFrom(zmq::socket_t& s) {
    Received in;
    EXPECT_TRUE(WaitFor(s, ZMQ_POLLIN)) << "nothing arrived within " << kWaitMs << " ms";
    EXPECT_TRUE(Receive(s, in));
    return in;
  }

  // Sends raw frames, bypassing protocol::Send, to produce shapes it never would.
  static void SendFrames(zmq::socket_t& s, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const int flags = ZMQ_DONTWAIT | (i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
      ASSERT_EQ(zmq_send(s.handle(), frames[i].data(), frames[i].size(), flags),
                static_cast<int>(frames[i].size()))
          << zmq_strerror(zmq_errno());
    }
  }

  // Makes sure the ROUTER has seen the DEALER (so it can route to kWorkerId).
  void Introduce() {
    ASSERT_EQ(Send(dealer_, Heartbeat{}), SendResult::kSent);
    const auto in = ReceiveFrom(router_);
    ASSERT_EQ(in.frames.size(), 4u);
  }

  zmq::context_t context_;
  zmq::socket_t router_{context_, zmq::socket_type::router};
  zmq::socket_t dealer_{context_, zmq::socket_type::dealer};
  std::string endpoint_;
};

TEST_F(TransportTest, EveryCommandRoundTripsFromDealerToRouter) {
  for (const auto& m : samples::All()) {
    ASSERT_EQ(Send(dealer_, m), SendResult::kSent) << CommandName(CommandOf(m));
    const auto in = ReceiveFrom(router_);
    ASSERT_EQ(in.frames.size(), 4u);
    EXPECT_EQ(in.extra_frames, 0u);
    EXPECT_EQ(View(in.frames[0]), kWorkerId);
    EXPECT_EQ(View(in.frames[1]), VersionFrame());
    EXPECT_EQ(View(in.frames[2]), std::string(1, static_cast<char>(CommandOf(m))));
    const auto r = DecodeReceived(in, 1, Limits{});
    ASSERT_TRUE(r.ok()) << CommandName(CommandOf(m)) << ": " << Describe(r);
    EXPECT_TRUE(*r == m) << CommandName(CommandOf(m));
  }
}

TEST_F(TransportTest, EveryCommandRoundTripsFromRouterToDealer) {
  Introduce();
  for (const auto& m : samples::All()) {
    ASSERT_EQ(Send(router_, m, kWorkerId), SendResult::kSent) << CommandName(CommandOf(m));
    const auto in = ReceiveFrom(dealer_);
    ASSERT_EQ(in.frames.size(), 3u);
    const auto r = DecodeReceived(in, 0, Limits{});
    ASSERT_TRUE(r.ok()) << CommandName(CommandOf(m)) << ": " << Describe(r);
    EXPECT_TRUE(*r == m) << CommandName(CommandOf(m));
  }
}

TEST_F(TransportTest, SendEncodedSendsTheSameFramesAsSend) {
  const Message m = samples::OnePerCommand()[0];
  const auto body = samples::EncodeToString(m);
  ASSERT_EQ(SendEncoded(dealer_, CommandOf(m), body), SendResult::kSent);
  ASSERT_EQ(Send(dealer_, m), SendResult::kSent);
  const auto a = ReceiveFrom(router_);
  const auto b = ReceiveFrom(router_);
  ASSERT_EQ(a.frames.size(), 4u);
  ASSERT_EQ(b.frames.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(View(a.frames[i]), View(b.frames[i])) << "frame " << i;
  const auto r = DecodeReceived(a, 1, Limits{});
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == m);
}

TEST_F(TransportTest, DecodeReceivedAppliesTheLimitsItIsGiven) {
  ASSERT_EQ(Send(dealer_, Ack{{1, 2, 3, 4}}), SendResult::kSent);
  Limits limits;
  limits.max_batch = 2;
  EXPECT_TRUE(IsError(DecodeReceived(ReceiveFrom(router_), 1, limits), ErrorCode::kTooLarge));
}

TEST_F(TransportTest, RouterSendToUnknownPeerIsUnreachable) {
  EXPECT_EQ(Send(router_, Heartbeat{}, "nobody"), SendResult::kUnreachable);
}

TEST_F(TransportTest, DealerWithoutAConnectionWouldBlock) {
  zmq::socket_t lonely(context_, zmq::socket_type::dealer);
  DealerOptions options;
  options.linger_ms = 0;
  ConfigureDealer(lonely, options);
  EXPECT_EQ(Send(lonely, Heartbeat{}), SendResult::kWouldBlock);
}

TEST_F(TransportTest, ReceiveReturnsFalseWhenNothingIsWaiting) {
  Received in;
  EXPECT_FALSE(Receive(router_, in));
  EXPECT_TRUE(in.frames.empty());
}

TEST_F(TransportTest, TwoFramesAreMalformed) {
  SendFrames(dealer_, {std::string(VersionFrame()), "\x20"});
  const auto in = ReceiveFrom(router_);
  EXPECT_TRUE(IsError(DecodeReceived(in, 1, Limits{}), ErrorCode::kMalformed, "got 2"));
}

TEST_F(TransportTest, OneFrameIsMalformed) {
  SendFrames(dealer_, {"\x90"});
  EXPECT_TRUE(IsError(DecodeReceived(ReceiveFrom(router_), 1, Limits{}), ErrorCode::kMalformed,
                      "got 1"));
}

TEST_F(TransportTest, FourFramesAreMalformed) {
  SendFrames(dealer_, {std::string(VersionFrame()), "\x20", "\x90", "extra"});
  const auto in = ReceiveFrom(router_);
  EXPECT_EQ(in.frames.size(), 5u);
  EXPECT_EQ(in.extra_frames, 0u);
  EXPECT_TRUE(IsError(DecodeReceived(in, 1, Limits{}), ErrorCode::kMalformed, "got 4"));
}

TEST_F(TransportTest, FramesBeyondTheCapAreCountedNotKept) {
  std::vector<std::string> frames(10, "x");
  SendFrames(dealer_, frames);
  const auto in = ReceiveFrom(router_);
  EXPECT_EQ(in.frames.size(), Received::kMaxFrames);
  EXPECT_EQ(in.extra_frames, 11 - Received::kMaxFrames);  // 10 + the routing id
  EXPECT_TRUE(IsError(DecodeReceived(in, 1, Limits{}), ErrorCode::kMalformed, "got 10"));
}

TEST_F(TransportTest, ReceiveStartsAfreshForEachMessage) {
  SendFrames(dealer_, std::vector<std::string>(8, "x"));
  ASSERT_EQ(Send(dealer_, Credit{3}), SendResult::kSent);
  Received in;
  ASSERT_TRUE(WaitFor(router_, ZMQ_POLLIN));
  ASSERT_TRUE(Receive(router_, in));
  EXPECT_GT(in.extra_frames, 0u);
  ASSERT_TRUE(WaitFor(router_, ZMQ_POLLIN));
  ASSERT_TRUE(Receive(router_, in));  // the same Received, reused
  EXPECT_EQ(in.frames.size(), 4u);
  EXPECT_EQ(in.extra_frames, 0u);
  const auto r = DecodeReceived(in, 1, Limits{});
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == Message(Credit{3}));
}

TEST_F(TransportTest, DealerSideRejectsWrongFrameCount) {
  Introduce();
  SendFrames(router_, {kWorkerId, std::string(VersionFrame()), "\x20"});
  EXPECT_TRUE(IsError(DecodeReceived(ReceiveFrom(dealer_), 0, Limits{}), ErrorCode::kMalformed,
                      "got 2"));
}

TEST_F(TransportTest, MalformedFramesArriveIntactAndDecodeToTheirError) {
  SendFrames(dealer_, {std::string("MDL\x02", 4), "\x20", "\x90"});
  EXPECT_TRUE(IsError(DecodeReceived(ReceiveFrom(router_), 1, Limits{}),
                      ErrorCode::kUnsupportedVersion, "version 2"));
}

TEST_F(TransportTest, GeneratedRoutingIdsPrintAsHex) {
  zmq::socket_t anonymous(context_, zmq::socket_type::dealer);
  DealerOptions options;
  options.linger_ms = 0;
  ConfigureDealer(anonymous, options);
  anonymous.connect(endpoint_);
  ASSERT_TRUE(WaitFor(anonymous, ZMQ_POLLOUT));
  ASSERT_EQ(Send(anonymous, Heartbeat{}), SendResult::kSent);
  const auto in = ReceiveFrom(router_);
  ASSERT_EQ(in.frames.size(), 4u);
  const auto id = View(in.frames[0]);
  ASSERT_EQ(id.size(), 5u);  // ZeroMQ: a zero byte and a 32-bit counter
  const auto printable = PrintableId(id);
  EXPECT_EQ(printable.size(), 2u + 2 * id.size());
  EXPECT_EQ(printable.substr(0, 4), "0x00");
  EXPECT_EQ(PrintableId(kWorkerId), kWorkerId);
}

Received Frames(const std::vector<std::string>& parts, std::size_t extra) {
  Received in;
  in.frames.reserve(parts.size());  // capacity == size: an index past the end leaves the heap block
  for (const auto& p : parts) in.frames.emplace_back(p.data(), p.size());
  in.extra_frames = extra;
  return in;
}

TEST(DecodeReceivedTest, SkipsSeveralRoutingIds) {
  // Behind a ROUTER-ROUTER proxy there are two routing ids.
  const auto body = samples::EncodeToString(Credit{9});
  const auto in = Frames({"proxy", "peer", std::string(VersionFrame()), "\x12", body}, 0);
  const auto r = DecodeReceived(in, 2, Limits{});
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == Message(Credit{9}));
}

TEST(DecodeReceivedTest, FewerFramesThanRoutingIdsIsMalformed) {
  EXPECT_TRUE(IsError(DecodeReceived(Frames({"id"}, 0), 2, Limits{}), ErrorCode::kMalformed, "got 0"));
  EXPECT_TRUE(IsError(DecodeReceived(Received{}, 1, Limits{}), ErrorCode::kMalformed, "got 0"));
}

// REGRESSION (open bug, see the protocol test report): with three routing ids and one frame
// over Received::kMaxFrames, the total (5 kept + 1 counted = 6 = skip + 3) passes the count check
// and DecodeReceived reads in.frames[5], one past the 5 it kept. The read happens inside libzmq
// (uninstrumented, so ASan is silent), which finds a garbage zmq_msg_t and aborts the process:
// "Assertion failed: check () (src/msg.cpp:414)". Disabled until shared/protocol/transport.cpp
// also checks in.frames.size() against the total; run it with
//   protocol_unit_tests --gtest_also_run_disabled_tests --gtest_filter='*NeverReadsPast*'
TEST(DecodeReceivedTest, NeverReadsPastTheFramesItKept) {
  const auto in = Frames({"a", "b", "c", std::string(VersionFrame()), "\x20"}, 1);
  ASSERT_EQ(in.frames.size(), Received::kMaxFrames);
  // The body frame was discarded by Receive, so this cannot decode: any kMalformed answer is right.
  EXPECT_TRUE(IsError(DecodeReceived(in, 3, Limits{}), ErrorCode::kMalformed));
}

}  // namespace
}  // namespace mandrill::protocol
