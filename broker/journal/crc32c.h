#pragma once
// CRC32C (Castagnoli, the polynomial of iSCSI, ext4 and LevelDB) over byte strings.
//
// Extend() picks its implementation once, at first use: the SSE4.2 crc32 instruction when the
// CPU has it (detected at run time, so one binary runs everywhere), else a table-driven
// slicing-by-8 loop. Both give identical results; the tests compare them on random data.
// Thread-safe: pure functions over immutable tables.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mandrill::broker::journal::crc32c {

// Returns the CRC32C of concat(A, data[0, n)) where init_crc is the CRC32C of A.
std::uint32_t Extend(std::uint32_t init_crc, const char* data, std::size_t n);

inline std::uint32_t Value(const char* data, std::size_t n) { return Extend(0, data, n); }
inline std::uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// The portable and the hardware implementation, exposed for tests and benchmarks.
std::uint32_t ExtendPortable(std::uint32_t init_crc, const char* data, std::size_t n);
// Only valid when HardwareAvailable(); otherwise it returns ExtendPortable's result.
std::uint32_t ExtendHardware(std::uint32_t init_crc, const char* data, std::size_t n);
bool HardwareAvailable();

// Stored CRCs are masked, as LevelDB does: computing the CRC of a string that itself contains
// embedded CRCs is error-prone (a CRC of data ending in its own CRC is a constant), so what is
// written to disk is a rotation of the CRC plus a constant.
inline constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
inline std::uint32_t Mask(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline std::uint32_t Unmask(std::uint32_t masked) {
  const std::uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace mandrill::broker::journal::crc32c
