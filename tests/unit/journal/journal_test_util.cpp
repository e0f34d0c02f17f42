#include "tests/unit/journal/journal_test_util.h"

#include <poll.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "broker/journal/format.h"

namespace mandrill::broker::journal::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                     "/mandrill-journal-test-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (ParseSegmentFileName(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void CopyDir(const std::string& from, const std::string& to) {
  for (const auto& e : fs::directory_iterator(from)) {
    if (e.is_regular_file()) {
      fs::copy_file(e.path(), fs::path(to) / e.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void Model::Apply(const Record& r) {
  using State = RecoveredMessage::State;
  std::visit(
      [&](const auto& rec) {
        max_seq_ = std::max(max_seq_, rec.seq);
        using T = std::decay_t<decltype(rec)>;
        if constexpr (std::is_same_v<T, PublishRecord>) {
          if (live_.count(rec.seq) || settled_.count(rec.seq)) return;
          live_[rec.seq].publish = rec;
          return;
        } else {
          auto it = live_.find(rec.seq);
          if (it == live_.end()) return;
          RecoveredMessage& m = it->second;
          if constexpr (std::is_same_v<T, DeliverRecord>) {
            m.attempts = rec.attempt;
            m.state = State::kReady;
            m.not_before_unix_ms = 0;
          } else if constexpr (std::is_same_v<T, NackRecord>) {
            m.attempts = rec.attempt;
            m.state = State::kDeferred;
            m.not_before_unix_ms = rec.not_before_unix_ms;
            m.last_error = rec.reason;
          } else if constexpr (std::is_same_v<T, DeadLetterRecord>) {
            m.attempts = rec.attempts;
            m.state = State::kDead;
            m.not_before_unix_ms = 0;
            m.last_error = rec.reason;
            m.dead_at_unix_ms = rec.dead_at_unix_ms;
          } else if constexpr (std::is_same_v<T, RequeueRecord>) {
            m.attempts = 0;
            m.state = State::kReady;
            m.not_before_unix_ms = 0;
            m.dead_at_unix_ms = 0;
          } else {  // ack, purge
            settled_[rec.seq] = RecoveredId{m.publish.queue, m.publish.id,
                                            m.publish.published_unix_ms, rec.settled_unix_ms};
            live_.erase(it);
          }
        }
      },
      r);
}

Recovered Model::Expected(std::int64_t now_ms, std::int64_t window_ms) const {
  Recovered r;
  for (const auto& [seq, m] : live_) r.messages.push_back(m);
  for (const auto& [seq, id] : settled_) {
    const auto since = id.settled_unix_ms != 0 ? id.settled_unix_ms : id.published_unix_ms;
    if (since >= now_ms - window_ms) r.settled_ids.push_back(id);
  }
  r.max_seq = max_seq_;
  return r;
}

Ticket WaitDurable(Storage& s, Ticket ticket, std::vector<StorageProgress::Failure>* failures,
                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Ticket upto = 0;
  for (;;) {
    StorageProgress p = s.Poll();
    upto = std::max(upto, p.durable_upto);
    if (failures != nullptr) {
      for (auto& f : p.failures) failures->push_back(f);
    }
    if (upto >= ticket) return upto;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ADD_FAILURE() << "ticket " << ticket << " not durable within " << timeout.count()
                    << " ms (durable_upto " << upto << ")";
      return upto;
    }
    struct pollfd pfd {
      s.WakeFd(), POLLIN, 0
    };
    // The wake fd signals only awaited progress (publishes, failures): an ack's ticket is seen
    // by polling.
    ::poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 5)));
  }
}

bool InFailures(const std::vector<StorageProgress::Failure>& f, Ticket t) {
  for (const auto& x : f) {
    if (t >= x.first && t <= x.last) return true;
  }
  return false;
}

namespace {
std::string Describe(const RecoveredMessage& m) {
  std::ostringstream s;
  s << "{seq " << m.publish.seq << " id " << m.publish.id << " queue " << m.publish.queue
    << " payload " << m.publish.payload.size() << "B headers " << m.publish.headers.size()
    << " published " << m.publish.published_unix_ms << " attempts " << m.attempts << " state "
    << static_cast<int>(m.state) << " not_before " << m.not_before_unix_ms << " error '"
    << m.last_error << "' dead_at " << m.dead_at_unix_ms << "}";
  return s.str();
}
bool Same(const RecoveredMessage& a, const RecoveredMessage& b) {
  return a.publish == b.publish && a.attempts == b.attempts && a.state == b.state &&
         a.not_before_unix_ms == b.not_before_unix_ms && a.last_error == b.last_error &&
         a.dead_at_unix_ms == b.dead_at_unix_ms;
}
}  // namespace

namespace {
std::int64_t WindowStartOf(const RecoveredId& id) {
  return id.settled_unix_ms != 0 ? id.settled_unix_ms : id.published_unix_ms;
}
// Compaction may carry an id forward with a later window start than its own settle (never an
// earlier one), so an id can outlive the window: every expected id must be there, in order,
// with a window start at or after the model's; extras are allowed.
void ExpectIdsAtLeast(const Recovered& actual, const Recovered& expected) {
  std::size_t a = 0;
  for (const auto& want : expected.settled_ids) {
    while (a < actual.settled_ids.size() &&
           (actual.settled_ids[a].queue != want.queue || actual.settled_ids[a].id != want.id)) {
      ++a;
    }
    if (a == actual.settled_ids.size()) {
      ADD_FAILURE() << "settled id " << want.queue << "/" << want.id << " is missing";
      return;
    }
    EXPECT_GE(WindowStartOf(actual.settled_ids[a]), WindowStartOf(want)) << want.id;
    ++a;
  }
}
}  // namespace

