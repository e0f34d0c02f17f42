#pragma once
// STATS for `mandrill-ctl top` on a thread of its own, so top's loop keeps answering keys and
// signals while a broker takes up to --timeout to answer (or never does). The loop polls fd()
// beside stdin and the signal pipe. Start, fd, Take and the destructor are for the thread that
// owns the fetcher.
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "publisher/ctl_commands.h"
#include "publisher/top_model.h"
#include "shared/core/mutex.h"
#include "shared/core/result.h"

namespace mandrill::publisher {

// Milliseconds on the steady clock: when a sample was taken (TopSample::steady_ms).
std::int64_t SteadyMs();

// One sample for top: the broker's STATS, or with --cells every cell's at once merged
// (FleetSample; an error only when no cell answered: the worst cell's code, every cell's
// reason). Errors as FetchStats's. Blocks up to about one --timeout.
core::Result<TopSample> FetchTopSample(zmq::context_t& context, const CtlOptions& options);

class TopFetcher {
 public:
  // `context` must outlive the fetcher. The destructor shuts `context` down, which cuts a call
  // in progress short, so nothing may use the context after the fetcher is gone.
  TopFetcher(zmq::context_t& context, const CtlOptions& options);
  ~TopFetcher();
  TopFetcher(const TopFetcher&) = delete;
  TopFetcher& operator=(const TopFetcher&) = delete;

  // Readable while a finished fetch waits to be taken.
  int fd() const { return event_fd_; }
  // Asks for one STATS (all pages); ignored while a fetch is in progress.
  void Start();
  // Whether a fetch was started and its result not yet taken.
  bool busy() const { return busy_; }
  // The finished fetch's sample (stamped with the steady time its reply arrived) or error;
  // nothing if it has not finished.
  std::optional<core::Result<TopSample>> Take();

 private:
  void Run();

  zmq::context_t& context_;
  const CtlOptions options_;
  int event_fd_ = -1;
  bool busy_ = false;  // owner thread only

  core::Mutex mu_;
  std::condition_variable wake_;
  bool wanted_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::optional<core::Result<TopSample>> result_ GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once everything above is set up
};

}  // namespace mandrill::publisher
