#include "broker/journal/epoch_file.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string_view>

#include "broker/journal/crc32c.h"

namespace mandrill::broker::journal {

namespace {

constexpr std::string_view kEpochTag = "epoch-v1";
// Far longer than any valid line ("epoch-v1 " + 20 digits + " " + 8 hex + "\n" = 39 bytes):
// a bigger file is not ours, and is not read whole.
constexpr std::uint64_t kMaxEpochFileBytes = 64;

std::string EpochLine(std::uint64_t epoch) {
  const std::string head = std::string(kEpochTag) + " " + std::to_string(epoch);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", crc32c::Value(head));
  return head + " " + crc + "\n";
}

core::Error CorruptEpochFile(const std::string& path, const std::string& why) {
  return core::Error{kCorrupt, "the epoch file " + path + " is corrupt (" + why +
                                   "): refusing to start rather than reuse an epoch; restore it "
                                   "or write a higher epoch by hand (docs/broker.md, Fencing)"};
}

// Parses "epoch-v1 N CRC\n" exactly.
core::Result<std::uint64_t> ParseEpochLine(const std::string& path, std::string_view text) {
  if (text.empty()) return CorruptEpochFile(path, "it is empty");
  if (text.back() != '\n') return CorruptEpochFile(path, "no line end");
  text.remove_suffix(1);
  const std::size_t first = text.find(' ');
  const std::size_t last = text.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    return CorruptEpochFile(path, "expected 'epoch-v1 EPOCH CRC'");
  }
  const std::string_view tag = text.substr(0, first);
  if (tag != kEpochTag) {
    return CorruptEpochFile(path, "unknown format '" + std::string(tag.substr(0, 16)) + "'");
  }
  const std::string_view digits = text.substr(first + 1, last - first - 1);
  const std::string_view crc_hex = text.substr(last + 1);
  std::uint64_t epoch = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), epoch);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return CorruptEpochFile(path, "the epoch is not a number");
  }
  std::uint32_t crc = 0;
  auto [crc_end, crc_ec] =
      std::from_chars(crc_hex.data(), crc_hex.data() + crc_hex.size(), crc, 16);
  if (crc_ec != std::errc() || crc_end != crc_hex.data() + crc_hex.size() || crc_hex.size() != 8) {
    return CorruptEpochFile(path, "the checksum is not 8 hex digits");
  }
  if (crc != crc32c::Value(text.substr(0, last))) return CorruptEpochFile(path, "checksum mismatch");
  return epoch;
}

}  // namespace

core::Result<std::uint64_t> ReadEpoch(Fs* fs, const std::string& dir) {
  auto names = fs->ListDir(dir);
  if (!names.ok()) return names.error();
  if (std::find(names->begin(), names->end(), kEpochFileName) == names->end()) {
    return std::uint64_t{0};
  }
  const std::string path = dir + "/" + kEpochFileName;
  auto file = fs->OpenReadable(path);
  if (!file.ok()) return file.error();
  const std::uint64_t size = (*file)->Size();
  if (size > kMaxEpochFileBytes) {
    return CorruptEpochFile(path, std::to_string(size) + " bytes, not one line");
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  auto n = (*file)->ReadAt(0, text.size(), text.data());
  if (!n.ok()) return n.error();
  text.resize(*n);
  return ParseEpochLine(path, text);
}

core::Status WriteEpoch(Fs* fs, const std::string& dir, std::uint64_t epoch) {
  const std::string temp = dir + "/" + kEpochTempFileName;
  const std::string path = dir + "/" + kEpochFileName;
  // Debris of a start that died between creating the temp file and renaming it.
  auto names = fs->ListDir(dir);
  if (!names.ok()) return names.error();
  if (std::find(names->begin(), names->end(), kEpochTempFileName) != names->end()) {
    if (auto s = fs->Remove(temp); !s.ok()) return s;
  }
  {
    auto file = fs->OpenWritable(temp, /*create_new=*/true);
    if (!file.ok()) return file.error();
    if (auto s = (*file)->Append(EpochLine(epoch)); !s.ok()) return s;
    if (auto s = (*file)->Sync(); !s.ok()) return s;
  }
  if (auto s = fs->Rename(temp, path); !s.ok()) return s;
  return fs->SyncDir(dir);
}

core::Result<std::uint64_t> AdvanceEpoch(Fs* fs, const std::string& dir) {
  auto current = ReadEpoch(fs, dir);
  if (!current.ok()) return current.error();
  if (*current == UINT64_MAX) {
    return core::Error{kCorrupt, "the epoch file " + dir + "/" + kEpochFileName +
                                     " holds the largest epoch there is: cannot advance it"};
  }
  const std::uint64_t next = *current + 1;
  if (auto s = WriteEpoch(fs, dir, next); !s.ok()) {
    return core::Error{s.error().code, "cannot make epoch " + std::to_string(next) +
                                           " durable in " + dir + ": " + s.message()};
  }
  return next;
}

}  // namespace mandrill::broker::journal
