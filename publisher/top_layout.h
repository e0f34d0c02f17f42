#pragma once
// `mandrill-ctl top`'s screen: a TopView laid out as at most `height` lines of at most `width`
// characters (ASCII only, so characters are columns). Pure functions; no I/O.
//
//   line 1   header: `clock`, broker id, uptime, queue and worker totals (with --cells: how
//            many cells answered instead of the broker id, the youngest cell's uptime, and
//            a CELL column first in WORKERS and TASKS)
//   line 2   `status` (an error, a hint, or empty)
//   then     QUEUES, WORKERS and TASKS, each a title line, a column-title line and its rows.
//            The sections share the rows left: each gets what it needs if all fit, else at
//            least kMinSectionRows, and a cut section ends in "... N more".
// Names wider than their column are cut and end in "~"; a line that is still too wide (a
// very narrow screen) is cut the same way.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "publisher/top_model.h"

namespace mandrill::publisher {

inline constexpr std::size_t kMinSectionRows = 3;

std::vector<std::string> LayoutTop(const TopView& view, std::string_view clock,
                                   std::string_view status, std::size_t width, std::size_t height);

// Rows for sections that want `wanted[i]` rows out of `available`: all they want if it fits;
// else each gets up to `min_each` first (earlier sections first when even that does not fit)
// and the rest goes one row at a time, round robin, to the sections still short.
std::vector<std::size_t> ShareRows(const std::vector<std::size_t>& wanted, std::size_t available,
                                   std::size_t min_each);

// `text` if it fits in `width`, else its first width-1 characters and "~".
std::string FitCell(std::string_view text, std::size_t width);

// "-" for none, "2.5" below 10, "240" from 10 up: events per second.
std::string FormatRate(std::optional<double> per_second);

}  // namespace mandrill::publisher
