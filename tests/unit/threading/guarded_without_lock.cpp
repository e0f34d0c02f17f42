// Must NOT compile under clang -Wthread-safety -Werror (see CMakeLists.txt): Bump() writes a
// GUARDED_BY member without holding its mutex. Were the analysis off (macros expanding to
// nothing, or the flag missing), this would compile and the ctest would fail.
#include "shared/core/mutex.h"

namespace {

class Counter {
 public:
  void Bump() { ++value_; }  // the violation: mu_ is not held
  int Read() {
    mandrill::core::MutexLock lock(mu_);
    return value_;
  }

 private:
  mandrill::core::Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int ThreadSafetyViolation() {
  Counter c;
  c.Bump();
  return c.Read();
}
