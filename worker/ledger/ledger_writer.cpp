#include "worker/ledger/ledger_writer.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mandrill::worker {

struct LedgerWriter::Batch {
  std::vector<LedgerRow> rows;
  runtime::Channel<int> done{0};  // closed once `status` is final
  core::Status status;
};

LedgerWriter::LedgerWriter(std::unique_ptr<Ledger> ledger, runtime::ThreadPool& pool,
                           std::size_t max_rows_per_commit)
    : ledger_(std::move(ledger)), pool_(pool), max_rows_(max_rows_per_commit) {}

LedgerWriter::~LedgerWriter() {
  if (!queue_.empty()) FailQueued("ledger writer destroyed before committing");
}

void LedgerWriter::Start(runtime::Supervisor& services) {
  writer_ = services.Spawn("ledger-writer", WriterLoop(this));
}

runtime::Task<void> LedgerWriter::Record(LedgerRow row) {
  if (stopped_ || !writer_) throw std::runtime_error("ledger writer is not running");
  if (queue_.empty() || queue_.back()->rows.size() >= max_rows_) {
    queue_.push_back(std::make_shared<Batch>());
  }
  std::shared_ptr<Batch> batch = queue_.back();
  batch->rows.push_back(std::move(row));
  int wake = 1;
  (void)wake_.TrySend(wake);  // full: a wake-up is already pending
  (void)co_await batch->done.Receive();  // nullopt once closed: the status is final
  if (!batch->status.ok()) throw std::runtime_error("ledger: " + batch->status.message());
}

void LedgerWriter::FailQueued(const std::string& why) {
  for (auto& batch : queue_) {
    stats_.failed_rows += batch->rows.size();
    batch->status = core::Error{core::Errc::kIo, why};
    batch->done.Close();
  }
  queue_.clear();
}

runtime::Task<void> LedgerWriter::CommitQueued() {
  while (!queue_.empty()) {
    std::shared_ptr<Batch> batch = std::move(queue_.front());
    queue_.pop_front();
    Ledger* ledger = ledger_.get();
    auto job = [ledger, batch] { return ledger->Write(batch->rows); };
    std::exception_ptr interrupted;
    try {
      batch->status = co_await runtime::RunInExecutor(pool_, std::move(job));
    } catch (...) {
      interrupted = std::current_exception();  // cancelled before the job started
    }
    if (interrupted) {
      queue_.push_front(batch);
      FailQueued("ledger writer stopped before committing");
      std::rethrow_exception(interrupted);
    }
    if (batch->status.ok()) {
      stats_.rows += batch->rows.size();
      ++stats_.commits;
    } else {
      stats_.failed_rows += batch->rows.size();
      spdlog::error("ledger commit of {} rows failed: {}", batch->rows.size(),
                    batch->status.message());
    }
    batch->done.Close();
  }
}

runtime::Task<void> LedgerWriter::WriterLoop(LedgerWriter* self) {
  std::exception_ptr ended;
  try {
    while (true) {
      auto woken = co_await self->wake_.Receive();
      co_await self->CommitQueued();
      if (!woken) break;  // Stop(): everything queued is committed
    }
  } catch (...) {
    ended = std::current_exception();  // rethrown below, after failing the waiting rows
  }
  // Nobody would commit these any more: their messages are nacked, never acked unrecorded.
  self->FailQueued("ledger writer stopped");
  if (ended) std::rethrow_exception(ended);
}

runtime::Task<void> LedgerWriter::Stop() {
  if (stopped_) co_return;
  stopped_ = true;
  wake_.Close();
  if (writer_) (void)co_await writer_.Join();
  if (!queue_.empty()) FailQueued("ledger writer stopped");
  spdlog::info("ledger: {} rows in {} transactions, {} rows failed", stats_.rows, stats_.commits,
               stats_.failed_rows);
}

}  // namespace mandrill::worker
