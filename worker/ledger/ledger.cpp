#include "worker/ledger/ledger.h"

#include <memory>

namespace mandrill::worker {

core::Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& path,
                                                   const std::string& worker) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return core::Error{core::Errc::kIo, "cannot open ledger '" + path + "': " + why};
  }
  sqlite3_busy_timeout(db, 5000);  // several workers may share one ledger file
  const char* setup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=NORMAL;"
      "CREATE TABLE IF NOT EXISTS processed(message_id TEXT, queue TEXT, attempt INTEGER, "
      "worker TEXT, at_ms INTEGER);";
  char* err = nullptr;
  if (sqlite3_exec(db, setup, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown";
    sqlite3_free(err);
    sqlite3_close(db);
    return core::Error{core::Errc::kIo, "cannot set up ledger '" + path + "': " + why};
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO processed(message_id, queue, attempt, worker, at_ms) "
                         "VALUES(?, ?, ?, ?, ?)",
                         -1, &insert, nullptr) != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db);
    sqlite3_close(db);
    return core::Error{core::Errc::kIo, "cannot prepare ledger insert: " + why};
  }
  return std::unique_ptr<Ledger>(new Ledger(db, insert, worker));
}

Ledger::~Ledger() {
  sqlite3_finalize(insert_);
  sqlite3_close(db_);
}

core::Status Ledger::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return core::Error{core::Errc::kIo, std::string(sql) + ": " + why};
  }
  return core::Status::Ok();
}

core::Status Ledger::Write(const std::vector<LedgerRow>& rows) {
  if (rows.empty()) return core::Status::Ok();
  if (auto st = Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  for (const auto& r : rows) {
    sqlite3_reset(insert_);
    sqlite3_bind_text(insert_, 1, r.message_id.data(), static_cast<int>(r.message_id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(insert_, 2, r.queue.data(), static_cast<int>(r.queue.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 3, r.attempt);
    sqlite3_bind_text(insert_, 4, worker_.data(), static_cast<int>(worker_.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 5, r.at_ms);
    if (sqlite3_step(insert_) != SQLITE_DONE) {
      std::string why = sqlite3_errmsg(db_);
      (void)Exec("ROLLBACK");
      return core::Error{core::Errc::kIo, "ledger insert failed: " + why};
    }
  }
  return Exec("COMMIT");
}

}  // namespace mandrill::worker
