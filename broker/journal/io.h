#pragma once
// The journal's boundary with the operating system (LevelDB's Env, cut down to what a log
// needs). The writer, recovery and compaction touch files only through Fs, so tests can swap
// in FaultInjectingFs (fault_fs.h) to fail the Nth write or sync, fill the disk, or drop
// unsynced data as a power loss would, without a real full disk.
//
// Threading: an Fs is shared by the reactor thread (recovery) and the journal writer thread
// (everything after recovery); implementations must be thread-safe. A file object is used by
// one thread at a time.
//
// Failures are values: an Error whose code is a JournalErrc and whose message names the
// operation, the path and the OS reason ("write /d/journal-000000000003.seg: No space left on
// device").
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/journal/byte_buffer.h"
#include "shared/core/result.h"

namespace mandrill::broker::journal {
enum class JournalErrc;
}
template <>
struct std::is_error_code_enum<mandrill::broker::journal::JournalErrc> : std::true_type {};

namespace mandrill::broker::journal {

enum class JournalErrc {
  kIoError = 1,             // any other OS error (EIO, EACCES, ...)
  kDiskFull = 2,            // ENOSPC or EDQUOT
  kCorrupt = 3,             // bytes on disk are not a journal (recovery refuses to guess)
  kUnsupportedVersion = 4,  // a segment written by a newer format version
  kBadOptions = 5,          // JournalOptions or an fsync policy string is invalid
  kInUse = 6,               // another process holds the data dir's LOCK
  kClosed = 7,              // the journal was closed or never opened
};
using enum JournalErrc;
const std::error_category& JournalCategory();
inline std::error_code make_error_code(JournalErrc e) {  // NOLINT: found by ADL, std's spelling
  return {static_cast<int>(e), JournalCategory()};
}

// An Error for a failed system call: code kDiskFull for ENOSPC/EDQUOT, else kIoError.
core::Error OsError(std::string_view op, std::string_view path, int err);

// A file being appended to. Size() is the logical end of file as this object knows it.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends every buffer in order at Size(). On failure a prefix may have been written:
  // Size() then counts it, so the caller can Truncate() back.
  virtual core::Status Append(const struct iovec* iov, int count) = 0;
  core::Status Append(std::string_view bytes) {
    struct iovec v {
      const_cast<char*>(bytes.data()), bytes.size()
    };
    return Append(&v, 1);
  }
  // fdatasync: everything appended so far is on stable storage when this returns Ok.
  virtual core::Status Sync() = 0;
  virtual core::Status Truncate(std::uint64_t size) = 0;
  // Reserves blocks for [offset, offset + len) without changing the size (fallocate with
  // KEEP_SIZE), so later appends there cannot fail for lack of space. Best effort where the
  // filesystem cannot do it (returns Ok).
  virtual core::Status Allocate(std::uint64_t offset, std::uint64_t len) = 0;
  virtual std::uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to n bytes at offset into out; returns how many were read (0 at end of file).
  virtual core::Result<std::size_t> ReadAt(std::uint64_t offset, std::size_t n, char* out) = 0;
  // The first Size() bytes as one read-only view that stays valid while this object lives
  // (mmap), so recovery can decode records in place; nullopt where that is not possible (the
  // caller then reads). The file must not be truncated below the bytes used meanwhile.
  virtual std::optional<std::string_view> Map() { return std::nullopt; }
  virtual std::uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

// Held while the data dir is in use; released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Fs {
 public:
  virtual ~Fs() = default;
  // create_new: create the file, failing if it exists; else open an existing file, Size() = its
  // current length.
  virtual core::Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                                   bool create_new) = 0;
  virtual core::Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, excluding "." and "..".
  virtual core::Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual core::Status CreateDirs(const std::string& dir) = 0;
  // Makes creations, renames and removals of entries in dir durable.
  virtual core::Status SyncDir(const std::string& dir) = 0;
  virtual core::Status Remove(const std::string& path) = 0;
  virtual core::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual core::Status Truncate(const std::string& path, std::uint64_t size) = 0;
  // An exclusive advisory lock (flock) on a file (created if missing) or on a directory
  // itself; kInUse if another open of it holds the lock.
  virtual core::Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
};

// The real filesystem (POSIX). Process-wide, never destroyed.
Fs* PosixFs();

// Reads a whole file into *out (replacing its contents).
core::Status ReadWholeFile(Fs* fs, const std::string& path, ByteBuffer* out);
// Cuts the file at `path` to `size` bytes, which also gives back any space preallocated past
// it; with `sync`, makes the new length durable before returning.
core::Status TruncateFile(Fs* fs, const std::string& path, std::uint64_t size, bool sync);

}  // namespace mandrill::broker::journal
