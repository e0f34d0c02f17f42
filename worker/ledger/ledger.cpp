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
      // FULL: in WAL mode NORMAL does not sync a commit, so an acked message's row could be
      // lost to a power cut; LedgerWriter's group commit shares one sync among many rows.
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS processed(message_id TEXT, queue TEXT, attempt INTEGER, "
      "worker TEXT, at_ms INTEGER, outcome TEXT, error TEXT);";
  char* err = nullptr;
  if (sqlite3_exec(db, setup, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown";
    sqlite3_free(err);
    sqlite3_close(db);
    return core::Error{core::Errc::kIo, "cannot set up ledger '" + path + "': " + why};
  }
  if (auto st = AddOutcomeColumns(db); !st.ok()) {
    sqlite3_close(db);
    return core::Error{core::Errc::kIo, "cannot migrate ledger '" + path + "': " + st.message()};
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO processed(message_id, queue, attempt, worker, at_ms, "
                         "outcome, error) VALUES(?, ?, ?, ?, ?, ?, ?)",
                         -1, &insert, nullptr) != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db);
    sqlite3_close(db);
    return core::Error{core::Errc::kIo, "cannot prepare ledger insert: " + why};
  }
  return std::unique_ptr<Ledger>(new Ledger(db, insert, worker));
}

// A ledger created before rows carried their outcome gains the columns (its rows keep NULL).
core::Status Ledger::AddOutcomeColumns(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM pragma_table_info('processed') WHERE "
                             "name = 'outcome'",
                         -1, &st, nullptr) != SQLITE_OK) {
    return core::Error{core::Errc::kIo, sqlite3_errmsg(db)};
  }
  const bool has = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
  sqlite3_finalize(st);
  if (has) return core::Status::Ok();
  for (const char* sql : {"ALTER TABLE processed ADD COLUMN outcome TEXT",
                          "ALTER TABLE processed ADD COLUMN error TEXT"}) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : sqlite3_errmsg(db);
      sqlite3_free(err);
      // Another worker sharing the file migrated it between our check and this statement.
      if (why.find("duplicate column") == std::string::npos) return core::Error{core::Errc::kIo, why};
    }
  }
  return core::Status::Ok();
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
    sqlite3_bind_text(insert_, 6, r.restarted ? "restarted" : "failed", -1, SQLITE_STATIC);
    if (r.restarted) {
      sqlite3_bind_null(insert_, 7);
    } else {
      sqlite3_bind_text(insert_, 7, r.error.data(), static_cast<int>(r.error.size()),
                        SQLITE_STATIC);
    }
    if (sqlite3_step(insert_) != SQLITE_DONE) {
      std::string why = sqlite3_errmsg(db_);
      (void)Exec("ROLLBACK");
      return core::Error{core::Errc::kIo, "ledger insert failed: " + why};
    }
  }
  return Exec("COMMIT");
}

}  // namespace mandrill::worker
