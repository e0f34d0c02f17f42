// Fuzz target: all three frames of a message. The input is split by SplitFramesInput (a flags
// byte giving the version and command frame lengths, then the frames, then the body), so
// wrong magic, wrong versions, wrong frame lengths and unknown commands are all reachable.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared/protocol/codec.h"
#include "tests/fuzz/protocol/fuzz_support.h"

namespace mandrill::fuzz {
std::vector<std::string> TargetSeeds() { return FramesSeeds(); }
}  // namespace mandrill::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mandrill;
  static const protocol::Limits kDefault;
  static const protocol::Limits kTight = fuzz::TightLimits();
  const auto in = fuzz::SplitFramesInput(
      std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::CheckDecode(in.version, in.command, in.body, in.tight ? kTight : kDefault);
  return 0;
}
