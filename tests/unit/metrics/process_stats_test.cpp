// The process's own figures, read from /proc/self and getrusage.
#include "shared/metrics/process_stats.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/metrics/exposition.h"

namespace mandrill::metrics {
namespace {

TEST(ProcessStatsTest, ResidentMemoryIsPlausibleAndGrowsWithTouchedMemory) {
  const std::int64_t before = ResidentMemoryBytes();
  EXPECT_GT(before, 1 << 20);  // a running test binary holds more than a MiB
  std::vector<char> block(64 << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
  const std::int64_t after = ResidentMemoryBytes();
  EXPECT_GT(after, before + (32 << 20)) << before << " -> " << after;
  EXPECT_NE(block[4096], 1);  // keep the writes
}

TEST(ProcessStatsTest, CpuSecondsGrowWithWork) {
  const double before = ProcessCpuSeconds();
  EXPECT_GE(before, 0);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile std::uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  const double after = ProcessCpuSeconds();
  EXPECT_GT(after, before + 0.02) << before << " -> " << after;
}

TEST(ProcessStatsTest, ExposeProcessWritesBothFamilies) {
  Exposition e;
  ExposeProcess(e);
  const std::string& t = e.text();
  EXPECT_NE(t.find("# TYPE mandrill_process_resident_memory_bytes gauge\n"), std::string::npos);
  EXPECT_NE(t.find("\nmandrill_process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(t.find("# TYPE mandrill_process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(t.find("\nmandrill_process_cpu_seconds_total "), std::string::npos);
}

}  // namespace
}  // namespace mandrill::metrics
