// Fuzz target: the broker's state machine (issue 10). The input is a program: each byte pair
// picks an operation and its arguments — frames from three publishers, four workers and an
// admin; connection closes (with fd reuse); storage becoming durable or failing; the clock
// moving; sends refused by the transport; reactor passes. After every step it checks:
//  - Broker::CheckInvariants: every message is in exactly one place, the counts agree, no
//    session holds more leases than its credit allowed;
//  - every message whose publish was confirmed is still ready, leased, deferred or dead, or
//    was settled (acked or purged): the broker never loses a confirmed message.
// Fake clock, storage and transport (tests/unit/broker): no sockets, no threads, no sleeps.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "tests/fuzz/protocol/fuzz_support.h"
#include "tests/unit/broker/fake_storage.h"
#include "tests/unit/broker/recording_transport.h"

namespace mandrill::fuzz {

std::vector<std::string> TargetSeeds() {
  // A few hand-written programs: publish + consume + ack; nack with delay; expiry; DLQ; crash.
  return {
      std::string("\x00\x01\x10\x02\x40\x00\x30\x00\x40\x00", 10),
      std::string("\x00\x07\x11\x13\x40\x00\x33\x21\x40\x00\x70\x20\x40\x00", 14),
      std::string("\x00\x02\x12\x24\x40\x00\x70\xff\x40\x00\x70\xff\x40\x00\x60\x00", 16),
      std::string("\x00\x05\x40\x00\x10\x31\x40\x00\x34\x00\x40\x00\x80\x01\x81\x00\x40\x00", 18),
      std::string("\x50\x00\x00\x03\x40\x00\x51\x03\x10\x11\x40\x00\x90\x10\x40\x00", 16),
  };
}

}  // namespace mandrill::fuzz

namespace {

using namespace mandrill;
using namespace mandrill::broker;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "broker state fuzzer: %s\n", what.c_str());
  std::abort();
}

const char* const kQueues[] = {"q0", "q1", "q2"};
const char* const kPublishers[] = {"pub-0", "pub-1", "pub-2"};
const char* const kWorkers[] = {"w0", "w1", "w2", "w3"};
constexpr char kAdmin[] = "ctl";

class Run {
 public:
  Run() : storage_(/*auto_durable=*/false) {
    options_.lease = std::chrono::milliseconds(1000);
    options_.max_lease = std::chrono::milliseconds(4000);
    options_.heartbeat = std::chrono::milliseconds(500);
    options_.max_deliveries = 3;
    options_.queue_limit = 20;
    options_.dedup_window = std::chrono::hours(1000);  // so a settled id stays checkable
    options_.max_queues = 3;
    options_.max_dead_letters = 4;
    options_.max_peers = 6;
    options_.queue_idle = std::chrono::milliseconds(3000);
    options_.lease_id_seed = 1;  // reproducible: an input must replay the same way
    transport_.set_limits(options_.limits);
    broker_ = std::make_unique<Broker>(options_, storage_, clock_, transport_);
    if (!broker_->Recover().ok()) Fail("recover failed");
  }

  void Step(std::uint8_t op, std::uint8_t arg) {
    const std::uint8_t lo = arg & 0x0f, hi = arg >> 4;
    switch (op >> 4) {
      case 0x0: Publish(op & 3, arg); break;
      case 0x1: Ready(op & 3, lo, hi); break;
      case 0x2: Send(kWorkers[op & 3], protocol::Credit{lo}); break;
      case 0x3: Settle(op & 3, (op >> 2) & 3, arg); break;
      case 0x4: Pass(); break;
      case 0x5: Storage(op & 0x0f, arg); break;
      case 0x6: Advance(arg); break;
      case 0x7: Advance(static_cast<std::uint32_t>(arg) * 37); break;
      case 0x8: Admin(op & 0x0f, arg); break;
      case 0x9: Close(op & 3, (arg & 1) != 0); break;
      case 0xa: Send(kWorkers[op & 3], protocol::Heartbeat{}); break;
      case 0xb: Send(kWorkers[op & 3], protocol::Disconnect{"bye"}); break;
      case 0xc: RefuseSend(op & 7, arg); break;
      case 0xd: broker_->OnBadFrame(Peer(op & 7), core::Error{protocol::ErrorCode::kMalformed, "x"},
                                    arg); break;
      default: Pass(); break;
    }
    Check();
  }

  void Finish() {
    // Everything durable, time passes: the program ends in a settled state that is checked too.
    storage_.MakeAllDurable();
    broker_->OnStorageProgress(storage_.Poll());
    Pass();
    Check();
  }

 private:
  static const char* Peer(int i) {
    static const char* const kAll[] = {"pub-0", "pub-1", "pub-2", "w0", "w1", "w2", "w3", kAdmin};
    return kAll[i & 7];
  }

  void Send(const std::string& peer, protocol::Message m, int fd = -1) {
    broker_->OnFrame(peer, fd, std::move(m));
  }

  void Publish(int publisher, std::uint8_t arg) {
    protocol::Publish p;
    const int n = 1 + (arg & 3);
    for (int i = 0; i < n; ++i) {
      const int id = (arg >> 2) + i * 7;  // ids repeat: retries and duplicates
      const std::string queue = kQueues[(arg + i) % 3];
      protocol::Headers h;
      if ((arg & 0x80) != 0) h.emplace_back("k", std::string(static_cast<std::size_t>(arg & 0x1f), 'v'));
      p.items.push_back({queue, "id-" + std::to_string(id % 24), std::string(arg % 40, 'x'), h});
    }
    Send(kPublishers[publisher % 3], std::move(p));
  }

