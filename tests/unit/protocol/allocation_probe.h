#pragma once
// Measures the heap allocations the calling thread makes while a probe is alive, so a test can
// assert that decoding a tiny body declaring a 4 GiB array did not try to allocate 4 GiB.
//
// It uses the sanitizer allocator's malloc hooks (__sanitizer_install_malloc_and_free_hooks),
// present in ASan, TSan and libFuzzer builds. In a build without a sanitizer runtime nothing is
// measured and Available() is false: callers then skip their allocation assertions.
#include <cstddef>

namespace mandrill::protocol::testutil {

class AllocationProbe {
 public:
  // True if allocations are observable in this build.
  static bool Available();

  // Starts counting this thread's allocations. Probes do not nest.
  AllocationProbe();
  ~AllocationProbe();
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;

  std::size_t largest() const;  // biggest single allocation so far, bytes
  std::size_t total() const;    // sum of all allocations so far, bytes
  std::size_t count() const;    // number of allocations so far
};

}  // namespace mandrill::protocol::testutil
