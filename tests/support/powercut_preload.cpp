// LD_PRELOAD layer for power-cut tests: records what each successful fsync/fdatasync made
// durable, and keeps every file the process removes from the directory tree, so that after a
// SIGKILL a test can cut the data dir back to what a power loss could leave
// (tests/integration/journal/power_cut_test.cpp). Only paths under $MANDRILL_POWERCUT_DIR are
// recorded, as lines appended to $MANDRILL_POWERCUT_LOG:
//   F <path> <inode> <size>          a file sync: the inode's first <size> bytes are durable
//   D <path> <name>:<inode>...       a directory sync: these entries are durable
//   U <path> <inode>                 an unlink; the inode is kept as $MANDRILL_POWERCUT_GRAVE/<inode>
//   R <from> <to> <inode>            a rename of <inode>; a file it replaced goes to the grave
// Contents are tracked per inode because a rename moves an inode to another name. The line is
// written by the syncing thread before the sync returns, so it precedes anything the process
// does because of that sync (such as confirming a publish).
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int LogFd() {
  static const int fd = [] {
    const char* path = std::getenv("MANDRILL_POWERCUT_LOG");
    return path == nullptr ? -1 : ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }();
  return fd;
}

void Log(const std::string& line) { (void)!::write(LogFd(), line.data(), line.size()); }

void Record(int fd) {
  const char* under = std::getenv("MANDRILL_POWERCUT_DIR");
  if (under == nullptr || LogFd() < 0) return;
  char link[64], path[4096];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, path, sizeof(path) - 1);
  if (n <= 0) return;
  path[n] = '\0';
  if (std::strncmp(path, under, std::strlen(under)) != 0) return;
  struct stat st;
  if (::fstat(fd, &st) != 0) return;
  std::string line;
  if (S_ISDIR(st.st_mode)) {
    line = std::string("D ") + path;
    if (DIR* d = ::opendir(path)) {
      while (struct dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') {
          line.append(" ").append(e->d_name).append(":").append(std::to_string(e->d_ino));
        }
      }
      ::closedir(d);
    }
  } else {
    line = std::string("F ") + path + " " + std::to_string(st.st_ino) + " " +
           std::to_string(st.st_size);
  }
  line += "\n";
  Log(line);  // one append: never interleaved
}

bool Watched(const char* path) {
  const char* under = std::getenv("MANDRILL_POWERCUT_DIR");
  if (under == nullptr || LogFd() < 0 || path == nullptr) return false;
  char real[4096];
  // The file itself may be a symlink target elsewhere; its directory is what counts.
  std::string dir(path);
  const auto slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : dir.substr(0, slash == 0 ? 1 : slash);
  if (::realpath(dir.c_str(), real) == nullptr) return false;
  return std::strncmp(real, under, std::strlen(under)) == 0;
}

// Hard-links the file at `path` into the grave (under its inode number) so a power cut that
// undoes its removal can bring it back. Returns the inode, or 0 if there is nothing to keep.
ino_t Bury(const char* path) {
  struct stat st;
  if (::lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  const char* grave = std::getenv("MANDRILL_POWERCUT_GRAVE");
  if (grave == nullptr) return 0;
  const std::string to = std::string(grave) + "/" + std::to_string(st.st_ino);
  if (::link(path, to.c_str()) != 0 && errno != EEXIST) return 0;
  return st.st_ino;
}

}  // namespace

extern "C" int unlink(const char* path) {
  static auto real = reinterpret_cast<int (*)(const char*)>(::dlsym(RTLD_NEXT, "unlink"));
  const ino_t ino = Watched(path) ? Bury(path) : 0;
  const int rc = real(path);
  if (rc == 0 && ino != 0) Log(std::string("U ") + path + " " + std::to_string(ino) + "\n");
  return rc;
}

extern "C" int rename(const char* from, const char* to) {
  static auto real =
      reinterpret_cast<int (*)(const char*, const char*)>(::dlsym(RTLD_NEXT, "rename"));
  const bool watched = Watched(from) || Watched(to);
  struct stat st {};
  if (watched) {
    Bury(to);  // the file it replaces, if any
    if (::lstat(from, &st) != 0) st.st_ino = 0;
  }
  const int rc = real(from, to);
  if (rc == 0 && watched) {
    Log(std::string("R ") + from + " " + to + " " + std::to_string(st.st_ino) + "\n");
  }
  return rc;
}

extern "C" int fsync(int fd) {
  static auto real = reinterpret_cast<int (*)(int)>(::dlsym(RTLD_NEXT, "fsync"));
  const int rc = real(fd);
  if (rc == 0) Record(fd);
  return rc;
}

extern "C" int fdatasync(int fd) {
  static auto real = reinterpret_cast<int (*)(int)>(::dlsym(RTLD_NEXT, "fdatasync"));
  const int rc = real(fd);
  if (rc == 0) Record(fd);
  return rc;
}
