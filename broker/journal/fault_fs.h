#pragma once
// A test Fs that forwards to a real one and injects faults (LevelDB's fault_injection_test
// env): fail the Nth write or sync with a chosen errno (optionally after a partial write),
// model a disk of limited capacity, "crash" after N more mutating operations, and simulate a
// power loss by cutting every file back to what was synced.
//
// Thread-safe: faults are set from the test thread while the journal writer runs. Every file
// written through this Fs is tracked by path; files that existed before are assumed durable.
#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "broker/journal/io.h"

namespace mandrill::broker::journal {

class FaultInjectingFs final : public Fs {
 public:
  // `base` must outlive this object.
  explicit FaultInjectingFs(Fs* base = PosixFs()) : base_(base) {}

  // ---- faults (any thread) ----
  // The nth Append from now (1 = the next one) fails with `err`, after writing the first
  // `partial_bytes` of it.
  void FailNthWrite(int nth, int err = EIO, std::size_t partial_bytes = 0);
  // The nth Sync from now fails with `err` (nothing becomes durable).
  void FailNthSync(int nth, int err = EIO);
  // Every Append (and Allocate) / every Sync fails with err until ClearFaults (a dead disk).
  void FailAllWrites(int err);
  void FailAllSyncs(int err);
  // Disk space: the files written through this Fs (their sizes and fallocated ranges) may not
  // exceed `bytes`. Beyond it an Append writes what fits and fails with ENOSPC; Allocate fails
  // with ENOSPC. nullopt: unlimited.
  void SetCapacity(std::optional<std::uint64_t> bytes);
  // With a capacity: an Allocate that does not fit keeps what did fit before failing with
  // ENOSPC, as ext4's fallocate does (the file then holds blocks nobody asked for).
  void SetAllocateKeepsPartial(bool keep);
  // After `ops` more mutating operations (append, sync, truncate, allocate, create, remove,
  // rename, dir sync), every mutating operation fails with EIO and touches nothing, as if the
  // process had died at that point.
  void CrashAfter(std::uint64_t ops);
  void ClearFaults();
  // Syncs succeed (and count as durable for DropUnsyncedData) without asking the disk: tests
  // that simulate power loss need no real fsync, and a busy CI disk makes those slow.
  void SkipRealSyncs(bool skip);

  // Power loss: cuts every tracked file to its last synced length and removes files created
  // since their directory was last synced. Removals and renames are treated as durable at once
  // (a simplification: real filesystems may undo them, which only resurrects data). A file
  // renamed over a name that was already durable keeps that name (the old file or the new one
  // survives a power loss, never neither: the model keeps the new one, cut to what was synced
  // of it). Call when no journal is writing.
  core::Status DropUnsyncedData();

  // ---- counters ----
  std::uint64_t syncs() const;         // successful file syncs
  std::uint64_t appends() const;       // successful appends
  std::uint64_t mutating_ops() const;  // mutating operations attempted
  std::uint64_t used_bytes() const;    // as the capacity model counts them

  // ---- Fs ----
  core::Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                           bool create_new) override;
  core::Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override;
  core::Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  core::Status CreateDirs(const std::string& dir) override;
  core::Status SyncDir(const std::string& dir) override;
  core::Status Remove(const std::string& path) override;
  core::Status Rename(const std::string& from, const std::string& to) override;
  core::Status Truncate(const std::string& path, std::uint64_t size) override;
  core::Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override;

 private:
  friend class FaultFile;
  struct FileState {
    std::uint64_t size = 0;
    std::uint64_t synced = 0;
    std::uint64_t allocated_end = 0;
    bool dir_synced = true;
  };
  // Requires mu_. True when the operation may proceed; counts it.
  bool MutationAllowedLocked();
  std::uint64_t UsedLocked() const;

  Fs* base_;
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  int fail_write_nth_ = 0, fail_write_err_ = 0;
  std::size_t fail_write_partial_ = 0;
  int fail_sync_nth_ = 0, fail_sync_err_ = 0;
  int all_writes_err_ = 0, all_syncs_err_ = 0;
  std::optional<std::uint64_t> capacity_;
  std::optional<std::uint64_t> crash_after_;
  bool skip_real_syncs_ = false;
  bool allocate_keeps_partial_ = false;
  std::uint64_t syncs_ = 0, appends_ = 0, mutating_ops_ = 0;
};

}  // namespace mandrill::broker::journal
