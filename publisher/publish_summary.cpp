#include "publisher/publish_summary.h"

#include <cstdio>

#include "publisher/json_writer.h"
#include "publisher/publish_options.h"
#include "shared/core/duration.h"

namespace mandrill::publisher {
namespace {

std::uint64_t Refused(const PublishReport& r) { return r.counters.refused + r.input_skipped; }

double Rate(const PublishReport& r) {
  const double s = static_cast<double>(r.elapsed.count()) / 1000.0;
  return s > 0 ? static_cast<double>(r.counters.confirmed) / s : 0.0;
}

std::string EndingName(Ending e) {
  switch (e) {
    case Ending::kCompleted:
      return "completed";
    case Ending::kGaveUp:
      return "gave_up";
    case Ending::kInterrupted:
      return "interrupted";
    case Ending::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string Outcome(const PublishReport& r) {
  std::string s;
  switch (r.ending) {
    case Ending::kCompleted:
      break;
    case Ending::kGaveUp:
      s = "gave up: " + r.detail;
      break;
    case Ending::kInterrupted:
      s = "interrupted";
      break;
    case Ending::kFailed:
      s = "failed: " + r.detail;
      break;
  }
  auto add = [&](const std::string& part) {
    if (!s.empty()) s.append("; ");
    s.append(part);
  };
  if (r.unconfirmed > 0) add(std::to_string(r.unconfirmed) + " never confirmed");
  if (Refused(r) > 0) add(std::to_string(Refused(r)) + " refused permanently");
  if (!r.input_complete && r.ending != Ending::kCompleted) add("input not fully published");
  if (s.empty()) s = "all confirmed";
  return s;
}

}  // namespace

std::string DescribeGiveUp(const GiveUpContext& c) {
  const std::string head = "no confirm for " + core::FormatDuration(c.give_up) + " with " +
                           std::to_string(c.outstanding) + " outstanding";
  if (!c.refusal.empty()) {
    return head + ": the broker at " + c.broker +
           " is up but kept refusing them for now: " + c.refusal;
  }
  if (c.heard) return head + ": the broker at " + c.broker + " answers but confirmed nothing";
  return head + " (is the broker at " + c.broker + " up?)";
}

int ExitCodeFor(const PublishReport& r) {
  if (r.unconfirmed > 0) return kExitUnconfirmed;
  if (r.ending == Ending::kGaveUp || r.ending == Ending::kFailed) return kExitUnconfirmed;
  if (Refused(r) > 0) return kExitRefused;
  return kExitAllConfirmed;
}

std::string FormatSummaryLine(const PublishReport& r) {
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.3fs", static_cast<double>(r.elapsed.count()) / 1000);
  const auto& c = r.counters;
  return "published=" + std::to_string(c.published) + " confirmed=" + std::to_string(c.confirmed) +
         " refused=" + std::to_string(Refused(r)) + " retried=" + std::to_string(c.retried) +
         " unconfirmed=" + std::to_string(r.unconfirmed) + " elapsed=" + elapsed +
         " rate=" + std::to_string(static_cast<std::uint64_t>(Rate(r))) + "/s (" + Outcome(r) + ")";
}

std::string FormatSummaryJson(const PublishReport& r) {
  JsonWriter j;
  const auto& c = r.counters;
  j.BeginObject();
  j.Key("published").Uint(c.published);
  j.Key("confirmed").Uint(c.confirmed);
  j.Key("refused").Uint(Refused(r));
  j.Key("retried").Uint(c.retried);
  j.Key("unconfirmed").Uint(r.unconfirmed);
  j.Key("duplicate_confirms").Uint(c.duplicate_confirms);
  j.Key("moved_to_other_cells").Uint(c.moved);
  j.Key("longest_stall_ms").Int(r.longest_stall.count());
  j.Key("elapsed_ms").Int(r.elapsed.count());
  j.Key("rate").Double(Rate(r));
  j.Key("ending").String(EndingName(r.ending));
  j.Key("outcome").String(Outcome(r));
  j.Key("input_complete").Bool(r.input_complete);
  j.Key("exit_code").Int(ExitCodeFor(r));
  j.Key("id_prefix").String(r.id_prefix);
  j.Key("seed").Uint(r.seed);
  j.EndObject();
  return j.str();
}

}  // namespace mandrill::publisher
