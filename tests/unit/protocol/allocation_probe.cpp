#include "tests/unit/protocol/allocation_probe.h"

#include <cstdlib>
#include <mutex>

// Provided by the sanitizer runtimes; null (weak) in a build without one.
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, std::size_t),
    void (*free_hook)(const volatile void*)) __attribute__((weak));

namespace mandrill::protocol::testutil {
namespace {

// Plain thread-locals (no constructors): the hooks run inside malloc.
thread_local bool t_active = false;
thread_local std::size_t t_largest = 0;
thread_local std::size_t t_total = 0;
thread_local std::size_t t_count = 0;
thread_local bool t_seen = false;  // set by any hooked allocation, active or not

void OnMalloc(const volatile void*, std::size_t size) {
  t_seen = true;
  if (!t_active) return;
  t_total += size;
  ++t_count;
  if (size > t_largest) t_largest = size;
}
void OnFree(const volatile void*) {}

bool Install() {
  if (__sanitizer_install_malloc_and_free_hooks == nullptr) return false;
  if (__sanitizer_install_malloc_and_free_hooks(&OnMalloc, &OnFree) == 0) return false;
  // Prove the hook fires (some runtimes accept hooks but never call them).
  t_seen = false;
  void* (*volatile allocate)(std::size_t) = &std::malloc;
  void* p = allocate(24);
  std::free(p);
  return t_seen;
}

}  // namespace

bool AllocationProbe::Available() {
  static const bool available = Install();
  return available;
}

AllocationProbe::AllocationProbe() {
  Available();
  t_largest = t_total = t_count = 0;
  t_active = true;
}
AllocationProbe::~AllocationProbe() { t_active = false; }

std::size_t AllocationProbe::largest() const { return t_largest; }
std::size_t AllocationProbe::total() const { return t_total; }
std::size_t AllocationProbe::count() const { return t_count; }

}  // namespace mandrill::protocol::testutil
