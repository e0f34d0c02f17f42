#pragma once
// The process's own figures for /metrics, read from /proc/self (Linux).
#include <cstdint>

namespace mandrill::metrics {

// Resident set size in bytes; 0 if /proc cannot be read.
std::int64_t ResidentMemoryBytes();
// User + system CPU time of the whole process, in seconds.
double ProcessCpuSeconds();

}  // namespace mandrill::metrics
