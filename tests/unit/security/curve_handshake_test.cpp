// One real CURVE handshake on loopback TCP (inproc skips the security mechanism): a DEALER set
// up by MakeCurveClient talks to a CURVE server ROUTER, as a client talks to the broker; one
// holding the wrong broker key, or none, is never heard.
#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "shared/security/curve_keys.h"

namespace mandrill::security {
namespace {

using std::chrono::milliseconds;

// No ZAP handler in the context, so libzmq admits any client key: this checks the encryption
// and the client's check of the server; the broker's auth file is tested with the broker.
class CurveHandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = GenerateKeyPair();
    ASSERT_TRUE(pair.ok()) << pair.error().message;
    server_ = *pair;
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, server_.secret_z85);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }

  // A connected DEALER with a fresh key pair that trusts `broker_public`; plaintext when empty.
  zmq::socket_t Client(const std::string& broker_public) {
    zmq::socket_t dealer(context_, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    if (!broker_public.empty()) {
      auto own = GenerateKeyPair();
      EXPECT_TRUE(own.ok());
      MakeCurveClient(dealer, *own, broker_public);
    }
    dealer.connect(endpoint_);
    return dealer;
  }

  static bool Readable(zmq::socket_t& s, milliseconds within) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    return zmq::poll(&item, 1, within) > 0;
  }

  zmq::context_t context_{1};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  KeyPair server_;
  std::string endpoint_;
};

TEST_F(CurveHandshakeTest, AClientTrustingTheServerKeyExchangesAMessage) {
  zmq::socket_t dealer = Client(server_.public_z85);
  // Without ZMQ_IMMEDIATE the DEALER queues until the handshake is done.
  ASSERT_TRUE(dealer.send(zmq::str_buffer("ping"), zmq::send_flags::dontwait));
  ASSERT_TRUE(Readable(router_, milliseconds(5000))) << "nothing arrived within 5 s";
  std::vector<zmq::message_t> parts;
  ASSERT_TRUE(zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].to_string(), "ping");

  ASSERT_TRUE(router_.send(parts[0], zmq::send_flags::sndmore));
  ASSERT_TRUE(router_.send(zmq::str_buffer("pong"), zmq::send_flags::none));
  ASSERT_TRUE(Readable(dealer, milliseconds(5000))) << "no reply within 5 s";
  zmq::message_t reply;
  ASSERT_TRUE(dealer.recv(reply, zmq::recv_flags::dontwait));
  EXPECT_EQ(reply.to_string(), "pong");
}

TEST_F(CurveHandshakeTest, AClientTrustingAnotherServerKeyIsNeverHeard) {
  auto impostor = GenerateKeyPair();
  ASSERT_TRUE(impostor.ok());
  zmq::socket_t dealer = Client(impostor->public_z85);
  ASSERT_TRUE(dealer.send(zmq::str_buffer("ping"), zmq::send_flags::dontwait));
  EXPECT_FALSE(Readable(router_, milliseconds(500)));
  EXPECT_FALSE(Readable(dealer, milliseconds(0)));
}

// What the first test proves is CURVE, not a plaintext connection that happens to work.
TEST_F(CurveHandshakeTest, APlaintextClientIsNeverHeard) {
  zmq::socket_t dealer = Client("");
  ASSERT_TRUE(dealer.send(zmq::str_buffer("ping"), zmq::send_flags::dontwait));
  EXPECT_FALSE(Readable(router_, milliseconds(500)));
}

}  // namespace
}  // namespace mandrill::security
