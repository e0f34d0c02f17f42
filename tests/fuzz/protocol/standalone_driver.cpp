// main() for a fuzz target in builds without libFuzzer (g++, and clang without MANDRILL_FUZZ):
// replays the given corpus files and directories and the target's built-in seeds, then runs a
// deterministic, seeded mutation loop over them. Any contract violation or sanitizer report
// ends the process with the offending input saved as ./crash-<target>-<seed>-<iteration> and
// the command that replays it.
//
//   <target> [--iterations=N] [--seed=S] [--max-len=N] [FILE|DIR...]
//
// Replaying one saved file (the reproduction step): <target> --iterations=0 crash-file
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/protocol/fuzz_support.h"
#include "tests/fuzz/protocol/mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Sanitizer runtimes call this before exiting on a report; absent (weak) in plain builds.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

const char* g_program = "fuzz";
const std::string* g_current = nullptr;  // the input being run
std::uint64_t g_seed = 0;
std::size_t g_iteration = 0;
bool g_replaying = true;

void SaveCurrentInput() {
  if (g_current == nullptr) return;
  const std::string name = std::string("crash-") +
                           std::filesystem::path(g_program).filename().string() + "-" +
                           std::to_string(g_seed) + "-" + std::to_string(g_iteration);
  std::ofstream(name, std::ios::binary).write(g_current->data(),
                                              static_cast<std::streamsize>(g_current->size()));
  std::fprintf(stderr,
               "\n=== failing input (%zu bytes, %s, seed %llu, iteration %zu) saved to %s\n"
               "=== replay: %s --iterations=0 %s\n",
               g_current->size(), g_replaying ? "corpus replay" : "mutation",
               static_cast<unsigned long long>(g_seed), g_iteration, name.c_str(), g_program,
               name.c_str());
}

void Run(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

bool ReadFile(const std::filesystem::path& path, std::vector<std::string>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

bool Flag(const char* arg, const char* name, std::uint64_t* value) {
  const std::size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  char* end = nullptr;
  *value = std::strtoull(arg + n + 1, &end, 10);
  if (end == arg + n + 1 || *end != '\0') {
    std::fprintf(stderr, "%s: bad value in %s (expected a non-negative integer)\n", g_program, arg);
    std::exit(2);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  g_program = argv[0];
  std::uint64_t iterations = 20'000, seed = 1, max_len = 64 * 1024;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (Flag(arg, "--iterations", &iterations) || Flag(arg, "--seed", &seed) ||
        Flag(arg, "--max-len", &max_len)) {
      continue;
    }
    if (std::strcmp(arg, "--help") == 0) {
      std::printf("usage: %s [--iterations=N] [--seed=S] [--max-len=N] [FILE|DIR...]\n", argv[0]);
      return 0;
    }
    if (arg[0] == '-') {
      std::fprintf(stderr, "%s: unknown flag %s (try --help)\n", argv[0], arg);
      return 2;
    }
    const std::filesystem::path path(arg);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());  // a fixed order keeps runs reproducible
      if (files.empty()) {
        std::fprintf(stderr, "%s: corpus directory %s is empty\n", argv[0], arg);
        return 2;
      }
      for (const auto& f : files) ReadFile(f, corpus);
    } else if (!ReadFile(path, corpus)) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], arg);
      return 2;
    }
  }
  g_seed = seed;
  mandrill::fuzz::SetFailureHook(&SaveCurrentInput);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(&SaveCurrentInput);

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> pool = corpus;
  for (auto& s : mandrill::fuzz::TargetSeeds()) pool.push_back(std::move(s));
  for (const auto& input : pool) Run(input);
  const std::size_t replayed = pool.size();

  g_replaying = false;
  mandrill::fuzz::Mutator mutator(seed);
  for (g_iteration = 0; g_iteration < iterations; ++g_iteration) {
    // Mostly mutate a seed; sometimes keep mutating an earlier mutant (deeper chains).
    std::string input = mutator.Mutate(pool[mutator.Below(pool.size())], pool, max_len);
    Run(input);
    // Small mutants only, so the pool stays a few MiB however long the run.
    if (mutator.Below(8) == 0 && pool.size() < 4096 && input.size() <= 4096) {
      pool.push_back(std::move(input));
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  std::printf("%s: replayed %zu corpus inputs (%zu from files), ran %llu mutations, seed %llu, "
              "%lld ms: no violations\n",
              std::filesystem::path(argv[0]).filename().c_str(), replayed, corpus.size(),
              static_cast<unsigned long long>(iterations), static_cast<unsigned long long>(seed),
              static_cast<long long>(ms));
  return 0;
}
