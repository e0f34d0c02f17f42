#include "broker/journal/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace mandrill::broker::journal::crc32c {
namespace {

// Test vectors from RFC 3720 (iSCSI) section B.4, as LevelDB's crc32c_test uses them.
TEST(Crc32cTest, MatchesStandardVectors) {
  char buf[32];
  std::memset(buf, 0, sizeof(buf));
  EXPECT_EQ(0x8a9136aau, Value(buf, sizeof(buf)));
  std::memset(buf, 0xff, sizeof(buf));
  EXPECT_EQ(0x62a8ab43u, Value(buf, sizeof(buf)));
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(0x46dd794eu, Value(buf, sizeof(buf)));
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(0x113fdb5cu, Value(buf, sizeof(buf)));
  EXPECT_EQ(0xe3069283u, Value(std::string_view("123456789")));
}

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  EXPECT_EQ(Value(std::string_view("hello world")),
            Extend(Value(std::string_view("hello ")), "world", 5));
}

TEST(Crc32cTest, HardwareAndPortableAgreeOnRandomData) {
  std::mt19937_64 rng(42);
  std::string data(4096 + 7, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  // Every length and misalignment up to 64, then large blocks.
  for (std::size_t off = 0; off < 8; ++off) {
    for (std::size_t n = 0; n < 64; ++n) {
      ASSERT_EQ(ExtendPortable(7, data.data() + off, n), ExtendHardware(7, data.data() + off, n))
          << "offset " << off << " length " << n;
    }
  }
  EXPECT_EQ(ExtendPortable(0, data.data() + 3, 4096), ExtendHardware(0, data.data() + 3, 4096));
  EXPECT_EQ(ExtendPortable(0, data.data(), data.size()), Value(data));
  std::printf("crc32c: hardware (SSE4.2) %s\n", HardwareAvailable() ? "available" : "absent");
}

TEST(Crc32cTest, MaskRoundTripsAndDiffers) {
  const std::uint32_t crc = Value(std::string_view("foo"));
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
}

}  // namespace
}  // namespace mandrill::broker::journal::crc32c
