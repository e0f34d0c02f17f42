#include "broker/journal/options.h"

#include "broker/journal/format.h"
#include "broker/journal/io.h"
#include "shared/core/duration.h"

namespace mandrill::broker::journal {

std::string FsyncPolicy::ToString() const {
  switch (mode) {
    case Mode::kAlways:
      return "always";
    case Mode::kNever:
      return "never";
    case Mode::kInterval:
      return "interval:" + std::to_string(interval.count());
  }
  return "?";
}

core::Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  // Built with append(): GCC 12's -Wrestrict misfires on chains of operator+ here.
  const auto bad = [&](std::string_view why) {
    std::string msg = "invalid fsync policy '";
    msg.append(text).append("': ").append(why);
    msg.append(" (use always, interval:MS such as interval:5, or never)");
    return core::Error{kBadOptions, std::move(msg)};
  };
  FsyncPolicy p;
  if (text == "always") return p;
  if (text == "never") {
    p.mode = FsyncPolicy::Mode::kNever;
    return p;
  }
  constexpr std::string_view kInterval = "interval:";
  if (text.substr(0, kInterval.size()) != kInterval) return bad("unknown policy");
  const std::string_view value = text.substr(kInterval.size());
  if (value.empty()) return bad("missing interval");
  auto d = core::ParseDuration(value);
  if (!d.ok()) {
    std::string why = "'";
    why.append(value).append("' is not a number of milliseconds");
    return bad(why);
  }
  if (d->count() <= 0) return bad("the interval must be at least 1 ms");
  p.mode = FsyncPolicy::Mode::kInterval;
  p.interval = *d;
  return p;
}

core::Status ValidateOptions(const JournalOptions& o) {
  const auto bad = [](std::string why) { return core::Error{kBadOptions, std::move(why)}; };
  if (o.data_dir.empty()) return bad("journal data dir is empty");
  if (o.segment_bytes < 4096) {
    return bad("journal segment size " + std::to_string(o.segment_bytes) +
               " is too small (minimum 4096 bytes)");
  }
  if (!(o.compaction_threshold >= 0.0 && o.compaction_threshold <= 1.0)) {
    return bad("journal compaction threshold must be in [0, 1], got " +
               std::to_string(o.compaction_threshold));
  }
  if (o.dedup_window.count() < 0 || o.dedup_window > std::chrono::hours(24 * 365 * 10)) {
    return bad("journal dedup window must be between 0 and 10 years");
  }
  if (o.compaction_slice_bytes < 4096) return bad("journal compaction slice must be >= 4096");
  if (o.fsync.mode == FsyncPolicy::Mode::kInterval && o.fsync.interval.count() <= 0) {
    return bad("fsync interval must be at least 1 ms");
  }
  return core::Status::Ok();
}

}  // namespace mandrill::broker::journal
