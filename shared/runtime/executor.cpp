#include "shared/runtime/executor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace mandrill::runtime {

ThreadPool::ThreadPool(std::string name, std::size_t threads) : name_(std::move(name)) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      std::string thread_name = (name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      Worker();
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Enqueue(std::shared_ptr<detail::ExecutorJob> job) {
  {
    core::MutexLock lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

ThreadPoolStats ThreadPool::stats() const {
  core::MutexLock lock(mu_);
  return stats_;
}

void ThreadPool::Worker() {
  for (;;) {
    std::shared_ptr<detail::ExecutorJob> job;
    {
      core::MutexLock lock(mu_);
      lock.Wait(cv_, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    int queued = detail::ExecutorJob::kQueued;
    if (!job->state.compare_exchange_strong(queued, detail::ExecutorJob::kRunning)) {
      core::MutexLock lock(mu_);
      ++stats_.abandoned;
      continue;
    }
    job->Execute(job->stop.get_token());
    job->state.store(detail::ExecutorJob::kDone);
    bool dropped = false;
    try {
      auto posts = job->posts;
      posts->Post([job = std::move(job)] {
        // Loop thread: resume the awaiting task unless its frame went away.
        detail::LoopInternals::EndExternalWork(*job->loop);
        if (job->awaiter != nullptr) {
          job->awaiter = nullptr;
          job->task->Resume();
        }
      });
    } catch (const LoopClosed& e) {
      dropped = true;
      spdlog::warn("thread pool '{}': a job finished after its loop closed; its result is "
                   "dropped ({})",
                   name_, e.what());
    }
    core::MutexLock lock(mu_);
    ++stats_.executed;
    if (dropped) ++stats_.results_dropped;
  }
}

}  // namespace mandrill::runtime
