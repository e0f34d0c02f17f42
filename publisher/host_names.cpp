#include "publisher/host_names.h"

namespace mandrill::publisher {
namespace {
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

// One character per byte of a 64-bit draw; bytes >= 36 * 7 = 252 are skipped so every
// character is equally likely. Deterministic for a given engine state.
char NextChar(std::mt19937_64& rng, std::uint64_t& bits, int& left) {
  while (true) {
    if (left == 0) {
      bits = rng();
      left = 8;
    }
    const auto byte = static_cast<unsigned>(bits & 0xff);
    bits >>= 8;
    --left;
    if (byte < 252) return kAlphabet[byte % kAlphabet.size()];
  }
}
}  // namespace

void HostNameGenerator::AppendNext(std::string& out) {
  out.append(kHostPrefix);
  std::uint64_t bits = 0;
  int left = 0;
  for (std::size_t i = 0; i < kHostSuffixLength; ++i) out.push_back(NextChar(rng_, bits, left));
}

std::string HostNameGenerator::Next() {
  std::string s;
  AppendNext(s);
  return s;
}

bool IsHostName(std::string_view name) {
  if (name.size() != kHostPrefix.size() + kHostSuffixLength) return false;
  if (name.substr(0, kHostPrefix.size()) != kHostPrefix) return false;
  for (const char c : name.substr(kHostPrefix.size())) {
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::string RandomToken(std::mt19937_64& rng, std::size_t length) {
  std::string s;
  std::uint64_t bits = 0;
  int left = 0;
  for (std::size_t i = 0; i < length; ++i) s.push_back(NextChar(rng, bits, left));
  return s;
}

std::uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace mandrill::publisher
