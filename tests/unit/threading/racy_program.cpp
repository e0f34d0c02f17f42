// A real data race of ours, built only in TSan builds: two threads increment a plain int with no
// synchronisation. expect_race.cmake runs it with tests/tsan.supp and fails unless TSan reports
// the race, so a suppression broad enough to hide our own code is caught.
#include <thread>

namespace {
int shared_counter = 0;  // deliberately unsynchronised

void Bump() {
  for (int i = 0; i < 100000; ++i) ++shared_counter;
}
}  // namespace

int main() {
  std::thread a(Bump);
  std::thread b(Bump);
  a.join();
  b.join();
  return shared_counter > 0 ? 0 : 1;
}
