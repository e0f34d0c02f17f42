#include "publisher/top_layout.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <numeric>

#include "publisher/stats_format.h"
#include "publisher/text_table.h"

namespace mandrill::publisher {
namespace {

constexpr std::size_t kGap = 2;           // spaces between columns
constexpr std::size_t kMinNameWidth = 6;  // a name column is never squeezed below this
constexpr std::size_t kMaxNameChars = 256;

struct Column {
  std::string title;
  bool right = false;  // numbers
  bool name = false;   // may be narrowed (and its cells cut) to fit the width
};

using Row = std::vector<std::string>;

// A section before layout: its column titles, every row it could show, and how many more
// there are that cannot be listed at all.
struct Section {
  std::string title;  // the line above the column titles
  std::vector<Column> columns;
  std::vector<Row> rows;
  std::uint64_t unlisted = 0;
  const char* none = "";  // the one row shown when there is nothing

  std::size_t wanted() const {
    if (rows.empty() && unlisted == 0) return 1;
    return rows.size() + (unlisted > 0 ? 1 : 0);
  }
};

std::string Digits(std::uint64_t v) { return std::to_string(v); }
std::string Name(std::string_view s) { return PrintableText(s, kMaxNameChars); }
std::string Age(std::int64_t ms) { return ms < 0 ? "-" : CompactDuration(ms); }

// Column widths for `rows` under `columns`, the name columns narrowed (widest first) until
// the line fits `width` or they reach kMinNameWidth.
std::vector<std::size_t> Widths(const std::vector<Column>& columns, const std::vector<Row>& rows,
                                std::size_t width) {
  std::vector<std::size_t> w(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    w[c] = columns[c].title.size();
    for (const auto& r : rows) w[c] = std::max(w[c], r[c].size());
  }
  std::size_t total = std::accumulate(w.begin(), w.end(), kGap * (columns.size() - 1));
  while (total > width) {
    std::size_t widest = columns.size();
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (columns[c].name && w[c] > kMinNameWidth && (widest == columns.size() || w[c] > w[widest])) {
        widest = c;
      }
    }
    if (widest == columns.size()) break;  // nothing left to narrow: the line gets cut
    --w[widest];
    --total;
  }
  return w;
}

std::string Line(const std::vector<Column>& columns, const std::vector<std::size_t>& w,
                 const Row& cells, std::size_t width) {
  std::string l;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c > 0) l.append(kGap, ' ');
    const std::string cell = FitCell(cells[c], w[c]);
    const std::size_t pad = w[c] - cell.size();
    if (columns[c].right) l.append(pad, ' ');
    l.append(cell);
    if (!columns[c].right) l.append(pad, ' ');
  }
  while (!l.empty() && l.back() == ' ') l.pop_back();
  return FitCell(l, width);
}

// `s` in `rows` lines (the title line not counted), appended to `out`.
void Render(const Section& s, std::size_t rows, std::size_t width, std::vector<std::string>& out) {
  std::vector<Row> shown;
  std::uint64_t more = s.unlisted;
  if (rows >= s.wanted()) {
    shown = s.rows;
  } else if (rows > 0) {
    shown.assign(s.rows.begin(), s.rows.begin() + static_cast<std::ptrdiff_t>(rows - 1));
    more += s.rows.size() - shown.size();
  }
  Row titles;
  for (const auto& c : s.columns) titles.push_back(c.title);
  const auto w = Widths(s.columns, shown, width);
  out.push_back(FitCell(s.title, width));
  out.push_back(Line(s.columns, w, titles, width));
  if (rows == 0) return;
  for (const auto& r : shown) out.push_back(Line(s.columns, w, r, width));
  if (more > 0) {
    out.push_back(FitCell("... " + Digits(more) + " more", width));
  } else if (shown.empty()) {
    out.push_back(FitCell(s.none, width));
  }
}

Section Queues(const TopView& v) {
  Section s{"QUEUES  " + Digits(v.queues.size()) + ", most ready first",
            {{"QUEUE", false, true},
             {"READY", true},
             {"UNACKED", true},
             {"DEFER", true},
             {"DEAD", true},
             {"PUB/s", true},
             {"ACK/s", true},
             {"OLDEST", true},
             {"CONS", true}},
            {},
            0,
            "no queues"};
  for (const auto& q : v.queues) {
    s.rows.push_back({Name(q.name), Digits(q.ready), Digits(q.unacked), Digits(q.deferred), Digits(q.dead),
                      FormatRate(q.publish_rate), FormatRate(q.ack_rate),
                      q.oldest_ready_ms ? Age(*q.oldest_ready_ms) : "-", Digits(q.consumers)});
  }
  return s;
}

