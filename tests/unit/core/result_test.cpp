// Result<T> and Status: expected failures as values.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "shared/core/result.h"

namespace mandrill::core {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return MakeError(7, std::to_string(x) + " is odd");
  return x / 2;
}

TEST(ResultTest, HoldsAValue) {
  const auto r = Half(10);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), 5);
  EXPECT_EQ(*r, 5);
}

TEST(ResultTest, HoldsAnError) {
  const auto r = Half(3);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.error().code, 7);
  EXPECT_EQ(r.error().message, "3 is odd");
}

TEST(ResultTest, ErrorWithCodeZeroIsStillAnError) {
  const Result<int> r = Error{};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 0);
}

TEST(ResultTest, ArrowAndStarReachTheValue) {
  Result<std::string> r = std::string("mandrill");
  EXPECT_EQ(r->size(), 8u);
  r->append("!");
  (*r)[0] = 'M';
  EXPECT_EQ(r.value(), "Mandrill!");
}

TEST(ResultTest, MoveOnlyValuesCanBeMovedOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(42);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 42);
}

TEST(ResultTest, ValueSurvivesCopyAndMove) {
  Result<std::vector<int>> a = std::vector<int>{1, 2, 3};
  Result<std::vector<int>> b = a;
  Result<std::vector<int>> c = std::move(a);
  EXPECT_EQ(b.value(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(c.value(), (std::vector<int>{1, 2, 3}));
  Result<std::vector<int>> e = MakeError(1, "x");
  e = c;
  EXPECT_TRUE(e.ok());
}

TEST(ResultTest, IsNotImplicitlyBool) {
  static_assert(!std::is_convertible_v<Result<int>, bool>);
  static_assert(std::is_constructible_v<bool, Result<int>>);
  static_assert(!std::is_convertible_v<Status, bool>);
}

TEST(StatusTest, DefaultIsOk) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, FromAnErrorIsNotOk) {
  const Status s = MakeError(204, "fdatasync failed: EIO");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(s.error().code, 204);
  EXPECT_EQ(s.message(), "fdatasync failed: EIO");
}

TEST(StatusTest, ErrorsPropagateThroughFunctions) {
  const auto check = [](int x) -> Status {
    if (x < 0) return Error{3, "negative"};
    return {};
  };
  EXPECT_TRUE(check(1).ok());
  EXPECT_EQ(check(-1).error().message, "negative");
}

TEST(MakeErrorTest, FillsCodeAndMessage) {
  const Error e = MakeError(101, "version 2 is not supported");
  EXPECT_EQ(e.code, 101);
  EXPECT_EQ(e.message, "version 2 is not supported");
}

}  // namespace
}  // namespace mandrill::core
