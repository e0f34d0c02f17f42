#pragma once
// The worker's record of what it did: an SQLite database (WAL mode, synchronous=FULL: a commit
// is on disk when Write returns, so a row survives a power cut once its message is acked) with
// one row per finished attempt in `processed(message_id, queue, attempt, worker, at_ms,
// outcome, error)`: outcome 'restarted' (written before the ack) or 'failed' (written before
// the nack, with the error). An attempt that was cancelled (timeout, lost lease, shutdown)
// has no row. The chaos drills compare the 'restarted' rows with the publishers' confirmed ids;
// rows of ledgers written before the outcome column existed have outcome NULL (they meant
// "processed"). Not thread-safe: one caller at a time (LedgerWriter runs each Write on an
// executor thread, one transaction at a time). Several workers may share one file (busy
// timeout 5 s).
//
// Changing the table: add columns only (older ledgers are migrated by ALTER TABLE in Open),
// and keep deploy/lib/verdict.py and deploy/demo reading both shapes.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/core/result.h"

namespace mandrill::worker {

struct LedgerRow {
  std::string message_id;
  std::string queue;
  std::uint32_t attempt = 0;
  std::int64_t at_ms = 0;
  bool restarted = true;  // false: the attempt failed (`error` says why) and is nacked
  std::string error;
};

class Ledger {
 public:
  static core::Result<std::unique_ptr<Ledger>> Open(const std::string& path,
                                                    const std::string& worker);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Writes all rows in one transaction; on error nothing is written and the error says why.
  core::Status Write(const std::vector<LedgerRow>& rows);

 private:
  Ledger(sqlite3* db, sqlite3_stmt* insert, std::string worker)
      : db_(db), insert_(insert), worker_(std::move(worker)) {}
  core::Status Exec(const char* sql);
  static core::Status AddOutcomeColumns(sqlite3* db);

  sqlite3* db_;
  sqlite3_stmt* insert_;
  std::string worker_;
};

}  // namespace mandrill::worker
