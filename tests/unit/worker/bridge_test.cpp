// The bridge from the network thread into the loop: never blocks the producer, keeps order,
// runs the loop side on the loop thread, and refuses (with a room signal) beyond its capacity.
#include "worker/loop/bridge.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "tests/unit/worker/worker_test_util.h"

namespace mandrill::worker::testing {
namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Records what arrives, on which thread; closes `done` at NetStopped.
class Recorder final : public LoopEvents {
 public:
  void OnDeliveries(std::vector<protocol::DeliverItem>&& items) override {
    Note();
    for (const auto& i : items) log.push_back("deliver " + std::to_string(i.lease_id));
  }
  void OnLeasesLost(const std::vector<std::uint64_t>& leases) override {
    Note();
    log.push_back("lost " + std::to_string(leases.size()));
  }
  void OnSessionLost(const std::string& reason) override {
    Note();
    log.push_back("session lost: " + reason);
  }
  void OnExtended(const std::vector<protocol::ExtendedItem>& items) override {
    Note();
    log.push_back("extended " + std::to_string(items.size()));
  }
  void OnWelcome(const protocol::Welcome& w) override {
    Note();
    log.push_back("welcome " + w.broker_id);
  }
  void OnNetStopped(const std::string& reason, bool failed) override {
    Note();
    log.push_back("stopped " + reason + (failed ? " (failed)" : ""));
    done.Close();
  }
  void Note() {
    if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
  }
  runtime::Task<void> WaitDone() { (void)co_await done.Receive(); }

  std::vector<std::string> log;
  std::thread::id loop_thread;
  int wrong_thread = 0;
  runtime::Channel<int> done{0};
};

runtime::Task<void> RunUntilDone(Recorder* r) { co_await r->WaitDone(); }

TEST(BridgeTest, EventsReachTheLoopThreadInOrder) {
  runtime::Loop loop;
  Bridge bridge(loop, 100);
  Recorder recorder;
  recorder.loop_thread = std::this_thread::get_id();  // Run() makes this thread the loop's
  bridge.Attach(&recorder);
  std::thread net([&] {
    bridge.OnWelcome(WelcomeFrom("b1"));
    for (std::uint64_t batch = 0; batch < 50; ++batch) {
      std::vector<protocol::DeliverItem> items = {Item(batch * 2 + 1, "ok"),
                                                  Item(batch * 2 + 2, "ok")};
      // Never refused here: the loop keeps taking, and nothing waits for it.
      while (!bridge.OnDeliveries(items)) std::this_thread::yield();
    }
    bridge.OnLeasesLost({1, 2, 3});
    bridge.OnExtended({protocol::ExtendedItem{4, 100}});
    bridge.OnSessionLost("gone");
    bridge.OnNetStopped("closed on request", false);
  });
  loop.Run(RunUntilDone(&recorder));
  net.join();
  ASSERT_EQ(recorder.log.size(), 1u + 100u + 4u);
  EXPECT_EQ(recorder.log.front(), "welcome b1");
  for (std::size_t i = 1; i <= 100; ++i) EXPECT_EQ(recorder.log[i], "deliver " + std::to_string(i));
  EXPECT_EQ(recorder.log[101], "lost 3");
  EXPECT_EQ(recorder.log[102], "extended 1");
  EXPECT_EQ(recorder.log[103], "session lost: gone");
  EXPECT_EQ(recorder.log[104], "stopped closed on request");
  EXPECT_EQ(recorder.wrong_thread, 0);
  EXPECT_EQ(bridge.stats().delivered, 100u);
}

TEST(BridgeTest, RefusesDeliveriesBeyondCapacityWithoutBlockingAndSignalsRoom) {
  runtime::Loop loop;
  Bridge bridge(loop, 4);
  Recorder recorder;
  bridge.Attach(&recorder);
  // The loop is not running: the producer must still never wait.
  std::vector<protocol::DeliverItem> first = {Item(1, "ok"), Item(2, "ok"), Item(3, "ok")};
  EXPECT_TRUE(bridge.OnDeliveries(first));
  EXPECT_TRUE(first.empty());
  std::vector<protocol::DeliverItem> second = {Item(4, "ok"), Item(5, "ok")};
  EXPECT_FALSE(bridge.OnDeliveries(second));  // 3 + 2 > 4
  EXPECT_EQ(second.size(), 2u) << "a refused batch is left to the caller, untouched";
  EXPECT_FALSE(Readable(bridge.room_fd()));
  bridge.OnNetStopped("test", false);  // control events are never refused
  loop.Run(RunUntilDone(&recorder));   // the loop takes everything queued
  EXPECT_TRUE(Readable(bridge.room_fd()));
  EXPECT_EQ(recorder.log.size(), 4u);
  EXPECT_EQ(bridge.stats().refused, 1u);
}

TEST(BridgeTest, BatchLargerThanCapacityIsTakenWhenNothingIsInTransit) {
  runtime::Loop loop;
  Bridge bridge(loop, 2);
  std::vector<protocol::DeliverItem> big = {Item(1, "ok"), Item(2, "ok"), Item(3, "ok")};
  EXPECT_TRUE(bridge.OnDeliveries(big));  // never refused forever
}

// Close() is the loop's last word before its settlements go out: whatever was queued reaches the
// loop side at once, in order and past the chunk size, and nothing delivered later ever does
// (the network thread keeps and nacks it), while control events still flow.
TEST(BridgeTest, CloseHandsOverWhatIsQueuedAndRefusesLaterDeliveries) {
  runtime::Loop loop;
  Bridge bridge(loop, 1000);
  Recorder recorder;
  recorder.loop_thread = std::this_thread::get_id();
  bridge.Attach(&recorder);
  std::vector<protocol::DeliverItem> queued;
  for (std::uint64_t id = 1; id <= Bridge::kDispatchChunk + 4; ++id) queued.push_back(Item(id, "ok"));
  ASSERT_TRUE(bridge.OnDeliveries(queued));
  bridge.OnLeasesLost({9});
  std::vector<protocol::DeliverItem> tail = {Item(1000, "ok")};
  ASSERT_TRUE(bridge.OnDeliveries(tail));

  bridge.Close();  // as the loop does before it requests the close; the loop is not running
  ASSERT_EQ(recorder.log.size(), Bridge::kDispatchChunk + 4 + 2);
  EXPECT_EQ(recorder.log.front(), "deliver 1");
  EXPECT_EQ(recorder.log[Bridge::kDispatchChunk + 3], "deliver " + std::to_string(Bridge::kDispatchChunk + 4));
  EXPECT_EQ(recorder.log[Bridge::kDispatchChunk + 4], "lost 1");
  EXPECT_EQ(recorder.log.back(), "deliver 1000");

  std::vector<protocol::DeliverItem> late = {Item(2000, "ok"), Item(2001, "ok")};
  EXPECT_FALSE(bridge.OnDeliveries(late));
  EXPECT_EQ(late.size(), 2u) << "a refused batch stays with the network thread, untouched";
  EXPECT_FALSE(Readable(bridge.room_fd())) << "no room is ever promised after Close";
  bridge.OnNetStopped("closed on request", false);
  loop.Run(RunUntilDone(&recorder));  // the posted Dispatch finds only the NetStopped
  EXPECT_EQ(recorder.log.back(), "stopped closed on request");
  EXPECT_EQ(recorder.log.size(), Bridge::kDispatchChunk + 4 + 3);
  EXPECT_EQ(bridge.stats().delivered, Bridge::kDispatchChunk + 5);
  EXPECT_EQ(bridge.stats().refused, 1u);
  EXPECT_EQ(recorder.wrong_thread, 0);
}

// Hands each chunk's work to the loop before the next chunk: a callback queued by the loop side
// while it handles a chunk runs before the next chunk arrives.
class ChunkRecorder final : public LoopEvents {
 public:
  void OnDeliveries(std::vector<protocol::DeliverItem>&& items) override {
    sizes.push_back(items.size());
    for (const auto& i : items) log.push_back("deliver " + std::to_string(i.lease_id));
    runtime::Loop::Current()->CallSoon([this] { log.push_back("tick"); });
  }
  void OnLeasesLost(const std::vector<std::uint64_t>& leases) override {
    log.push_back("lost " + std::to_string(leases.front()));
  }
  void OnSessionLost(const std::string&) override {}
  void OnExtended(const std::vector<protocol::ExtendedItem>&) override {}
  void OnWelcome(const protocol::Welcome&) override {}
  void OnNetStopped(const std::string&, bool) override { done.Close(); }
  runtime::Task<void> WaitDone() { (void)co_await done.Receive(); }

