// Fs over POSIX system calls. Every call retries EINTR and reports errno through OsError.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "broker/journal/io.h"

namespace mandrill::broker::journal {

namespace {

class JournalErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mandrill.journal"; }
  std::string message(int value) const override {
    switch (static_cast<JournalErrc>(value)) {
      case kIoError:
        return "i/o error";
      case kDiskFull:
        return "disk full";
      case kCorrupt:
        return "corrupt journal";
      case kUnsupportedVersion:
        return "unsupported journal version";
      case kBadOptions:
        return "bad journal options";
      case kInUse:
        return "data dir in use";
      case kClosed:
        return "journal closed";
    }
    return "journal error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& JournalCategory() {
  static const JournalErrorCategory category;
  return category;
}

core::Error OsError(std::string_view op, std::string_view path, int err) {
  const JournalErrc code = (err == ENOSPC || err == EDQUOT) ? kDiskFull : kIoError;
  std::string msg;
  msg.reserve(op.size() + path.size() + 40);
  msg.append(op).append(" ").append(path).append(": ").append(std::strerror(err));
  return core::Error{code, std::move(msg)};
}

namespace {

class PosixWritable final : public WritableFile {
 public:
  PosixWritable(std::string path, int fd, std::uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritable() override { ::close(fd_); }

  core::Status Append(const struct iovec* iov, int count) override {
    // pwritev at our own offset: no file position to keep in step after a truncate.
    constexpr int kMaxIov = 64;
    struct iovec local[kMaxIov];
    while (count > 0) {
      const int n = count < kMaxIov ? count : kMaxIov;
      std::memcpy(local, iov, sizeof(struct iovec) * static_cast<std::size_t>(n));
      int first = 0;
      while (first < n) {
        const ssize_t w = ::pwritev(fd_, local + first, n - first, static_cast<off_t>(size_));
        if (w < 0) {
          if (errno == EINTR) continue;
          return OsError("write", path_, errno);
        }
        if (w == 0) return OsError("write", path_, EIO);
        size_ += static_cast<std::uint64_t>(w);
        std::size_t left = static_cast<std::size_t>(w);
        while (first < n && left >= local[first].iov_len) {
          left -= local[first].iov_len;
          ++first;
        }
        if (first < n) {
          local[first].iov_base = static_cast<char*>(local[first].iov_base) + left;
          local[first].iov_len -= left;
        }
      }
      iov += n;
      count -= n;
    }
    return core::Status::Ok();
  }

  core::Status Sync() override {
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return OsError("fdatasync", path_, errno);
    }
    return core::Status::Ok();
  }

  core::Status Truncate(std::uint64_t size) override {
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return OsError("truncate", path_, errno);
    }
    size_ = size;
    return core::Status::Ok();
  }

  core::Status Allocate(std::uint64_t offset, std::uint64_t len) override {
    while (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(len)) != 0) {
      if (errno == EINTR) continue;
      if (errno == EOPNOTSUPP || errno == ENOSYS) return core::Status::Ok();  // best effort
      return OsError("fallocate", path_, errno);
    }
    return core::Status::Ok();
  }

  std::uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_;
};

class PosixReadable final : public ReadableFile {
 public:
  PosixReadable(std::string path, int fd, std::uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixReadable() override {
    if (map_ != nullptr) ::munmap(map_, static_cast<std::size_t>(size_));
    ::close(fd_);
  }

  std::optional<std::string_view> Map() override {
    if (size_ == 0) return std::string_view();
    if (map_ == nullptr) {
      // MAP_POPULATE: one call maps every cached page instead of a fault per 4 KiB.
      void* p = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ,
                       MAP_PRIVATE | MAP_POPULATE, fd_, 0);
      if (p == MAP_FAILED) return std::nullopt;  // e.g. a filesystem without mmap: read instead
      ::madvise(p, static_cast<std::size_t>(size_), MADV_SEQUENTIAL);
      map_ = p;
    }
    return std::string_view(static_cast<const char*>(map_), static_cast<std::size_t>(size_));
  }

