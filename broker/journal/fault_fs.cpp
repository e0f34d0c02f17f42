#include "broker/journal/fault_fs.h"

#include <algorithm>
#include <vector>

namespace mandrill::broker::journal {

namespace {
std::string DirOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}
core::Error Crashed(std::string_view op, std::string_view path) {
  return OsError(std::string(op) + " (after simulated crash)", path, EIO);
}
}  // namespace

// A tracked file: every operation takes the Fs mutex, checks the fault plan, forwards to the
// real file and updates the Fs's view of size, synced length and allocation.
class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultInjectingFs* fs, std::unique_ptr<WritableFile> base)
      : fs_(fs), base_(std::move(base)) {}

  core::Status Append(const struct iovec* iov, int count) override {
    std::lock_guard lock(fs_->mu_);
    if (!fs_->MutationAllowedLocked()) return Crashed("write", path());
    auto& st = fs_->files_[path()];
    std::size_t total = 0;
    for (int i = 0; i < count; ++i) total += iov[i].iov_len;
    int err = 0;
    std::size_t allowed = total;
    if (fs_->all_writes_err_ != 0) {
      err = fs_->all_writes_err_;
      allowed = 0;
    } else if (fs_->fail_write_nth_ > 0 && --fs_->fail_write_nth_ == 0) {
      err = fs_->fail_write_err_;
      allowed = std::min(total, fs_->fail_write_partial_);
    }
    if (fs_->capacity_) {
      const std::uint64_t used = fs_->UsedLocked();
      const std::uint64_t have = std::max(st.size, st.allocated_end);
      const std::uint64_t grow = st.size + allowed > have ? st.size + allowed - have : 0;
      const std::uint64_t free = *fs_->capacity_ > used ? *fs_->capacity_ - used : 0;
      if (grow > free) {
        allowed -= static_cast<std::size_t>(grow - free);
        if (err == 0) err = ENOSPC;
      }
    }
    // Forward the first `allowed` bytes.
    std::vector<struct iovec> part;
    std::size_t left = allowed;
    for (int i = 0; i < count && left > 0; ++i) {
      const std::size_t n = std::min(left, iov[i].iov_len);
      part.push_back({iov[i].iov_base, n});
      left -= n;
    }
    if (!part.empty()) {
      auto s = base_->Append(part.data(), static_cast<int>(part.size()));
      st.size = base_->Size();
      if (!s.ok()) return s;
    }
    if (err != 0) return OsError("write", path(), err);
    ++fs_->appends_;
    return core::Status::Ok();
  }

  core::Status Sync() override {
    std::lock_guard lock(fs_->mu_);
    if (!fs_->MutationAllowedLocked()) return Crashed("fdatasync", path());
    if (fs_->all_syncs_err_ != 0) return OsError("fdatasync", path(), fs_->all_syncs_err_);
    if (fs_->fail_sync_nth_ > 0 && --fs_->fail_sync_nth_ == 0) {
      return OsError("fdatasync", path(), fs_->fail_sync_err_);
    }
    if (!fs_->skip_real_syncs_) {
      auto s = base_->Sync();
      if (!s.ok()) return s;
    }
    auto& st = fs_->files_[path()];
    st.synced = base_->Size();
    ++fs_->syncs_;
    return core::Status::Ok();
  }

  core::Status Truncate(std::uint64_t size) override {
    std::lock_guard lock(fs_->mu_);
    if (!fs_->MutationAllowedLocked()) return Crashed("truncate", path());
    auto s = base_->Truncate(size);
    if (!s.ok()) return s;
    auto& st = fs_->files_[path()];
    st.size = size;
    st.synced = std::min(st.synced, size);
    st.allocated_end = std::min(st.allocated_end, size);  // truncation frees blocks past EOF
    return core::Status::Ok();
  }

  core::Status Allocate(std::uint64_t offset, std::uint64_t len) override {
    std::lock_guard lock(fs_->mu_);
    if (!fs_->MutationAllowedLocked()) return Crashed("fallocate", path());
    if (fs_->all_writes_err_ != 0) return OsError("fallocate", path(), fs_->all_writes_err_);
    auto& st = fs_->files_[path()];
    const std::uint64_t end = offset + len;
    const std::uint64_t have = std::max(st.size, st.allocated_end);
    if (fs_->capacity_ && end > have) {
      const std::uint64_t used = fs_->UsedLocked();
      if (used + (end - have) > *fs_->capacity_) {
        if (fs_->allocate_keeps_partial_ && *fs_->capacity_ > used) {
          st.allocated_end = have + (*fs_->capacity_ - used);
        }
        return OsError("fallocate", path(), ENOSPC);
      }
    }
    auto s = base_->Allocate(offset, len);
    if (!s.ok()) return s;
    st.allocated_end = std::max(st.allocated_end, end);
    return core::Status::Ok();
  }

  std::uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectingFs* fs_;
  std::unique_ptr<WritableFile> base_;
};

