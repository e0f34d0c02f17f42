// publisher-fake-broker ENDPOINT: a fake broker that confirms every publish at once, for
// measuring mandrill-publish's throughput by hand. Prints the items received each second;
// exits on SIGINT/SIGTERM.
#include <signal.h>

#include <cstdio>
#include <ctime>

#include "tests/integration/publisher/fake_broker.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: publisher-fake-broker tcp://127.0.0.1:PORT\n");
    return 64;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the broker thread inherits the mask
  mandrill::publisher::testing::FakeBrokerScript script;
  script.record_ids = false;
  mandrill::publisher::testing::FakeBroker broker(argv[1], script);
  std::fprintf(stderr, "publisher-fake-broker: listening on %s\n", argv[1]);
  std::size_t last = 0;
  const timespec second{1, 0};
  while (sigtimedwait(&set, nullptr, &second) < 0) {
    const std::size_t now = broker.items_received();
    if (now != last) std::fprintf(stderr, "items=%zu (+%zu/s)\n", now, now - last);
    last = now;
  }
  return 0;
}
