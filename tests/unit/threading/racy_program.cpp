// Real data races of ours, built only in TSan builds. expect_race.cmake runs this with
// tests/tsan.supp and fails unless TSan reports both, so a suppression broad enough to hide our
// own code is caught:
// - PlainRace: two threads increment a plain int with no synchronisation;
// - RaceInsideZmqCallback: the same, but the racing write is in a free function that libzmq
//   calls (zmq_msg_close), so libzmq's frames are on the stack: exactly what a whole-library
//   `race:libzmq.so` suppression would hide.
#include <zmq.h>

#include <cstdio>
#include <thread>

namespace {
int plain_counter = 0;     // deliberately unsynchronised
int callback_counter = 0;  // deliberately unsynchronised

void PlainRace() {
  for (int i = 0; i < 1000; ++i) ++plain_counter;
}

void CountRelease(void* /*data*/, void* /*hint*/) { ++callback_counter; }

void RaceInsideZmqCallback() {
  static char payload[16] = "racy";
  for (int i = 0; i < 1000; ++i) {
    zmq_msg_t msg;
    zmq_msg_init_data(&msg, payload, sizeof payload, CountRelease, nullptr);
    zmq_msg_close(&msg);  // libzmq calls CountRelease
  }
}
}  // namespace

int main() {
  std::thread a(PlainRace);
  std::thread b(PlainRace);
  a.join();
  b.join();
  std::thread c(RaceInsideZmqCallback);
  std::thread d(RaceInsideZmqCallback);
  c.join();
  d.join();
  std::printf("%d %d\n", plain_counter, callback_counter);
  return 0;
}
