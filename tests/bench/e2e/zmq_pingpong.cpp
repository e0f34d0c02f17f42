// The floor under any ZeroMQ broker at credit 1: a bare ROUTER process that answers every frame
// at once, and C DEALER clients on threads of this process each keeping one request in flight,
// over TCP on 127.0.0.1. Nothing is decoded, stored or scheduled: what it measures is libzmq's
// own cost of a round trip (two sends, two receives, the I/O threads' wake-ups). At credit 1 a
// broker needs at least one such round trip per message (DELIVER out, ACK in), so the figure
// bounds consume-only msgs/s at credit 1, and the server's CPU per round trip is the part of
// the broker's CPU per message no broker code can take away.
//
//   zmq_pingpong [--clients 2] [--round-trips 100000] [--bytes 100] [--server-cpu N]
// --server-cpu N pins the server process (its socket's thread and libzmq's I/O thread) to CPU N.
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <zmq.h>

#include "tests/support/process.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "zmq_pingpong: %s: %s\n", what, zmq_strerror(zmq_errno()));
  std::exit(1);
}

// The child: echo every [routing id, body] back until `total` frames were answered.
[[noreturn]] void Serve(const std::string& endpoint, long total, int ready_fd) {
  void* ctx = zmq_ctx_new();
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  if (zmq_bind(router, endpoint.c_str()) != 0) Die("bind");
  const char ok = 1;
  if (write(ready_fd, &ok, 1) != 1) _exit(1);
  close(ready_fd);
  zmq_msg_t id, body;
  zmq_msg_init(&id);
  zmq_msg_init(&body);
  for (long n = 0; n < total; ++n) {
    if (zmq_msg_recv(&id, router, 0) < 0 || zmq_msg_recv(&body, router, 0) < 0) Die("recv");
    if (zmq_msg_send(&id, router, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, router, 0) < 0) {
      Die("send");
    }
  }
  zmq_close(router);
  zmq_ctx_term(ctx);
  _exit(0);
}

void Client(void* ctx, const std::string& endpoint, long round_trips, std::size_t bytes) {
  void* dealer = zmq_socket(ctx, ZMQ_DEALER);
  if (zmq_connect(dealer, endpoint.c_str()) != 0) Die("connect");
  std::string payload(bytes, 'x');
  std::vector<char> buf(bytes + 64);
  for (long i = 0; i < round_trips; ++i) {
    if (zmq_send(dealer, payload.data(), payload.size(), 0) < 0) Die("client send");
    if (zmq_recv(dealer, buf.data(), buf.size(), 0) < 0) Die("client recv");
  }
  const int linger = 0;
  zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(dealer);
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 2;
  long round_trips = 100'000;
  std::size_t bytes = 100;
  int server_cpu = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--clients") clients = std::max(1, std::stoi(v));
    else if (k == "--round-trips") round_trips = std::max(1L, std::stol(v));
    else if (k == "--bytes") bytes = std::stoul(v);
    else if (k == "--server-cpu") server_cpu = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 64;
    }
  }
  const std::string endpoint = mandrill::testing::LoopbackEndpoint(mandrill::testing::FreePort());
  const long per_client = round_trips / clients;
  const long total = per_client * clients;
  int ready[2];
  if (pipe(ready) != 0) return 1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    if (server_cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(server_cpu, &set);
      if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity");
    }
    Serve(endpoint, total, ready[1]);
  }
  close(ready[1]);
  char ok = 0;
  if (read(ready[0], &ok, 1) != 1) {
    std::fprintf(stderr, "zmq_pingpong: the server did not start\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 1;
  }
  close(ready[0]);

  void* ctx = zmq_ctx_new();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] { Client(ctx, endpoint, per_client, bytes); });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  zmq_ctx_term(ctx);
  const double server_cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                            usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  std::printf("pingpong: nproc=%ld clients=%d round_trips=%ld bytes=%zu server_cpu=%s\n",
              sysconf(_SC_NPROCESSORS_ONLN), clients, total, bytes,
              server_cpu >= 0 ? std::to_string(server_cpu).c_str() : "any");
  std::printf("pingpong: %.0f round trips/s; server CPU %.2f us per round trip (user+sys, all "
              "its threads); %.1f us per round trip per client\n",
              total / seconds, server_cpu_s * 1e6 / total, seconds * 1e6 / per_client);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
