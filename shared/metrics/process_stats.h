#pragma once
// The process's own figures for /metrics, read from /proc/self (Linux).
#include <cstdint>
#include <initializer_list>

#include "shared/metrics/exposition.h"

namespace mandrill::metrics {

// Resident set size in bytes; 0 if /proc cannot be read.
std::int64_t ResidentMemoryBytes();
// User + system CPU time of the whole process, in seconds.
double ProcessCpuSeconds();
// Both as mandrill_process_resident_memory_bytes and mandrill_process_cpu_seconds_total, read
// now (on the metrics server's thread: they are the process's, not the reactor's or the loop's).
// `labels` name the process where several share a host (the worker's worker=NAME).
void ExposeProcess(Exposition& e, std::initializer_list<Label> labels = {});

}  // namespace mandrill::metrics
