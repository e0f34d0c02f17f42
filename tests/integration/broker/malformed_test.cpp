// Bad input never crashes the broker: every malformed frame gets an error reply (or is dropped
// when it cannot be answered) and the broker keeps serving.
#include <random>

#include "shared/protocol/codec.h"
#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

std::string Version() { return std::string(protocol::VersionFrame()); }
std::string Cmd(protocol::Command c) { return std::string(1, static_cast<char>(c)); }

class MalformedTest : public BrokerTest {
 protected:
  ErrorCode ErrorFor(const std::vector<std::string>& frames) {
    Client& c = NewClient();
    c.SendRaw(frames);
    auto err = c.Expect<protocol::Error>(5s);
    EXPECT_TRUE(err.has_value()) << "no ERROR reply";
    if (err) {
      EXPECT_FALSE(err->reason.empty());
    }
    return err ? err->code : ErrorCode::kNone;
  }
  void ExpectStillServing() {
    ASSERT_TRUE(broker_->running()) << broker_->Log();
    NewClient().PublishConfirmed("alive", "probe-" + std::to_string(probe_++));
  }
  int probe_ = 0;
};

TEST_F(MalformedTest, EachMalformationGetsItsErrorCode) {
  StartBroker();
  EXPECT_EQ(ErrorFor({"garbage"}), ErrorCode::kMalformed);
  EXPECT_EQ(ErrorFor({"XYZ\x01", Cmd(protocol::Command::kHeartbeat), "\x90"}), ErrorCode::kMalformed);
  EXPECT_EQ(ErrorFor({std::string("MDL\x07"), Cmd(protocol::Command::kHeartbeat), "\x90"}),
            ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(ErrorFor({Version(), std::string(1, '\x7f'), "\x90"}), ErrorCode::kUnknownCommand);
  EXPECT_EQ(ErrorFor({Version(), Cmd(protocol::Command::kPublish), "\x91\x91\x94\xa1"}),
            ErrorCode::kMalformed);  // truncated msgpack
  // A payload declaring 4 GiB in a 12-byte body: refused as truncated or too large.
  const auto huge = ErrorFor({Version(), Cmd(protocol::Command::kPublish),
                              std::string("\x91\x91\x94\xa1q\xa1i\xc6\xff\xff\xff\xff", 12)});
  EXPECT_TRUE(huge == ErrorCode::kTooLarge || huge == ErrorCode::kMalformed);
  // An array declaring 4 billion elements.
  EXPECT_EQ(ErrorFor({Version(), Cmd(protocol::Command::kAck),
                      std::string("\x91\xdd\xff\xff\xff\xff", 6)}),
            ErrorCode::kTooLarge);
  EXPECT_EQ(ErrorFor({Version(), Cmd(protocol::Command::kAck), "\x91\xa3" "abc"}),
            ErrorCode::kMalformed);  // wrong field type
  EXPECT_EQ(ErrorFor({Version(), Cmd(protocol::Command::kHeartbeat), "\x90", "extra"}),
            ErrorCode::kMalformed);
  EXPECT_EQ(ErrorFor({Version(), Cmd(protocol::Command::kConfirm), "\x92\xa1q\x90"}),
            ErrorCode::kUnexpectedCommand);
  ExpectStillServing();
  EXPECT_GE(Counter(Stats(), "broker.bad_frames"), 10);
}

TEST_F(MalformedTest, RandomFramesNeverStopTheBroker) {
  StartBroker();
  std::mt19937 rng(20261122);
  Client& fuzzer = NewClient();
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string> frames;
    const int parts = 1 + static_cast<int>(rng() % 5);
    for (int p = 0; p < parts; ++p) {
      std::string f(rng() % 64, '\0');
      for (auto& ch : f) ch = static_cast<char>(rng());
      // Half the time, make the envelope valid so the body parser is exercised.
      if (p == 0 && rng() % 2) f = Version();
      if (p == 1 && rng() % 2) f = std::string(1, static_cast<char>(rng() % 0x40));
      frames.push_back(f);
    }
    fuzzer.SendRaw(frames);
  }
  ExpectStillServing();
}

}  // namespace
}  // namespace mandrill::testing
