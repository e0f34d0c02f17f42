#pragma once
// What the protocol fuzz targets check, shared by both targets, the standalone driver and the
// corpus generator. See tests/fuzz/protocol/README.md.
#include <string>
#include <string_view>
#include <vector>

#include "shared/protocol/limits.h"

namespace mandrill::fuzz {

// Small limits, so a fuzzer reaches every "too large" branch with short inputs.
protocol::Limits TightLimits();

// Calls protocol::Decode and checks its contract; on a violation prints what broke and the
// frames in hex, runs the failure hook and aborts (which libFuzzer records as a crash):
//  - an error has a code Decode may return (1xx) and a non-empty reason, and frame-level errors
//    (magic, version, command, body size) have exactly the code the rules in codec.h give;
//  - the decoder's heap use stays a small multiple of the input (sanitizer builds);
//  - a success names the command it was sent as, lies within `limits` field by field, encodes
//    and decodes back to itself, and decodes the same under wider limits.
void CheckDecode(std::string_view version, std::string_view command, std::string_view body,
                 const protocol::Limits& limits);

// Called before aborting on a violation (the standalone driver saves the input).
void SetFailureHook(void (*hook)());

// Input format of the frames target: one flags byte -- bits 0-2 version frame length (0-7),
// bits 3-4 command frame length (0-3), bit 7 use TightLimits() -- then the version bytes, the
// command bytes, and the body (the rest). Short inputs give short frames.
struct FramesInput {
  std::string_view version, command, body;
  bool tight = false;
};
FramesInput SplitFramesInput(std::string_view data);
std::string JoinFramesInput(std::string_view version, std::string_view command,
                            std::string_view body, bool tight);

// Seed inputs built from tests/unit/protocol/sample_messages.h: every command, valid.
std::vector<std::string> FramesSeeds();  // frames target format
std::vector<std::string> BodySeeds();    // msgpack bodies

// Each target defines this: its seeds, for the standalone driver.
std::vector<std::string> TargetSeeds();

}  // namespace mandrill::fuzz