void FaultInjectingFs::FailNthWrite(int nth, int err, std::size_t partial_bytes) {
  std::lock_guard lock(mu_);
  fail_write_nth_ = nth;
  fail_write_err_ = err;
  fail_write_partial_ = partial_bytes;
}
void FaultInjectingFs::FailNthSync(int nth, int err) {
  std::lock_guard lock(mu_);
  fail_sync_nth_ = nth;
  fail_sync_err_ = err;
}
void FaultInjectingFs::FailAllWrites(int err) {
  std::lock_guard lock(mu_);
  all_writes_err_ = err;
}
void FaultInjectingFs::FailAllSyncs(int err) {
  std::lock_guard lock(mu_);
  all_syncs_err_ = err;
}
void FaultInjectingFs::SetCapacity(std::optional<std::uint64_t> bytes) {
  std::lock_guard lock(mu_);
  capacity_ = bytes;
}
void FaultInjectingFs::SetAllocateKeepsPartial(bool keep) {
  std::lock_guard lock(mu_);
  allocate_keeps_partial_ = keep;
}
void FaultInjectingFs::CrashAfter(std::uint64_t ops) {
  std::lock_guard lock(mu_);
  crash_after_ = mutating_ops_ + ops;
}
void FaultInjectingFs::SkipRealSyncs(bool skip) {
  std::lock_guard lock(mu_);
  skip_real_syncs_ = skip;
}
void FaultInjectingFs::ClearFaults() {
  std::lock_guard lock(mu_);
  fail_write_nth_ = fail_sync_nth_ = 0;
  all_writes_err_ = all_syncs_err_ = 0;
  capacity_.reset();
  crash_after_.reset();
}

std::uint64_t FaultInjectingFs::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}
std::uint64_t FaultInjectingFs::appends() const {
  std::lock_guard lock(mu_);
  return appends_;
}
std::uint64_t FaultInjectingFs::mutating_ops() const {
  std::lock_guard lock(mu_);
  return mutating_ops_;
}
std::uint64_t FaultInjectingFs::used_bytes() const {
  std::lock_guard lock(mu_);
  return UsedLocked();
}

bool FaultInjectingFs::MutationAllowedLocked() {
  ++mutating_ops_;
  return !crash_after_ || mutating_ops_ <= *crash_after_;
}

std::uint64_t FaultInjectingFs::UsedLocked() const {
  std::uint64_t used = 0;
  for (const auto& [path, st] : files_) used += std::max(st.size, st.allocated_end);
  return used;
}

core::Status FaultInjectingFs::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (!it->second.dir_synced) {
      auto s = base_->Remove(it->first);
      if (!s.ok()) return s;
      it = files_.erase(it);
      continue;
    }
    auto s = base_->Truncate(it->first, it->second.synced);
    if (!s.ok()) return s;
    it->second.size = it->second.synced;
    it->second.allocated_end = std::min(it->second.allocated_end, it->second.synced);
    ++it;
  }
  return core::Status::Ok();
}

core::Result<std::unique_ptr<WritableFile>> FaultInjectingFs::OpenWritable(const std::string& path,
                                                                           bool create_new) {
  std::lock_guard lock(mu_);
  if (create_new && !MutationAllowedLocked()) return Crashed("create", path);
  auto base = base_->OpenWritable(path, create_new);
  if (!base.ok()) return base.error();
  auto it = files_.find(path);
  if (create_new || it == files_.end()) {
    FileState st;
    st.size = st.synced = (*base)->Size();
    st.dir_synced = !create_new;
    files_[path] = st;
  }
  return std::unique_ptr<WritableFile>(new FaultFile(this, std::move(*base)));
}

core::Result<std::unique_ptr<ReadableFile>> FaultInjectingFs::OpenReadable(
    const std::string& path) {
  return base_->OpenReadable(path);
}

core::Result<std::vector<std::string>> FaultInjectingFs::ListDir(const std::string& dir) {
  return base_->ListDir(dir);
}

core::Status FaultInjectingFs::CreateDirs(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (!MutationAllowedLocked()) return Crashed("mkdir", dir);
  return base_->CreateDirs(dir);
}

core::Status FaultInjectingFs::SyncDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (!MutationAllowedLocked()) return Crashed("fsync", dir);
  if (!skip_real_syncs_) {
    auto s = base_->SyncDir(dir);
    if (!s.ok()) return s;
  }
  for (auto& [path, st] : files_) {
    if (DirOf(path) == dir) st.dir_synced = true;
  }
  return core::Status::Ok();
}

core::Status FaultInjectingFs::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  if (!MutationAllowedLocked()) return Crashed("unlink", path);
  auto s = base_->Remove(path);
  if (s.ok()) files_.erase(path);
  return s;
}

core::Status FaultInjectingFs::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (!MutationAllowedLocked()) return Crashed("rename", from);
  // Was `to` a durable entry before? (Tracked and its dir synced, or there before this Fs.)
  bool to_was_durable = false;
  if (auto t = files_.find(to); t != files_.end()) {
    to_was_durable = t->second.dir_synced;
  } else if (auto names = base_->ListDir(DirOf(to)); names.ok()) {
    const std::string name = to.substr(to.rfind('/') + 1);
    to_was_durable = std::find(names->begin(), names->end(), name) != names->end();
  }
  auto s = base_->Rename(from, to);
  if (!s.ok()) return s;
  if (auto it = files_.find(from); it != files_.end()) {
    FileState st = it->second;
    st.dir_synced = st.dir_synced || to_was_durable;
    files_.erase(it);
    files_[to] = st;
  }
  return s;
}

core::Status FaultInjectingFs::Truncate(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  if (!MutationAllowedLocked()) return Crashed("truncate", path);
  auto s = base_->Truncate(path, size);
  if (!s.ok()) return s;
  if (auto it = files_.find(path); it != files_.end()) {
    it->second.size = size;
    it->second.synced = std::min(it->second.synced, size);
    it->second.allocated_end = std::min(it->second.allocated_end, size);
  }
  return s;
}

core::Result<std::unique_ptr<FileLock>> FaultInjectingFs::Lock(const std::string& path) {
  return base_->Lock(path);
}

}  // namespace mandrill::broker::journal
