// ParseByteSize / FormatByteSize: sizes on command lines (--max-memory).
#include "shared/core/byte_size.h"

#include <gtest/gtest.h>

namespace mandrill::core {
namespace {

TEST(ByteSizeTest, BareNumbersAreBytesAndUnitsAreBinaryOrDecimal) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(*ParseByteSize("512B"), 512u);
  EXPECT_EQ(*ParseByteSize("4K"), 4096u);
  EXPECT_EQ(*ParseByteSize("64MiB"), 64u << 20);
  EXPECT_EQ(*ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseByteSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseByteSize("2GB"), 2'000'000'000u);
  EXPECT_EQ(*ParseByteSize("1TiB"), 1ull << 40);
}

TEST(ByteSizeTest, JunkNegativesFractionsAndOverflowAreClearErrors) {
  for (const char* bad : {"", "-1", "1.5G", "G", "12 MB", "3XB", "99999999999999999999",
                          "20000000TiB"}) {
    const auto r = ParseByteSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find("512MiB"), std::string::npos) << r.error().message;
  }
}

TEST(ByteSizeTest, FormatPicksTheLargestUnit) {
  EXPECT_EQ(FormatByteSize(512), "512 B");
  EXPECT_EQ(FormatByteSize(64u << 20), "64.0 MiB");
  EXPECT_EQ(FormatByteSize(3ull << 29), "1.5 GiB");
}

}  // namespace
}  // namespace mandrill::core
