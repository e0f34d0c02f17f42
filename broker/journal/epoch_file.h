#pragma once
// DIR/EPOCH: the data dir's fencing epoch (docs/broker.md "Fencing"). Every broker start on the
// dir takes the next epoch and makes it durable before the broker binds its socket, so the
// epochs a data dir's brokers announce (in WELCOME and in every lease id) only ever grow, across
// crashes, power cuts and a volume that moves to another host.
//
// On disk, one line of text that an operator can read with cat:
//   "epoch-v1 17 1a2b3c4d\n"      version tag, the epoch in decimal, crc32c of "epoch-v1 17" in hex
// To change the format, write a new tag ("epoch-v2 ...") and keep reading v1; a file with a tag
// this code does not know is refused (never reset: that could hand out an epoch again).
//
// The caller holds the data dir's lock (Journal::Open), so nothing else writes the file
// meanwhile. Every file operation goes through `fs`, so a FaultInjectingFs can fail or "crash"
// any step and drop what was not synced.
#include <cstdint>
#include <string>

#include "broker/journal/io.h"
#include "shared/core/result.h"

namespace mandrill::broker::journal {

inline constexpr const char* kEpochFileName = "EPOCH";
inline constexpr const char* kEpochTempFileName = "EPOCH.tmp";

// The epoch stored in `dir` (0 when there is no EPOCH file: a data dir from before epochs, or a
// new one). A file that is not exactly one valid line is kCorrupt, with the path and what is
// wrong in the message.
core::Result<std::uint64_t> ReadEpoch(Fs* fs, const std::string& dir);

// Replaces DIR/EPOCH with `epoch`, durably: writes DIR/EPOCH.tmp, fdatasyncs it, renames it over
// EPOCH and fsyncs the dir. A crash at any step leaves either the old file or the new one (and
// perhaps a temp file, which the next write replaces).
core::Status WriteEpoch(Fs* fs, const std::string& dir, std::uint64_t epoch);

// ReadEpoch + 1, written with WriteEpoch: the epoch of a broker starting now. Returns it only
// once it is durable.
core::Result<std::uint64_t> AdvanceEpoch(Fs* fs, const std::string& dir);

}  // namespace mandrill::broker::journal