  std::vector<std::string> log;
  std::vector<std::size_t> sizes;
  runtime::Channel<int> done{0};
};

runtime::Task<void> RunUntilChunksDone(ChunkRecorder* r) { co_await r->WaitDone(); }

TEST(BridgeTest, LargeBurstsReachTheLoopInChunksInOrder) {
  constexpr std::size_t kChunk = Bridge::kDispatchChunk;
  runtime::Loop loop;
  Bridge bridge(loop, 10 * kChunk);
  ChunkRecorder recorder;
  bridge.Attach(&recorder);
  std::uint64_t next = 1;
  auto batch = [&next](std::size_t n) {
    std::vector<protocol::DeliverItem> items;
    for (std::size_t i = 0; i < n; ++i) items.push_back(Item(next++, "ok"));
    return items;
  };
  auto big = batch(2 * kChunk + 10);
  ASSERT_TRUE(bridge.OnDeliveries(big));
  bridge.OnLeasesLost({777});  // between the deliveries: must stay between them
  auto small = batch(5);
  ASSERT_TRUE(bridge.OnDeliveries(small));
  bridge.OnNetStopped("test", false);
  loop.Run(RunUntilChunksDone(&recorder));

  // Chunks of at most kChunk; the event after the big batch comes after all of it.
  EXPECT_EQ(recorder.sizes, (std::vector<std::size_t>{kChunk, kChunk, 10, 5}));
  std::vector<std::string> want;
  std::uint64_t id = 1;
  for (std::size_t n : {kChunk, kChunk}) {
    for (std::size_t i = 0; i < n; ++i) want.push_back("deliver " + std::to_string(id++));
    want.push_back("tick");  // the loop ran this chunk's callbacks before the next chunk
  }
  for (int i = 0; i < 10; ++i) want.push_back("deliver " + std::to_string(id++));
  want.push_back("lost 777");
  for (int i = 0; i < 5; ++i) want.push_back("deliver " + std::to_string(id++));
  want.push_back("tick");
  want.push_back("tick");
  EXPECT_EQ(recorder.log, want);
  EXPECT_EQ(bridge.stats().delivered, 2 * kChunk + 15);
}

}  // namespace
}  // namespace mandrill::worker::testing