  void Ready(int w, std::uint8_t mask, std::uint8_t credit) {
    protocol::Ready r;
    r.worker = kWorkers[w];
    for (int q = 0; q < 3; ++q) {
      if (mask & (1 << q)) r.queues.push_back(kQueues[q]);
    }
    if (r.queues.empty()) r.queues.push_back(kQueues[0]);
    r.credit = credit % 6;
    // Bit 3: the same process as worker (w+1)%4 reconnecting on this connection.
    r.instance = "inst-" + std::to_string((mask & 8) != 0 ? (w + 1) % 4 : w);
    Send(kWorkers[w], std::move(r), 100 + w);
  }

  // Ack (kind 0), extend (1), nack (2) or nack with delay (3) one of the leases delivered to
  // worker w (or a stale/unknown one).
  void Settle(int w, int kind, std::uint8_t arg) {
    auto& held = leases_[w];
    std::uint64_t lease = 0xdead0000u + arg;
    if (!held.empty() && arg < 0xf0) lease = held[arg % held.size()];
    switch (kind) {
      case 0: Send(kWorkers[w], protocol::Ack{{lease}}); break;
      case 1: Send(kWorkers[w], protocol::Extend{static_cast<std::uint32_t>(arg) * 20, {lease}}); break;
      case 2: Send(kWorkers[w], protocol::Nack{{{lease, 0, "failed"}}}); break;
      default: Send(kWorkers[w], protocol::Nack{{{lease, static_cast<std::uint32_t>(arg) * 10, "later"}}}); break;
    }
  }

  void Storage(int kind, std::uint8_t arg) {
    const Ticket last = storage_.last_ticket();
    if (last == 0) return;
    if (kind < 8) {
      storage_.MakeDurable(last - std::min<Ticket>(last, arg % 8));
    } else {
      const Ticket first = last - std::min<Ticket>(last - 1, arg % 8);
      storage_.Fail(first, last, "injected");
      storage_.MakeDurable(last);
    }
    broker_->OnStorageProgress(storage_.Poll());
  }

  void Advance(std::uint32_t ms) { clock_.Advance(std::chrono::milliseconds(ms)); }

  void Admin(int kind, std::uint8_t arg) {
    const std::string queue = kQueues[arg % 3];
    std::vector<std::string> ids;
    if ((arg & 0x80) != 0) ids.push_back("id-" + std::to_string((arg >> 2) % 24));
    switch (kind % 5) {
      case 0: Send(kAdmin, protocol::StatsRequest{1, "", 0}); break;
      case 1: Send(kAdmin, protocol::QueuesRequest{2, "", static_cast<std::uint32_t>(arg % 3)}); break;
      case 2: Send(kAdmin, protocol::DlqListRequest{3, queue, arg}); break;
      case 3: Send(kAdmin, protocol::DlqRequeueRequest{4, queue, ids}); break;
      default: Send(kAdmin, protocol::DlqPurgeRequest{5, queue, ids}); break;
    }
  }

  void Close(int w, bool reused) { broker_->OnConnectionClosed(100 + w, reused); }

  void RefuseSend(int peer, std::uint8_t arg) {
    const auto result = (arg & 1) ? protocol::SendResult::kUnreachable
                                  : protocol::SendResult::kWouldBlock;
    transport_.FailNext(Peer(peer), (arg & 2) ? protocol::Command::kDeliver
                                              : protocol::Command::kWelcome, result);
  }

  void Pass() {
    broker_->OnTimers();
    broker_->EndPass();
    Observe();
  }

  // What the peers were told: confirms (the messages that must never be lost) and leases.
  void Observe() {
    for (const auto& sent : transport_.all()) {
      if (sent.result != protocol::SendResult::kSent) continue;
      if (const auto* c = std::get_if<protocol::Confirm>(&sent.message)) {
        for (const auto& id : c->ids) confirmed_.insert({c->queue, id});
      } else if (const auto* d = std::get_if<protocol::Deliver>(&sent.message)) {
        for (int w = 0; w < 4; ++w) {
          if (sent.peer != kWorkers[w]) continue;
          for (const auto& item : d->items) {
            leases_[w].push_back(item.lease_id);
            if (leases_[w].size() > 16) leases_[w].erase(leases_[w].begin());
          }
        }
      }
    }
    transport_.Clear();
  }

  void Check() {
    if (auto st = broker_->CheckInvariants(); !st.ok()) Fail(st.message());
    for (const auto& [queue, id] : confirmed_) {
      bool settled = false;
      const auto state = broker_->StateOf(queue, id, &settled);
      if (!state && !settled) Fail("confirmed message " + queue + "/" + id + " was lost");
      if (state && *state == MessageState::kPending) {
        Fail("confirmed message " + queue + "/" + id + " is pending again");
      }
    }
  }

  BrokerOptions options_;
  core::VirtualClock clock_;
  testkit::FakeStorage storage_;
  testkit::RecordingTransport transport_;
  std::unique_ptr<Broker> broker_;
  std::set<std::pair<std::string, std::string>> confirmed_;
  std::map<int, std::vector<std::uint64_t>> leases_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  if (size > 4096) return 0;  // long programs only slow the search down
  Run run;
  for (std::size_t i = 0; i + 1 < size; i += 2) run.Step(data[i], data[i + 1]);
  run.Finish();
  return 0;
}
