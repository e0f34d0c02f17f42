// Ledger: each row carries its attempt's outcome; a ledger written before the outcome columns
// existed is migrated in place and keeps its rows.
#include "worker/ledger/ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/worker/ledger_fixture.h"

namespace mandrill::worker {
namespace {

std::string QueryText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::string out = "<no row>";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(st, 0);
    out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
  } else {
    out = std::string("<error: ") + sqlite3_errmsg(db) + ">";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class LedgerTest : public testing::LedgerDirTest {};

TEST_F(LedgerTest, EachRowRecordsItsAttemptsOutcome) {
  auto ledger = Ledger::Open(path_, "worker-a");
  ASSERT_TRUE(ledger.ok()) << ledger.error().message;
  ASSERT_TRUE((*ledger)
                  ->Write({LedgerRow{"m-1", "restarts", 1, 1000, false, "restart failed"},
                           LedgerRow{"m-1", "restarts", 2, 2000, true, ""}})
                  .ok());
  EXPECT_EQ(QueryText(path_, "SELECT outcome || ':' || error FROM processed WHERE attempt = 1"),
            "failed:restart failed");
  EXPECT_EQ(QueryText(path_, "SELECT outcome FROM processed WHERE attempt = 2"), "restarted");
  EXPECT_EQ(QueryText(path_, "SELECT error FROM processed WHERE attempt = 2"), "<null>");
}

TEST_F(LedgerTest, LedgerWithoutOutcomeColumnsIsMigratedAndKeepsItsRows) {
  {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE processed(message_id TEXT, queue TEXT, attempt INTEGER, "
                           "worker TEXT, at_ms INTEGER);"
                           "INSERT INTO processed VALUES('old-1', 'restarts', 1, 'w', 5);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto ledger = Ledger::Open(path_, "worker-a");
  ASSERT_TRUE(ledger.ok()) << ledger.error().message;
  ASSERT_TRUE((*ledger)->Write({LedgerRow{"new-1", "restarts", 1, 6, true, ""}}).ok());
  EXPECT_EQ(QueryText(path_, "SELECT COALESCE(outcome, 'legacy') FROM processed WHERE "
                             "message_id = 'old-1'"),
            "legacy");
  EXPECT_EQ(QueryText(path_, "SELECT outcome FROM processed WHERE message_id = 'new-1'"),
            "restarted");
  // A second worker opening the migrated file changes nothing.
  auto again = Ledger::Open(path_, "worker-b");
  EXPECT_TRUE(again.ok()) << again.error().message;
}

}  // namespace
}  // namespace mandrill::worker
