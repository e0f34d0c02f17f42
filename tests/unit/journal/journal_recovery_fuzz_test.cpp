// Replay of randomly damaged segments: recovery never crashes and never invents a message.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <random>

#include "broker/journal/format.h"
#include "broker/journal/record_scanner.h"
#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal::testing {
namespace {

using State = RecoveredMessage::State;

class JournalDamageTest : public JournalTest {};

// Random damage of every kind never crashes recovery or stops the journal from working, and
// never invents a message (the CRC catches altered records).
TEST_F(JournalDamageTest, FuzzedSegmentsNeverCrashRecovery) {
  auto o = Opts();
  o.segment_bytes = 4096;
  const std::int64_t now = clock_.WallMs();
  std::map<std::uint64_t, PublishRecord> originals;
  {
    auto j = Open(o);
    std::vector<Record> recs;
    for (std::uint64_t seq = 1; seq <= 120; ++seq) {
      PublishRecord p = Publish(seq, now, seq % 2 ? "a" : "b", 20 + seq % 90);
      originals[seq] = p;
      recs.push_back(p);
      if (seq % 3 == 0) recs.push_back(DeliverRecord{seq - 1, 1});
      if (seq % 5 == 0) recs.push_back(NackRecord{seq - 2, 1, now, "n"});
      if (seq % 7 == 0) recs.push_back(AckRecord{seq - 3});
      if (seq % 11 == 0) recs.push_back(DeadLetterRecord{seq - 4, 3, "d", now});
    }
    WriteDurably(*j, recs);
  }
  const auto segs = SegmentFiles(dir_.path());
  std::mt19937_64 rng(0xfeedbeef);
  const auto rnd = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
#ifdef MANDRILL_SANITIZED
  const int kIterations = 100;
#else
  const int kIterations = 300;
#endif
  for (int it = 0; it < kIterations; ++it) {
    SCOPED_TRACE("iteration " + std::to_string(it));
    TempDir copy;
    CopyDir(dir_.path(), copy.path());
    const int mutations = 1 + static_cast<int>(rnd(3));
    for (int m = 0; m < mutations; ++m) {
      const std::string path = copy.File(segs[rnd(segs.size())]);
      std::string b = ReadFileBytes(path);
      if (b.empty()) continue;
      switch (rnd(8)) {
        case 0:  // flip bits
          for (int k = 0, n = 1 + static_cast<int>(rnd(8)); k < n; ++k) {
            b[rnd(b.size())] ^= static_cast<char>(1 << rnd(8));
          }
          break;
        case 1: {  // random bytes over a range
          const auto at = rnd(b.size());
          for (auto k = at; k < std::min<std::uint64_t>(b.size(), at + 1 + rnd(64)); ++k) {
            b[k] = static_cast<char>(rng());
          }
          break;
        }
        case 2:  // truncate anywhere
          b.resize(rnd(b.size()));
          break;
        case 3: {  // zero a range
          const auto at = rnd(b.size());
          std::fill(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(
                                    std::min<std::uint64_t>(b.size(), at + rnd(512))),
                    '\0');
          break;
        }
        case 4: {  // insert random bytes
          std::string junk(1 + rnd(40), '\0');
          for (char& c : junk) c = static_cast<char>(rng());
          b.insert(rnd(b.size()), junk);
          break;
        }
        case 5: {  // duplicate a chunk elsewhere (records out of place)
          const auto from = rnd(b.size());
          const std::string chunk = b.substr(from, rnd(600));
          b.insert(rnd(b.size()), chunk);
          break;
        }
        case 6:  // the whole file is noise
          for (char& c : b) c = static_cast<char>(rng());
          break;
        case 7: {  // a lying length field somewhere
          const auto at = rnd(b.size() > 4 ? b.size() - 4 : 1);
          const std::uint32_t len = static_cast<std::uint32_t>(rng());
          std::memcpy(&b[at], &len, std::min<std::size_t>(4, b.size() - at));
          break;
        }
      }
      WriteFileBytes(path, b);
    }
    if (rnd(4) == 0) {  // a stray segment full of noise
      std::string junk(rnd(3000), '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      WriteFileBytes(copy.File(SegmentFileName(1000 + rnd(5))), junk);
    }
    FaultInjectingFs fs;
    fs.SkipRealSyncs(true);  // this test is about reading; spare the disk
    auto oc = Options(copy.path(), &clock_, &fs);
    oc.segment_bytes = 4096;
    Recovered r;
    auto j = Open(oc, &r);
    if (HasFailure()) return;
    for (const auto& m : r.messages) {
      auto orig = originals.find(m.publish.seq);
      ASSERT_NE(orig, originals.end()) << "invented seq " << m.publish.seq;
      ASSERT_TRUE(orig->second == m.publish) << "altered seq " << m.publish.seq;
    }
    if (it % 10 == 0) {
      const Ticket t = j->Append(Publish(r.max_seq + 1, now));
      j->Commit();
      std::vector<StorageProgress::Failure> f;
      WaitDurable(*j, t, &f);
      ASSERT_TRUE(f.empty());
    }
  }
}

}  // namespace
}  // namespace mandrill::broker::journal::testing
