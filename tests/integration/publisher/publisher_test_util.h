#pragma once
// Helpers shared by the mandrill-publish / mandrill-ctl integration tests.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace mandrill::publisher::testing {

using namespace std::chrono_literals;
using mandrill::testing::Binary;
using mandrill::testing::Process;

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A temp dir and a loopback endpoint per test.
class PublisherProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = mandrill::testing::MakeTempDir("mandrill-publisher-test");
    endpoint_ = mandrill::testing::LoopbackEndpoint(mandrill::testing::FreePort());
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Starts mandrill-publish with --broker and --queue filled in; output to <log>.
  Process StartPublish(std::vector<std::string> args, const std::string& log = "publish.log") {
    std::vector<std::string> argv = {Binary("mandrill-publish"), "--broker", endpoint_, "--queue",
                                     "restarts"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, Path(log));
  }

  // Same with stdin redirected from `input_file` (Process gives children /dev/null): the
  // shell execs the publisher, so the PID is the publisher's.
  Process StartPublishWithStdin(const std::vector<std::string>& args, const std::string& input_file,
                                const std::string& log = "publish.log") {
    std::string cmd =
        "exec '" + Binary("mandrill-publish") + "' --broker " + endpoint_ + " --queue restarts";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " < '" + input_file + "'";
    return Process({"/bin/sh", "-c", cmd}, Path(log));
  }

  // Waits for exit within `timeout`; fails the test (and returns -1) if it does not.
  static int ExitCode(Process& p, std::chrono::milliseconds timeout = 30s) {
    auto code = p.Wait(timeout);
    EXPECT_TRUE(code.has_value()) << "still running after " << timeout.count() << "ms; log:\n"
                                  << p.Log();
    return code.value_or(-1);
  }

  // The summary line's value for `key` (e.g. "confirmed"), or -1.
  static long long SummaryValue(const std::string& log, const std::string& key) {
    const std::string head = "mandrill-publish: published=";
    const auto start = log.find(head);
    if (start == std::string::npos) return -1;
    const std::string line = " " + log.substr(start + 18, log.find('\n', start) - start - 18);
    const auto at = line.find(" " + key + "=");
    if (at == std::string::npos) return -1;
    return std::atoll(line.c_str() + at + key.size() + 2);
  }

  std::string dir_;
  std::string endpoint_;
};

}  // namespace mandrill::publisher::testing
