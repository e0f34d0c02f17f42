#include "publisher/host_names.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace mandrill::publisher {
namespace {

TEST(HostNameGeneratorTest, NamesAreCattleDashFourLowercaseAlphanumerics) {
  HostNameGenerator gen(1);
  for (int i = 0; i < 10'000; ++i) {
    const auto name = gen.Next();
    ASSERT_TRUE(IsHostName(name)) << name;
  }
}

TEST(HostNameGeneratorTest, SameSeedGivesSameSequence) {
  HostNameGenerator a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.Next(), b.Next());
}

TEST(HostNameGeneratorTest, SequenceIsFixedAcrossBuildsForAGivenSeed) {
  // Pinned so a drill's seed means the same hosts on every machine: changing the mapping
  // from random bits to characters must be a deliberate decision.
  HostNameGenerator gen(42);
  const std::string first = gen.Next();
  HostNameGenerator again(42);
  EXPECT_EQ(again.Next(), first);
  std::mt19937_64 reference(42);
  const auto bits = reference();
  std::string expected = "cattle-";
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; expected.size() < 11 && i < 8; ++i) {
    const unsigned byte = (bits >> (8 * i)) & 0xff;
    if (byte < 252) expected.push_back(alphabet[byte % 36]);
  }
  if (expected.size() == 11) {
    EXPECT_EQ(first, expected);
  }
}

TEST(HostNameGeneratorTest, DifferentSeedsDiffer) {
  HostNameGenerator a(1), b(2);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a.Next() == b.Next();
  EXPECT_LT(same, 5);
}

TEST(HostNameGeneratorTest, NamesSpreadOverTheAlphabet) {
  HostNameGenerator gen(7);
  std::set<char> seen;
  for (int i = 0; i < 2000; ++i) {
    const auto name = gen.Next();
    seen.insert(name.begin() + 7, name.end());
  }
  EXPECT_EQ(seen.size(), 36u);
}

TEST(HostNameGeneratorTest, AppendNextAppends) {
  HostNameGenerator gen(3);
  std::string s = "restart ";
  gen.AppendNext(s);
  EXPECT_EQ(s.rfind("restart cattle-", 0), 0u);
  EXPECT_EQ(s.size(), 8u + 11u);
}

TEST(RandomTokenTest, HasRequestedLengthAndAlphabet) {
  std::mt19937_64 rng(5);
  const auto t = RandomToken(rng, 8);
  ASSERT_EQ(t.size(), 8u);
  EXPECT_TRUE(std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  })) << t;
}

TEST(IsHostNameTest, AcceptsOnlyTheShape) {
  EXPECT_TRUE(IsHostName("cattle-x7q2"));
  EXPECT_FALSE(IsHostName("cattle-x7q"));
  EXPECT_FALSE(IsHostName("cattle-x7q22"));
  EXPECT_FALSE(IsHostName("cattle-X7q2"));
  EXPECT_FALSE(IsHostName("pet-x7q2abc"));
  EXPECT_FALSE(IsHostName("cattle_x7q2"));
}

}  // namespace
}  // namespace mandrill::publisher
