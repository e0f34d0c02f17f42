// LD_PRELOAD layer for power-cut tests: records what each successful fsync/fdatasync made
// durable, so that after a SIGKILL a test can cut the data dir back to what a power loss could
// leave (tests/integration/journal/power_cut_test.cpp). Only paths under
// $MANDRILL_POWERCUT_DIR are recorded, as lines appended to $MANDRILL_POWERCUT_LOG:
//   F <path> <size>          a file sync: its first <size> bytes are durable
//   D <path> <name>...       a directory sync: these entries are durable
// The line is written by the syncing thread before the sync returns, so it precedes anything
// the process does because of that sync (such as confirming a publish).
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
        if (e->d_name[0] != '.') line.append(" ").append(e->d_name);
      }
      ::closedir(d);
    }
  } else {
    line = std::string("F ") + path + " " + std::to_string(st.st_size);
  }
  line += "\n";
  (void)!::write(LogFd(), line.data(), line.size());  // one append: never interleaved
}

}  // namespace

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
