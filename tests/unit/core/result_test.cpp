// Result<T> and Status: expected failures as values.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "shared/core/result.h"
#include "shared/protocol/error_code.h"

namespace mandrill::core {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Error{Errc::kInvalidArgument, std::to_string(x) + " is odd"};
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
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(r.error().message, "3 is odd");
}

TEST(ResultTest, ErrorWithCodeZeroIsStillAnError) {
  const Result<int> r = Error{};
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.error().code);
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
  Result<std::vector<int>> e = Error{Errc::kIo, "x"};
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
  const Status s = ErrnoError(EIO, "fdatasync failed: EIO");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(s.error().code, std::errc::io_error);
  EXPECT_EQ(s.message(), "fdatasync failed: EIO");
}

TEST(StatusTest, ErrorsPropagateThroughFunctions) {
  const auto check = [](int x) -> Status {
    if (x < 0) return Error{Errc::kInvalidArgument, "negative"};
    return {};
  };
  EXPECT_TRUE(check(1).ok());
  EXPECT_EQ(check(-1).error().message, "negative");
}

TEST(ErrorTest, CodeNamesItsLayer) {
  const Error e{protocol::ErrorCode::kUnsupportedVersion, "version 2 is not supported"};
  EXPECT_EQ(e.code, protocol::ErrorCode::kUnsupportedVersion);
  EXPECT_TRUE(e.Is<protocol::ErrorCode>());
  EXPECT_FALSE(e.Is<Errc>());
  EXPECT_STREQ(e.code.category().name(), "mandrill.protocol");
  EXPECT_EQ(e.code.message(), "unsupported version");
  EXPECT_EQ(e.message, "version 2 is not supported");
}

TEST(ErrorTest, SameNumberInTwoLayersIsNotTheSameError) {
  // protocol kTooLarge is 103; a core error with value 103 must not compare equal to it.
  const Error a{protocol::ErrorCode::kTooLarge, "x"};
  const Error b{std::error_code(103, CoreCategory()), "x"};
  EXPECT_NE(a.code, b.code);
  EXPECT_NE(b.code, protocol::ErrorCode::kTooLarge);
}

TEST(ErrorTest, ErrnoErrorsCompareWithStdErrc) {
  const Error e = ErrnoError(ENOSPC, "write: No space left on device");
  EXPECT_EQ(e.code, std::errc::no_space_on_device);
  EXPECT_FALSE(e.Is<Errc>());
}

}  // namespace
}  // namespace mandrill::core
