// Writes the seed corpora of the protocol fuzz targets (tests/fuzz/corpus/protocol_frames and
// protocol_body): one file per valid sample message, named after its command. With --check it
// compares an existing directory with what it would write instead, so a codec change that
// alters the encoding shows up as a stale corpus rather than silently weaker seeds.
//
//   protocol_fuzz_corpus [--check] FRAMES_DIR BODY_DIR
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "shared/protocol/codec.h"
#include "tests/fuzz/protocol/fuzz_support.h"
#include "tests/unit/protocol/sample_messages.h"

namespace {

namespace fs = std::filesystem;
using mandrill::protocol::CommandName;
using mandrill::protocol::CommandOf;

// name -> bytes for one directory.
std::map<std::string, std::string> Files(const std::vector<std::string>& inputs) {
  const auto samples = mandrill::protocol::samples::All();
  std::map<std::string, std::string> files;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "valid-%02zu-%s", i,
                  std::string(CommandName(CommandOf(samples[i]))).c_str());
    files[name] = inputs[i];
  }
  return files;
}

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int Sync(const fs::path& dir, const std::map<std::string, std::string>& files, bool check) {
  int problems = 0;
  if (check) {
    for (const auto& [name, bytes] : files) {
      if (!fs::exists(dir / name)) {
        std::fprintf(stderr, "missing: %s\n", (dir / name).c_str());
        ++problems;
      } else if (Slurp(dir / name) != bytes) {
        std::fprintf(stderr, "stale: %s\n", (dir / name).c_str());
        ++problems;
      }
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("valid-", 0) == 0 && files.count(name) == 0) {
        std::fprintf(stderr, "left over: %s\n", entry.path().c_str());
        ++problems;
      }
    }
    return problems;
  }
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("valid-", 0) == 0) fs::remove(entry.path());
  }
  for (const auto& [name, bytes] : files) {
    std::ofstream(dir / name, std::ios::binary).write(bytes.data(),
                                                      static_cast<std::streamsize>(bytes.size()));
  }
  std::printf("wrote %zu seeds to %s\n", files.size(), dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check") == 0) {
      check = true;
    } else {
      dirs.push_back(argv[i]);
    }
  }
  if (dirs.size() != 2) {
    std::fprintf(stderr, "usage: %s [--check] FRAMES_DIR BODY_DIR\n", argv[0]);
    return 2;
  }
  int problems = Sync(dirs[0], Files(mandrill::fuzz::FramesSeeds()), check) +
                 Sync(dirs[1], Files(mandrill::fuzz::BodySeeds()), check);
  if (problems != 0) {
    std::fprintf(stderr,
                 "%d corpus files differ from the current encoder; regenerate with:\n  %s %s %s\n",
                 problems, argv[0], dirs[0].c_str(), dirs[1].c_str());
    return 1;
  }
  if (check) std::printf("corpus is current\n");
  return 0;
}
