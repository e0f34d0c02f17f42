#pragma once
// The worker's record of what it processed: an SQLite database (WAL mode) with one row per
// processed delivery in `processed(message_id, queue, attempt, worker, at_ms)`, written before
// the ack. The chaos drills compare it with the publishers' confirmed ids. Not thread-safe: one
// caller at a time (LedgerWriter runs each Write on an executor thread, one transaction at a
// time). Several workers may share one file (busy timeout 5 s).
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

  sqlite3* db_;
  sqlite3_stmt* insert_;
  std::string worker_;
};

}  // namespace mandrill::worker
