// Fuzz target: the msgpack body alone, decoded as every known command under the default and
// the tight limits, with a valid version frame. Where the frames target spends effort on the
// frames, this one spends it all on the body parser and the per-command field checks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/protocol/codec.h"
#include "tests/fuzz/protocol/fuzz_support.h"

namespace mandrill::fuzz {
std::vector<std::string> TargetSeeds() { return BodySeeds(); }
}  // namespace mandrill::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mandrill;
  static const protocol::Limits kDefault;
  static const protocol::Limits kTight = fuzz::TightLimits();
  static const std::vector<std::string> kCommands = [] {
    std::vector<std::string> v;
    for (int b = 0; b < 256; ++b) {
      if (protocol::IsKnownCommand(static_cast<std::uint8_t>(b))) v.emplace_back(1, static_cast<char>(b));
    }
    return v;
  }();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto& command : kCommands) {
    fuzz::CheckDecode(protocol::VersionFrame(), command, body, kDefault);
    fuzz::CheckDecode(protocol::VersionFrame(), command, body, kTight);
  }
  return 0;
}
