// LedgerWriter: rows recorded concurrently are committed in few transactions, off the loop; a
// failed commit fails every Record of its batch.
#include "worker/ledger/ledger_writer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/worker/ledger_fixture.h"

#include "tests/unit/worker/worker_test_util.h"

namespace mandrill::worker::testing {
namespace {

std::int64_t Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::int64_t out = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    out = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

class LedgerWriterTest : public LedgerDirTest {};

runtime::Task<void> RecordOne(LedgerWriter* w, int i, int* done, int* failed) {
  try {
    LedgerRow row{"m-" + std::to_string(i), "restarts", 1, 1000 + i, true, ""};  // named: GCC 12
    co_await w->Record(std::move(row));
    ++*done;
  } catch (const std::runtime_error&) {
    ++*failed;
  }
}

runtime::Task<void> ManyRows(std::string path, runtime::ThreadPool* pool, int* done, int* failed,
                             LedgerWriterStats* stats) {
  auto ledger = Ledger::Open(path, "worker-a");
  EXPECT_TRUE(ledger.ok());
  LedgerWriter writer(std::move(ledger).value(), *pool, /*max_rows_per_commit=*/100);
  runtime::Supervisor services("services");
  writer.Start(services);
  {
    runtime::Supervisor rows("rows");
    for (int i = 0; i < 1000; ++i) rows.Spawn("row", RecordOne(&writer, i, done, failed));
    co_await rows.Join();
  }
  co_await writer.Stop();
  co_await services.Join();
  *stats = writer.stats();
}

TEST_F(LedgerWriterTest, ConcurrentRowsAreCommittedInFewTransactions) {
  runtime::ThreadPool pool("exec", 1);
  runtime::Loop loop;
  int done = 0, failed = 0;
  LedgerWriterStats stats;
  loop.Run(ManyRows(path_, &pool, &done, &failed, &stats));
  EXPECT_EQ(done, 1000);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(stats.rows, 1000u);
  EXPECT_LE(stats.commits, 20u) << "rows queued during a commit share the next one";
  EXPECT_GE(stats.commits, 10u) << "at most 100 rows per transaction";
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM processed"), 1000);
  EXPECT_EQ(Query(path_, "SELECT COUNT(DISTINCT message_id) FROM processed"), 1000);
  EXPECT_EQ(Query(path_, "SELECT COUNT(*) FROM processed WHERE worker = 'worker-a'"), 1000);
}

runtime::Task<void> FailingCommit(std::string path, runtime::ThreadPool* pool, int* done,
                                  int* failed) {
  auto ledger = Ledger::Open(path, "worker-a");
  EXPECT_TRUE(ledger.ok());
  Exec(path, "DROP TABLE processed");  // every insert fails from now on
  LedgerWriter writer(std::move(ledger).value(), *pool);
  runtime::Supervisor services("services");
  writer.Start(services);
  {
    runtime::Supervisor rows("rows");
    for (int i = 0; i < 10; ++i) rows.Spawn("row", RecordOne(&writer, i, done, failed));
    co_await rows.Join();
  }
  co_await writer.Stop();
  co_await services.Join();
  EXPECT_EQ(writer.stats().failed_rows, 10u);
}

TEST_F(LedgerWriterTest, FailedCommitFailsEveryRecordInIt) {
  runtime::ThreadPool pool("exec", 1);
  runtime::Loop loop;
  int done = 0, failed = 0;
  loop.Run(FailingCommit(path_, &pool, &done, &failed));
  EXPECT_EQ(done, 0);
  EXPECT_EQ(failed, 10);
}

runtime::Task<void> AfterStop(std::string path, runtime::ThreadPool* pool, int* failed) {
  auto ledger = Ledger::Open(path, "w");
  LedgerWriter writer(std::move(ledger).value(), *pool);
  runtime::Supervisor services("services");
  writer.Start(services);
  co_await writer.Stop();
  co_await services.Join();
  int done = 0;
  co_await RecordOne(&writer, 1, &done, failed);
}

TEST_F(LedgerWriterTest, RecordAfterStopFails) {
  runtime::ThreadPool pool("exec", 1);
  runtime::Loop loop;
  int failed = 0;
  loop.Run(AfterStop(path_, &pool, &failed));
  EXPECT_EQ(failed, 1);
}

}  // namespace
}  // namespace mandrill::worker::testing
