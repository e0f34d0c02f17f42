#include "shared/metrics/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "shared/metrics/exposition.h"

namespace mandrill::metrics {

std::int64_t ResidentMemoryBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long pages_total = 0, pages_resident = 0;
  const int got = std::fscanf(f, "%lld %lld", &pages_total, &pages_resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<std::int64_t>(pages_resident) * ::sysconf(_SC_PAGESIZE);
}

double ProcessCpuSeconds() {
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

void ExposeProcess(Exposition& e, std::initializer_list<Label> labels) {
  e.Family("mandrill_process_resident_memory_bytes", "gauge", "Resident set size.");
  e.Sample("mandrill_process_resident_memory_bytes", labels, ResidentMemoryBytes());
  e.Family("mandrill_process_cpu_seconds_total", "counter", "User and system CPU time.");
  e.Sample("mandrill_process_cpu_seconds_total", labels, ProcessCpuSeconds());
}

}  // namespace mandrill::metrics