void ExpectSameRecovered(const Recovered& actual, const Recovered& expected, bool exact_max_seq,
                         Ids ids) {
  if (exact_max_seq) {
    EXPECT_EQ(actual.max_seq, expected.max_seq);
  } else {
    EXPECT_GE(actual.max_seq, expected.max_seq);
  }
  EXPECT_EQ(actual.messages.size(), expected.messages.size());
  const std::size_t n = std::min(actual.messages.size(), expected.messages.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!Same(actual.messages[i], expected.messages[i])) {
      ADD_FAILURE() << "message " << i << " differs:\n  actual   " << Describe(actual.messages[i])
                    << "\n  expected " << Describe(expected.messages[i]);
      return;
    }
  }
  if (actual.messages.size() != expected.messages.size()) {
    const auto& longer =
        actual.messages.size() > expected.messages.size() ? actual.messages : expected.messages;
    ADD_FAILURE() << (actual.messages.size() > expected.messages.size() ? "extra " : "missing ")
                  << Describe(longer[n]);
  }
  if (ids == Ids::kAtLeast) {
    ExpectIdsAtLeast(actual, expected);
    return;
  }
  EXPECT_EQ(actual.settled_ids.size(), expected.settled_ids.size());
  const std::size_t k = std::min(actual.settled_ids.size(), expected.settled_ids.size());
  for (std::size_t i = 0; i < k; ++i) {
    const auto& a = actual.settled_ids[i];
    const auto& b = expected.settled_ids[i];
    // RecoverAll reports when the window started for the id (its settle time; the publish
    // time where the journal does not know it).
    if (a.queue != b.queue || a.id != b.id || WindowStartOf(a) != WindowStartOf(b)) {
      ADD_FAILURE() << "settled id " << i << " differs: " << a.queue << "/" << a.id << " vs "
                    << b.queue << "/" << b.id;
      return;
    }
  }
}

std::int64_t Counter(const Storage& s, const std::string& name) {
  for (const auto& [k, v] : s.Stats()) {
    if (k == name) return v;
  }
  return 0;
}

PublishRecord Publish(std::uint64_t seq, std::int64_t published_ms, std::string queue,
                      std::size_t payload_bytes) {
  PublishRecord p;
  p.seq = seq;
  p.queue = std::move(queue);
  char id[32];
  std::snprintf(id, sizeof(id), "pub-3f9a-%09llu", static_cast<unsigned long long>(seq));
  p.id = id;
  p.payload.assign(payload_bytes, static_cast<char>('a' + seq % 26));
  if (seq % 3 == 0) p.headers = {{"trace", "t-" + std::to_string(seq)}, {"host", "cattle-x7q2"}};
  p.published_unix_ms = published_ms;
  return p;
}

namespace {
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard lock(mutex_);
    return text_;
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    text_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t out;
    formatter_->format(msg, out);
    text_.append(out.data(), out.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

CaptureSink* g_capture = nullptr;
}  // namespace

void InstallCapturingLogger() {
  auto capture = std::make_shared<CaptureSink>();
  auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  err->set_level(spdlog::level::warn);
  auto logger = std::make_shared<spdlog::logger>("test", spdlog::sinks_init_list{capture, err});
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  g_capture = capture.get();
}

LogCapture::LogCapture() {
  if (g_capture != nullptr) g_capture->Clear();
}

bool LogCapture::Contains(const std::string& needle) const {
  return All().find(needle) != std::string::npos;
}

std::string LogCapture::All() const { return g_capture != nullptr ? g_capture->Text() : ""; }

JournalOptions JournalTest::Opts() const { return Options(dir_.path(), &clock_, &fs_); }

std::unique_ptr<Journal> JournalTest::Open(const JournalOptions& o, Recovered* recovered) {
  auto j = std::make_unique<Journal>(o);
  auto r = RecoverAll(*j);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (r.ok() && recovered != nullptr) *recovered = std::move(*r);
  return j;
}

Ticket JournalTest::WriteDurably(Journal& j, const std::vector<Record>& records) {
  Ticket last = 0;
  for (const Record& r : records) last = j.Append(r);
  j.Commit();
  std::vector<StorageProgress::Failure> failures;
  WaitDurable(j, last, &failures);
  EXPECT_TRUE(failures.empty()) << failures.front().error;
  for (const Record& r : records) model_.Apply(r);
  return last;
}

void JournalTest::ExpectRecoveredMatchesModel(const JournalOptions& o, Ids ids) {
  Recovered got;
  auto j = Open(o, &got);
  ExpectSameRecovered(got, Expected(o.dedup_window), true, ids);
}

JournalOptions Options(const std::string& dir, const core::Clock* clock, Fs* fs) {
  JournalOptions o;
  o.data_dir = dir;
  o.clock = clock;
  o.fs = fs;
  return o;
}

}  // namespace mandrill::broker::journal::testing
