#pragma once
// `promtool check metrics` (Debian package prometheus) on a rendered /metrics page, for unit
// tests of the renderers. Header-only: the unit test binaries do not link the test support lib.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace mandrill::testing {

// "" when promtool accepts `text`, else what it said; nullopt when promtool is not installed.
inline std::optional<std::string> PromtoolComplaint(const std::string& text) {
  if (::access("/usr/bin/promtool", X_OK) != 0) return std::nullopt;
  char in_path[] = "/tmp/mandrill_promtool_XXXXXX";
  const int fd = ::mkstemp(in_path);
  if (fd < 0) return "mkstemp failed";
  ::close(fd);
  const std::string out_path = std::string(in_path) + ".out";
  std::ofstream(in_path) << text;
  const std::string cmd =
      std::string("/usr/bin/promtool check metrics < ") + in_path + " > " + out_path + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(out_path);
  std::stringstream said;
  said << out.rdbuf();
  std::remove(in_path);
  std::remove(out_path.c_str());
  if (rc == 0) return std::string();
  return "promtool exit " + std::to_string(rc) + ": " + said.str();
}

}  // namespace mandrill::testing

// Skips without promtool, except under CI (CI set), where its absence fails the test.
#define EXPECT_PROMTOOL_ACCEPTS(text)                                                   \
  do {                                                                                  \
    const auto complaint = ::mandrill::testing::PromtoolComplaint(text);                \
    if (!complaint) {                                                                   \
      if (std::getenv("CI") != nullptr) FAIL() << "/usr/bin/promtool missing under CI"; \
      GTEST_SKIP() << "/usr/bin/promtool not installed (Debian package prometheus)";    \
    }                                                                                   \
    EXPECT_EQ(*complaint, "") << (text);                                                \
  } while (0)
