// Crash consistency against a real broker (issue 11): the broker runs with the power-cut layer
// (tests/support/powercut_preload.cpp) recording what each fsync/fdatasync made durable; after
// a SIGKILL the data dir is cut back to what a power loss could leave (every file to its last
// synced length, files created since their directory was last synced removed) and the broker
// is restarted on that image. Several cycles with small segments (rolls) and acks (deletion);
// at the end every confirmed message must have been delivered.
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A regular file of the data dir: its inode and length.
struct FileState {
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
};
using DirImage = std::map<std::string, FileState>;  // name -> file

DirImage Files(const std::string& dir) {
  DirImage out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    struct stat st;
    if (!e.is_regular_file() || ::stat(e.path().c_str(), &st) != 0) continue;
    out[e.path().filename().string()] = {st.st_ino, static_cast<std::uint64_t>(st.st_size)};
  }
  return out;
}

struct CutReport {
  int unlinks = 0;       // files the broker removed from the dir
  int brought_back = 0;  // of those, restored by the cut (no directory sync since)
  int dropped = 0;       // files (or names) the cut removed: created or renamed without a sync
};

// Applies the power cut described by the layer's log to `dir`: the names are those of the last
// directory sync (or `before`, the durable image the broker started on), each naming the inode
// it named then, found in the dir or in `grave`, cut back to what its last file sync made
// durable (a file never synced is empty).
CutReport CutToDurable(const std::string& dir, const std::string& log, const DirImage& before,
                       const std::string& grave) {
  CutReport report;
  std::map<std::uint64_t, std::uint64_t> synced;  // inode -> durable length
  std::map<std::string, std::uint64_t> names;     // name -> inode, as of the last dir sync
  for (const auto& [name, f] : before) names[name] = f.ino;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind, path;
    words >> kind >> path;
    if (kind == "F") {
      // The last two words: a synced file that was unlinked reads "<path> (deleted)".
      std::vector<std::string> rest;
      for (std::string w; words >> w;) rest.push_back(w);
      if (rest.size() >= 2) synced[std::stoull(rest[rest.size() - 2])] = std::stoull(rest.back());
    } else if (kind == "D" && fs::path(path) == fs::path(dir)) {
      names.clear();
      for (std::string entry; words >> entry;) {
        const auto colon = entry.rfind(':');
        names[entry.substr(0, colon)] = std::stoull(entry.substr(colon + 1));
      }
    } else if (kind == "U") {
      ++report.unlinks;
    }
  }
  std::map<std::uint64_t, std::string> now;  // inode -> where it is now
  for (const auto& [name, f] : Files(dir)) now[f.ino] = dir + "/" + name;
  const std::string staging = grave + "-cut";
  fs::create_directories(staging);
  for (const auto& [name, ino] : names) {
    std::string from;
    if (auto it = now.find(ino); it != now.end()) {
      from = it->second;
    } else if (fs::exists(grave + "/" + std::to_string(ino))) {
      from = grave + "/" + std::to_string(ino);
      ++report.brought_back;
    } else {
      ADD_FAILURE() << name << " (inode " << ino << ") was durable but is nowhere";
      continue;
    }
    std::uint64_t keep = 0;
    if (auto it = synced.find(ino); it != synced.end()) {
      keep = it->second;
    } else if (auto b = before.find(name); b != before.end() && b->second.ino == ino) {
      keep = b->second.size;
    }
    std::ifstream src(from, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
    std::ofstream(staging + "/" + name, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(keep, bytes.size())));
  }
  for (const auto& [name, f] : Files(dir)) {
    if (names.count(name) == 0 || names.at(name) != f.ino) ++report.dropped;
    fs::remove(dir + "/" + name);
  }
  for (const auto& e : fs::directory_iterator(staging)) {
    fs::rename(e.path(), dir + "/" + e.path().filename().string());
  }
  fs::remove_all(staging);
  fs::remove_all(grave);
  fs::create_directories(grave);
  return report;
}

// Waits until a line of `path` starts with `prefix` (the layer appends as the broker works).
bool WaitForLine(const std::string& path, const std::string& prefix,
                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(prefix)) return true;
    }
    std::this_thread::sleep_for(20ms);  // a file has no event to await
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
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
  std::string Grave() const { return dir_ + "/grave"; }
  std::unique_ptr<Process> StartRecorded(const std::vector<std::string>& flags,
                                         const std::string& log) {
    if (port_ == 0) port_ = FreePort();
    endpoint_ = LoopbackEndpoint(port_);
    auto p = std::make_unique<Process>(
        BrokerArgv(endpoint_, dir_ + "/data", flags),
        dir_ + "/broker-" + std::to_string(++starts_) + ".log",
        std::vector<std::string>{"LD_PRELOAD=" + Binary("libmandrill_powercut.so"),
                                 "MANDRILL_POWERCUT_LOG=" + log,
                                 "MANDRILL_POWERCUT_DIR=" + fs::weakly_canonical(dir_).string(),
                                 "MANDRILL_POWERCUT_GRAVE=" + Grave()});
    EXPECT_TRUE(p->WaitForLog("listening on", 20s)) << p->Log();
    return p;
  }
};

// always: nothing confirmed may be lost. interval:MS confirms after the write, so a power cut
// may lose what was confirmed in the last MS before the kill: the test says how many.
TEST_P(PowerCutTest, ConfirmedMessagesSurvivePowerCuts) {
  const std::string policy = GetParam();
  // A 1 s dedup window lets settled segments go (unlinks) while the test runs.
  const std::vector<std::string> flags = {"--storage",       "journal", "--fsync",        policy,
                                          "--segment-bytes", "65536",   "--lease-ms",     "60000",
                                          "--dedup-window",  "1s"};
  constexpr int kCycles = 4;
  constexpr int kPerCycle = 300;
  std::set<std::string> confirmed, delivered;
  fs::create_directories(dir_ + "/data");
  fs::create_directories(Grave());
  CutReport total;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const std::string log = dir_ + "/powercut-" + std::to_string(cycle) + ".log";
    const DirImage before = Files(dir_ + "/data");
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
      // Settle most: acks make segments deletable and the ack records need syncs too.
      Client worker(context_, endpoint_);
      worker.Ready("restarts", kPerCycle - 20);
      auto d = worker.Deliveries(kPerCycle - 20, 10s);
      std::vector<std::uint64_t> leases;
      for (const auto& item : d) {
        delivered.insert(item.id);
        leases.push_back(item.lease_id);
      }
      worker.Send(protocol::Ack{leases});
      pub.PublishConfirmed("restarts", "marker-" + std::to_string(cycle));  // the acks are in
      confirmed.insert("marker-" + std::to_string(cycle));
    }
    if (cycle % 2 == 1) {
      // Let the writer delete the settled segments (their ids expire after 1 s) before the kill.
      ASSERT_TRUE(WaitForLine(log, "U ", 15s)) << "no segment was deleted";
    }
    broker->Kill();  // SIGKILL, then the power goes
    const CutReport cut = CutToDurable(dir_ + "/data", log, before, Grave());
    total.unlinks += cut.unlinks;
    total.brought_back += cut.brought_back;
    total.dropped += cut.dropped;
  }
  std::printf("power cut, fsync %s: %d segments deleted, %d of them brought back by a cut, "
              "%d files dropped by a cut\n",
              policy.c_str(), total.unlinks, total.brought_back, total.dropped);
  EXPECT_GT(total.unlinks, 0);
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
