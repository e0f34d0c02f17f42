#pragma once
// mandrill-ctl top: the broker's queues, workers and in-flight tasks, refreshed every
// --interval, with rates from the counter differences of the last two samples.
//
// Interactive (the default) needs a terminal on stdout: full screen until q, Q, Ctrl-C,
// SIGINT or SIGTERM (exit 0), the terminal restored on the way out. A broker that does not
// answer is shown on the screen and asked again; top does not exit for it.
// --once: no terminal control; two samples --interval apart, printed once as plain text
// (80x24, or the terminal's size when stdout is one). Errors as `stats`'s: one line on `err`,
// exit 1 (the broker answered ERROR) or 2 (no answer).
//
// With --cells: the fleet's totals (a CELL column for workers and tasks), every cell asked at
// once; cells that did not answer are named on the status line, and --once exits with their
// code (2 for no answer) after printing the frame of the others; no cell answering is an error
// as above.
//
// Exit codes: 0 done; 1 broker error (--once) or the terminal failed; 2 no answer (--once) or
// stdout is not a terminal; 64 a bad --broker endpoint.
#include <chrono>
#include <iosfwd>
#include <zmq.hpp>

#include "publisher/ctl_commands.h"

namespace mandrill::publisher {

struct TopOptions {
  bool once = false;
  std::chrono::milliseconds interval{1000};
};

// Runs top on this process's stdin/stdout (interactive) or `out` (--once). `context` is shut
// down when interactive top returns: use it for nothing else afterwards.
int RunTop(const CtlOptions& ctl, const TopOptions& top, zmq::context_t& context,
           std::ostream& out, std::ostream& err);

}  // namespace mandrill::publisher