  core::Result<std::size_t> ReadAt(std::uint64_t offset, std::size_t n, char* out) override {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return OsError("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<std::size_t>(r);
    }
    return done;
  }
  std::uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_;
  void* map_ = nullptr;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }  // closing releases the flock

 private:
  int fd_;
};

class PosixFsImpl final : public Fs {
 public:
  core::Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                           bool create_new) override {
    const int flags = O_WRONLY | O_CLOEXEC | (create_new ? (O_CREAT | O_EXCL) : 0);
    int fd;
    do {
      fd = ::open(path.c_str(), flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return OsError(create_new ? "create" : "open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return OsError("stat", path, err);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritable(path, fd, static_cast<std::uint64_t>(st.st_size)));
  }

  core::Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return OsError("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return OsError("stat", path, err);
    }
    return std::unique_ptr<ReadableFile>(
        new PosixReadable(path, fd, static_cast<std::uint64_t>(st.st_size)));
  }

  core::Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return OsError("list", dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      const std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return OsError("list", dir, err);
    return names;
  }

  core::Status CreateDirs(const std::string& dir) override {
    // Each directory made here is only durable once its parent's entry for it is: fsync the
    // parent of every one created, top down.
    std::filesystem::path p;
    for (const auto& part : std::filesystem::path(dir)) {
      p /= part;
      if (part.empty() || part == "/") continue;
      if (::mkdir(p.c_str(), 0755) != 0) {
        if (errno == EEXIST) continue;
        return OsError("mkdir", p.string(), errno);
      }
      const std::string parent = p.has_parent_path() ? p.parent_path().string() : ".";
      if (auto s = SyncDir(parent.empty() ? "." : parent); !s.ok()) return s;
    }
    return core::Status::Ok();
  }

  core::Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return OsError("open", dir, errno);
    int rc;
    do {
      rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return OsError("fsync", dir, err);
    return core::Status::Ok();
  }

  core::Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return OsError("unlink", path, errno);
    return core::Status::Ok();
  }

  core::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return OsError("rename", from, errno);
    return core::Status::Ok();
  }

  core::Status Truncate(const std::string& path, std::uint64_t size) override {
    while (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return OsError("truncate", path, errno);
    }
    return core::Status::Ok();
  }

  core::Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    // A directory is locked through an O_DIRECTORY descriptor of itself: unlike a file in it,
    // it cannot be deleted from under the process holding the lock.
    struct stat st;
    const bool dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    const int fd = dir ? ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                       : ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return OsError("open", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return core::Error{kInUse, "data dir is in use: another process holds a lock on " + path +
                                       " (is another broker running on it?)"};
      }
      return OsError("lock", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }
};

}  // namespace

Fs* PosixFs() {
  static PosixFsImpl* fs = new PosixFsImpl();  // never destroyed: used until exit
  return fs;
}

core::Status ReadWholeFile(Fs* fs, const std::string& path, ByteBuffer* out) {
  auto file = fs->OpenReadable(path);
  if (!file.ok()) return file.error();
  const std::uint64_t size = (*file)->Size();
  out->Clear();
  char* dst = out->Extend(static_cast<std::size_t>(size));
  auto n = (*file)->ReadAt(0, static_cast<std::size_t>(size), dst);
  if (!n.ok()) return n.error();
  out->Truncate(*n);  // the file may have shrunk since stat
  return core::Status::Ok();
}

core::Status TruncateFile(Fs* fs, const std::string& path, std::uint64_t size, bool sync) {
  auto file = fs->OpenWritable(path, /*create_new=*/false);
  if (!file.ok()) return file.error();
  if (auto s = (*file)->Truncate(size); !s.ok()) return s;
  return sync ? (*file)->Sync() : core::Status::Ok();
}

}  // namespace mandrill::broker::journal
