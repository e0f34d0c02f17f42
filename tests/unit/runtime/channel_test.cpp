#include "shared/runtime/channel.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/supervisor.h"
#include "shared/runtime/timeout.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::MsSince;
using testing::RunVirtual;

Task<void> Producer(Channel<int>* ch, int from, int n, std::vector<long long>* sent_at) {
  TimePoint start = Loop::Current()->Now();
  for (int i = from; i < from + n; ++i) {
    EXPECT_TRUE(co_await ch->Send(i));
    if (sent_at != nullptr) sent_at->push_back(MsSince(start));
  }
}

Task<void> SendWaitsWhenFull() {
  Channel<int> ch(2);
  std::vector<long long> sent_at;
  Supervisor sup("s");
  sup.Spawn("producer", Producer(&ch, 0, 4, &sent_at));
  co_await Sleep(100ms);
  EXPECT_EQ(sent_at, (std::vector<long long>{0, 0}));  // 2 buffered, the 3rd waits
  EXPECT_EQ(ch.size(), 2u);
  std::vector<int> got;
  for (int i = 0; i < 4; ++i) {
    got.push_back(*co_await ch.Receive());
    co_await Sleep(10ms);
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(sent_at, (std::vector<long long>{0, 0, 100, 110}));
  co_await sup.Join();
}
TEST(ChannelTest, SendWaitsWhileFull) { RunVirtual(SendWaitsWhenFull()); }

Task<void> Consumer(Channel<int>* ch, std::vector<int>* got) {
  while (auto v = co_await ch->Receive()) got->push_back(*v);
}
Task<void> CloseWakesReceivers() {
  Channel<int> ch(8);
  std::vector<int> got1, got2;
  Supervisor sup("s");
  sup.Spawn("c1", Consumer(&ch, &got1));
  sup.Spawn("c2", Consumer(&ch, &got2));
  co_await Sleep(1ms);
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(co_await ch.Send(i));
  ch.Close();
  EXPECT_FALSE(co_await ch.Send(99));
  co_await sup.Join();  // both consumers saw nullopt and returned
  EXPECT_EQ(got1.size() + got2.size(), 6u);
}
TEST(ChannelTest, CloseWakesReceiversAfterTheyDrain) { RunVirtual(CloseWakesReceivers()); }

Task<void> ManyProducersManyConsumers() {
  Channel<int> ch(3);
  std::vector<int> got1, got2;
  Supervisor consumers("c");
  consumers.Spawn("c1", Consumer(&ch, &got1));
  consumers.Spawn("c2", Consumer(&ch, &got2));
  {
    Supervisor producers("p");
    for (int p = 0; p < 4; ++p) producers.Spawn("p", Producer(&ch, p * 1000, 250, nullptr));
    co_await producers.Join();
  }
  ch.Close();
  co_await consumers.Join();
  std::vector<int> all = got1;
  all.insert(all.end(), got2.begin(), got2.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all.size(), 1000u);
  if (all.size() != 1000u) co_return;
  for (int p = 0; p < 4; ++p) {
    for (int i = 0; i < 250; ++i) EXPECT_EQ(all[p * 250 + i], p * 1000 + i);
  }
}
TEST(ChannelTest, ManyProducersManyConsumersLoseNothing) { RunVirtual(ManyProducersManyConsumers()); }

Task<void> Rendezvous() {
  Channel<int> ch(0);
  std::vector<long long> sent_at;
  Supervisor sup("s");
  sup.Spawn("producer", Producer(&ch, 0, 1, &sent_at));
  co_await Sleep(50ms);
  EXPECT_TRUE(sent_at.empty());  // no buffer: the send waits for a receiver
  EXPECT_EQ(*co_await ch.Receive(), 0);
  co_await sup.Join();
  EXPECT_EQ(sent_at, (std::vector<long long>{50}));
}
TEST(ChannelTest, CapacityZeroIsARendezvous) { RunVirtual(Rendezvous()); }

Task<void> CancelledWaitsLoseNothing() {
  Channel<int> ch(1);
  EXPECT_TRUE(co_await ch.Send(1));
  // A send waiting on a full channel is cancelled: its value is not enqueued.
  auto sent = co_await MoveOnAfter(10ms, [](Channel<int>* c) -> Task<bool> {
    co_return co_await c->Send(2);
  }(&ch));
  EXPECT_FALSE(sent.has_value());
  EXPECT_EQ(ch.size(), 1u);
  EXPECT_EQ(*co_await ch.Receive(), 1);
  // A receive waiting on an empty channel is cancelled; a later value is still there.
  auto got = co_await MoveOnAfter(10ms, [](Channel<int>* c) -> Task<std::optional<int>> {
    co_return co_await c->Receive();
  }(&ch));
  EXPECT_FALSE(got.has_value());
  int v = 3;
  EXPECT_TRUE(ch.TrySend(v));
  EXPECT_EQ(ch.TryReceive(), 3);
  EXPECT_EQ(ch.TryReceive(), std::nullopt);
}
TEST(ChannelTest, CancelledSendAndReceiveLoseNothing) { RunVirtual(CancelledWaitsLoseNothing()); }

// The handoff to a waiting receiver happened before its cancellation was noticed: the receiver
// gets the value (and the cancellation at its next await).
Task<void> HandoffBeatsCancellation() {
  Channel<int> ch(1);
  std::optional<int> got;
  bool cancelled_later = false;
  Supervisor sup("s");
  TaskHandle r = sup.Spawn("receiver", [](Channel<int>* c, std::optional<int>* out,
                                          bool* later) -> Task<void> {
    *out = co_await c->Receive();
    try {
      co_await Yield();
    } catch (const Cancelled&) {
      *later = true;
      throw;
    }
  }(&ch, &got, &cancelled_later));
  co_await Sleep(1ms);
  EXPECT_TRUE(co_await ch.Send(7));  // hands off and schedules the receiver
  r.Cancel();                        // cancellation arrives before it runs
  co_await r.Join();
  EXPECT_EQ(got, 7);
  EXPECT_TRUE(cancelled_later);
  co_await sup.Join();
}
TEST(ChannelTest, ValueHandedOffBeforeCancellationIsDelivered) {
  RunVirtual(HandoffBeatsCancellation());
}

}  // namespace
}  // namespace mandrill::runtime