Section Workers(const TopView& v) {
  Section s{"WORKERS  " + Digits(v.workers_total) + ", most in flight first",
            {{"WORKER", false, true},
             {"CREDIT", true},
             {"INFLIGHT", true},
             {"ACK/s", true},
             {"IDLE", true}},
            {},
            v.workers_unlisted,
            "no workers"};
  for (const auto& w : v.workers) {
    s.rows.push_back(
        {Name(w.name), Digits(w.credit), Digits(w.in_flight), FormatRate(w.ack_rate), Age(w.idle_ms)});
  }
  if (v.cells_total > 0) {
    s.columns.insert(s.columns.begin(), {"CELL", false, true});
    for (std::size_t i = 0; i < s.rows.size(); ++i) {
      s.rows[i].insert(s.rows[i].begin(), Name(v.workers[i].cell));
    }
  }
  return s;
}

Section Tasks(const TopView& v) {
  Section s{"TASKS  " + Digits(v.tasks.size() + v.tasks_unlisted) + " in flight, oldest first",
            {{"WORKER", false, true},
             {"ID", false, true},
             {"QUEUE", false, true},
             {"ATTEMPT", true},
             {"AGE", true},
             {"RUN", true}},
            {},
            v.tasks_unlisted,
            "no tasks in flight"};
  for (const auto& t : v.tasks) {
    s.rows.push_back({Name(t.worker), Name(t.id), Name(t.queue), Digits(t.attempt), Age(t.leased_ms),
                      Age(t.running_ms)});
  }
  if (v.cells_total > 0) {
    s.columns.insert(s.columns.begin(), {"CELL", false, true});
    for (std::size_t i = 0; i < s.rows.size(); ++i) {
      s.rows[i].insert(s.rows[i].begin(), Name(v.tasks[i].cell));
    }
  }
  return s;
}

std::string Header(const TopView& v, std::string_view clock, std::size_t width) {
  std::string h(clock);
  if (v.has_sample && v.cells_total > 0) {
    // The joined broker ids would not fit: the cells' own lines are `stats --cells`'s.
    h += "  cells " + Digits(v.cells_answered) + "/" + Digits(v.cells_total) + " answering  up " +
         CompactDuration(v.uptime_ms) + "  queues " + Digits(v.queues_total) + "  workers " +
         Digits(v.workers_total);
  } else if (v.has_sample) {
    h += "  broker " + Name(v.broker_id) + "  up " + CompactDuration(v.uptime_ms) + "  queues " +
         Digits(v.queues_total) + "  workers " + Digits(v.workers_total);
  } else {
    h += "  waiting for the broker";
  }
  return FitCell(h, width);
}

}  // namespace

std::string FitCell(std::string_view text, std::size_t width) {
  if (text.size() <= width) return std::string(text);
  if (width == 0) return {};
  return std::string(text.substr(0, width - 1)) + "~";
}

std::string FormatRate(std::optional<double> per_second) {
  if (!per_second) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, *per_second < 10.0 ? "%.1f" : "%.0f", *per_second);
  return buf;
}

std::vector<std::size_t> ShareRows(const std::vector<std::size_t>& wanted, std::size_t available,
                                   std::size_t min_each) {
  if (std::accumulate(wanted.begin(), wanted.end(), std::size_t{0}) <= available) return wanted;
  std::vector<std::size_t> got(wanted.size(), 0);
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    got[i] = std::min({wanted[i], min_each, available});
    available -= got[i];
  }
  for (bool gave = true; available > 0 && gave;) {
    gave = false;
    for (std::size_t i = 0; i < wanted.size() && available > 0; ++i) {
      if (got[i] < wanted[i]) {
        ++got[i];
        --available;
        gave = true;
      }
    }
  }
  return got;
}

std::vector<std::string> LayoutTop(const TopView& view, std::string_view clock,
                                   std::string_view status, std::size_t width, std::size_t height) {
  std::vector<std::string> out;
  out.push_back(Header(view, clock, width));
  out.push_back(FitCell(status, width));
  if (view.has_sample) {
    const Section sections[] = {Queues(view), Workers(view), Tasks(view)};
    constexpr std::size_t kCount = std::size(sections);
    // Above the rows: header, status, and per section its title and its column titles.
    const std::size_t fixed = out.size() + 2 * kCount;
    std::size_t available = height > fixed ? height - fixed : 0;
    std::vector<std::size_t> wanted;
    for (const auto& s : sections) wanted.push_back(s.wanted());
    // A blank line between sections only when every row fits beside them.
    const bool spaced =
        std::accumulate(wanted.begin(), wanted.end(), kCount - 1) <= available;
    if (spaced) available -= kCount - 1;
    const auto rows = ShareRows(wanted, available, kMinSectionRows);
    for (std::size_t i = 0; i < kCount; ++i) {
      if (spaced && i > 0) out.emplace_back();
      Render(sections[i], rows[i], width, out);
    }
  }
  if (out.size() > height) out.resize(height);  // a screen too small even for the titles
  return out;
}

}  // namespace mandrill::publisher
