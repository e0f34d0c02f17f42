// mandrill_lease_probe: a worker that keeps a lease across a broker takeover, for the takeover
// drill (tests/chaos/drills/takeover_drill_test.sh). A real mandrill-worker forgets its leases
// when WELCOME names a new broker; this one deliberately does not, to show that the broker
// fences them anyway: it leases one message, holds it (heartbeating, never settling) until it
// is WELCOMEd by a broker of another epoch, then ACKs the old lease and expects LEASE_LOST.
//
//   mandrill_lease_probe --broker ENDPOINT --queue NAME [--timeout-s N]
//
// Prints "probe: ..." lines as it goes; the last one says what the new broker answered. Exit 0
// when the old lease's ACK was answered LEASE_LOST by a higher epoch, 1 otherwise (another
// answer, a lower epoch, or the timeout), 64 on bad usage.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "shared/protocol/codec.h"
#include "shared/protocol/transport.h"

namespace {

using namespace mandrill;
using Clock = std::chrono::steady_clock;

struct ProbeArgs {
  std::string broker;
  std::string queue;
  int timeout_s = 60;
};

std::optional<ProbeArgs> ParseProbeArgs(int argc, char** argv) {
  ProbeArgs a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--broker") a.broker = argv[i + 1];
    else if (flag == "--queue") a.queue = argv[i + 1];
    else if (flag == "--timeout-s") a.timeout_s = std::atoi(argv[i + 1]);
    else return std::nullopt;
  }
  if (a.broker.empty() || a.queue.empty() || a.timeout_s <= 0 || argc % 2 == 0) return std::nullopt;
  return a;
}

void Say(const std::string& line) {
  std::printf("probe: %s\n", line.c_str());
  std::fflush(stdout);
}

class Probe {
 public:
  Probe(zmq::context_t& context, const ProbeArgs& args) : args_(args), socket_(context, zmq::socket_type::dealer) {
    protocol::DealerOptions o;
    o.linger_ms = 0;
    o.reconnect_max_ms = 500;  // find the new broker soon after the takeover
    protocol::ConfigureDealer(socket_, o);
    socket_.connect(args.broker);
  }

  int Run() {
    const auto deadline = Clock::now() + std::chrono::seconds(args_.timeout_s);
    auto next_tick = Clock::now();
    while (Clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      protocol::Received in;
      while (protocol::Receive(socket_, in)) {
        auto m = protocol::DecodeReceived(in, 0, protocol::Limits{});
        if (!m.ok()) {
          Say("undecodable frame from the broker: " + m.error().message);
          continue;
        }
        if (auto done = Handle(std::move(*m))) return *done;
        in = protocol::Received{};
      }
      if (Clock::now() >= next_tick) {
        next_tick = Clock::now() + std::chrono::milliseconds(500);
        // Announce until welcomed (credit 1 until a lease is held, then 0: hold just that one);
        // heartbeat once welcomed, so the broker keeps the session (and the lease) alive.
        if (!welcomed_) {
          protocol::Send(socket_, protocol::Ready{"lease-probe", {args_.queue}, lease_ ? 0u : 1u});
        } else {
          protocol::Send(socket_, protocol::Heartbeat{});
        }
      }
    }
    Say("timed out: " + std::string(lease_ ? "no takeover answered the old lease"
                                           : "no message was delivered"));
    return 1;
  }

 private:
  // The exit code once the probe is done; nullopt to go on.
  std::optional<int> Handle(protocol::Message&& m) {
    if (auto* w = std::get_if<protocol::Welcome>(&m)) {
      welcomed_ = true;
      if (!lease_) {
        first_epoch_ = w->epoch;
        Say("welcomed by broker " + w->broker_id + " epoch " + std::to_string(w->epoch));
      } else if (w->epoch != first_epoch_) {
        new_epoch_ = w->epoch;
        Say("welcomed by broker " + w->broker_id + " epoch " + std::to_string(w->epoch) +
            " (the lease is from epoch " + std::to_string(first_epoch_) + "): acking it anyway");
        protocol::Send(socket_, protocol::Ack{{*lease_}});
      }
    } else if (auto* d = std::get_if<protocol::Deliver>(&m)) {
      if (!lease_ && !d->items.empty()) {
        lease_ = d->items[0].lease_id;
        char hex[32];
        std::snprintf(hex, sizeof hex, "%#018" PRIx64, *lease_);
        Say("holding lease " + std::string(hex) + " of message " + d->items[0].id + " (epoch " +
            std::to_string(first_epoch_) + ", attempt " + std::to_string(d->items[0].attempt) +
            ")");
      }
    } else if (auto* e = std::get_if<protocol::Error>(&m)) {
      if (e->code == protocol::ErrorCode::kNotReady || e->code == protocol::ErrorCode::kShuttingDown) {
        welcomed_ = false;  // a new broker that does not know us yet: announce again
      } else if (e->code == protocol::ErrorCode::kLeaseLost && lease_ && new_epoch_ &&
                 e->leases.size() == 1 && e->leases[0] == *lease_) {
        const bool higher = *new_epoch_ > first_epoch_;
        Say(std::string(higher ? "PASS" : "FAIL") + ": ACK of the epoch " +
            std::to_string(first_epoch_) + " lease answered LEASE_LOST by epoch " +
            std::to_string(*new_epoch_) + " (" + e->reason + ")");
        return higher ? 0 : 1;
      } else {
        Say("FAIL: unexpected ERROR " + std::string(protocol::ErrorCodeName(e->code)) + ": " +
            e->reason);
        return 1;
      }
    } else if (std::holds_alternative<protocol::Disconnect>(m)) {
      welcomed_ = false;
    }
    return std::nullopt;
  }

  const ProbeArgs& args_;
  zmq::socket_t socket_;
  bool welcomed_ = false;
  std::uint64_t first_epoch_ = 0;
  std::optional<std::uint64_t> lease_;
  std::optional<std::uint64_t> new_epoch_;
};

}  // namespace

int main(int argc, char** argv) {
  auto args = ParseProbeArgs(argc, argv);
  if (!args) {
    std::fprintf(stderr, "usage: %s --broker ENDPOINT --queue NAME [--timeout-s N]\n", argv[0]);
    return 64;
  }
  zmq::context_t context(1);
  Probe probe(context, *args);
  return probe.Run();
}
