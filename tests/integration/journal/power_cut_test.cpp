// Crash consistency against a real broker (issue 11): the broker runs with the power-cut layer
// (tests/support/powercut_preload.cpp) recording what each fsync/fdatasync made durable; after
// a SIGKILL the data dir is cut back to what a power loss could leave (every file to its last
// synced length, files created since their directory was last synced removed) and the broker
// is restarted on that image. Several cycles with small segments (rolls) and acks (deletion);
// at the end every confirmed message must have been delivered.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Applies the power cut described by the layer's log to `dir`. `before`: the files that were
// there (durable) when the broker started.
void CutToDurable(const std::string& dir, const std::string& log,
                  const std::set<std::string>& before) {
  std::map<std::string, std::uint64_t> synced;
  std::set<std::string> listed;
  bool dir_synced = false;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind, path;
    words >> kind >> path;
    if (kind == "F") {
      std::uint64_t size = 0;
      words >> size;
      synced[fs::path(path).filename().string()] = size;
    } else if (kind == "D" && fs::path(path) == fs::path(dir)) {
      dir_synced = true;
      listed.clear();
      for (std::string name; words >> name;) listed.insert(name);
    }
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".seg") continue;
    const bool durable_entry = before.count(name) > 0 || (dir_synced && listed.count(name) > 0);
    if (!durable_entry) {
      fs::remove(e.path());
      continue;
    }
    auto it = synced.find(name);
    if (it != synced.end()) {
      if (it->second < fs::file_size(e.path())) fs::resize_file(e.path(), it->second);
    } else if (before.count(name) == 0) {
      fs::resize_file(e.path(), 0);  // created and listed, but nothing in it was ever synced
    }
  }
}

std::set<std::string> Segments(const std::string& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.insert(e.path().filename().string());
  }
  return out;
}

class PowerCutTest : public BrokerTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    // The layer is not built with the sanitizers: let ASan accept it ahead of its runtime.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string opts = std::string(asan != nullptr ? asan : "") + ":verify_asan_link_order=0";
    ::setenv("ASAN_OPTIONS", opts.c_str(), 1);
  }
  std::unique_ptr<Process> StartRecorded(const std::vector<std::string>& flags,
                                         const std::string& log) {
    if (port_ == 0) port_ = FreePort();
    endpoint_ = LoopbackEndpoint(port_);
    auto p = std::make_unique<Process>(
        BrokerArgv(endpoint_, dir_ + "/data", flags),
        dir_ + "/broker-" + std::to_string(++starts_) + ".log",
        std::vector<std::string>{"LD_PRELOAD=" + Binary("libmandrill_powercut.so"),
                                 "MANDRILL_POWERCUT_LOG=" + log,
                                 "MANDRILL_POWERCUT_DIR=" + fs::weakly_canonical(dir_).string()});
    EXPECT_TRUE(p->WaitForLog("listening on", 20s)) << p->Log();
    return p;
  }
};

// always: nothing confirmed may be lost. interval:MS confirms after the write, so a power cut
// may lose what was confirmed in the last MS before the kill: the test says how many.
TEST_P(PowerCutTest, ConfirmedMessagesSurvivePowerCuts) {
  const std::string policy = GetParam();
  const std::vector<std::string> flags = {"--storage",       "journal", "--fsync",    policy,
                                          "--segment-bytes", "65536",   "--lease-ms", "60000"};
  constexpr int kCycles = 4;
  constexpr int kPerCycle = 300;
  std::set<std::string> confirmed, delivered;
  fs::create_directories(dir_ + "/data");
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const std::string log = dir_ + "/powercut-" + std::to_string(cycle) + ".log";
    const std::set<std::string> before = Segments(dir_ + "/data");
    auto broker = StartRecorded(flags, log);
    ASSERT_TRUE(broker->running()) << broker->Log();
    {
      Client pub(context_, endpoint_);
      for (int i = 0; i < kPerCycle; i += 50) {
        protocol::Publish p;
        for (int k = i; k < i + 50; ++k) {
          p.items.push_back({"restarts",
                             "c" + std::to_string(cycle) + "-" + std::to_string(k),
                             std::string(400, 'x'),
                             {}});
        }
        pub.Send(p);
      }
      while (confirmed.size() < static_cast<std::size_t>((cycle + 1) * kPerCycle)) {
        auto c = pub.Expect<protocol::Confirm>(10s);
        ASSERT_TRUE(c.has_value()) << "confirms stopped at " << confirmed.size();
        confirmed.insert(c->ids.begin(), c->ids.end());
      }
      // Settle some: acks make segments deletable and the ack records need syncs too.
      Client worker(context_, endpoint_);
      worker.Ready("restarts", 100);
      auto d = worker.Deliveries(100, 10s);
      std::vector<std::uint64_t> leases;
      for (const auto& item : d) {
        delivered.insert(item.id);
        leases.push_back(item.lease_id);
      }
      worker.Send(protocol::Ack{leases});
      pub.PublishConfirmed("restarts", "marker-" + std::to_string(cycle));  // the acks are in
      confirmed.insert("marker-" + std::to_string(cycle));
    }
    broker->Kill();  // SIGKILL, then the power goes
    CutToDurable(dir_ + "/data", log, before);
  }
  StartBroker(flags);
  Client worker = Client(context_, endpoint_);
  worker.Ready("restarts", 1000);
  for (;;) {
    auto d = worker.Deliveries(1000, 3s);
    if (d.empty()) break;
    std::vector<std::uint64_t> leases;
    for (const auto& item : d) {
      delivered.insert(item.id);
      leases.push_back(item.lease_id);
    }
    worker.Send(protocol::Ack{leases});
  }
  std::size_t lost = 0;
  for (const auto& id : confirmed) lost += delivered.count(id) == 0;
  std::printf("power cut, fsync %s: %d cycles, %zu confirmed, %zu delivered, %zu lost\n",
              policy.c_str(), kCycles, confirmed.size(), delivered.size(), lost);
  if (policy == "always") {
    EXPECT_EQ(0u, lost);
  } else {
    // At most what each cycle confirmed after its last interval sync.
    EXPECT_LE(lost, static_cast<std::size_t>(kCycles * (kPerCycle + 1)));
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, PowerCutTest, ::testing::Values("always", "interval:50"),
                         [](const auto& info) {
                           return std::string(info.param).substr(0, 6) == "always" ? "always"
                                                                                   : "interval";
                         });

}  // namespace
}  // namespace mandrill::testing
