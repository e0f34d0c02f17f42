// A READY the broker refuses for what it says (a bad queue name) stops the network thread as a
// failure with the broker's reason, instead of announcing again every 500 ms forever; one it
// refuses for now (a broker-wide limit) is announced again (issue 11, item 6).
#include "tests/integration/worker/net_thread_fixture.h"

namespace mandrill::testing {
namespace {

class NetThreadReadyTest : public ScriptedBrokerTest {
 protected:
  static protocol::Error RefuseReady(protocol::ErrorCode code, std::string reason) {
    protocol::Error e;
    e.code = code;
    e.reason = std::move(reason);
    e.answers = static_cast<std::uint8_t>(protocol::Command::kReady);
    return e;
  }
};

TEST_F(NetThreadReadyTest, ReadyRefusedForGoodStopsTheThreadWithTheReason) {
  auto ready = Next(In(5s));
  ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
  Send(RefuseReady(protocol::ErrorCode::kInvalidArgument, "READY: queue name 'q q' is bad"));
  ASSERT_TRUE(Eventually([&] { return sink_.stopped(); }, 5s)) << "still announcing";
  EXPECT_TRUE(sink_.failed());
  EXPECT_NE(sink_.stop_reason().find("READY: queue name 'q q' is bad"), std::string::npos)
      << sink_.stop_reason();
  said_goodbye_ = true;  // nothing more will come: TearDown need not wait for it
}

TEST_F(NetThreadReadyTest, ReadyRefusedForNowIsAnnouncedAgain) {
  auto ready = Next(In(5s));
  ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
  Send(RefuseReady(protocol::ErrorCode::kLimitReached, "the broker serves 1 peers"));
  std::optional<protocol::Message> again;
  for (const auto until = In(5s); !again || !std::holds_alternative<protocol::Ready>(*again);) {
    again = Next(until);
    ASSERT_TRUE(again) << "no second READY after a refusal for now";
  }
  EXPECT_FALSE(sink_.stopped());
}

}  // namespace
}  // namespace mandrill::testing
