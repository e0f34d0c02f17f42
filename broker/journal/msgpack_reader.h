#pragma once
// A bounds-checked msgpack cursor for decoding record bodies during recovery and compaction.
// Hand-written rather than msgpack::unpack because it allocates nothing (recovery decodes
// millions of records) and cannot be driven into large allocations by garbage: every length is
// checked against the bytes that remain before it is used. Returned string_views point into the
// input, which must outlive them. Any malformed input makes the call return false; the cursor
// is then in an unspecified position and should be discarded.
#include <cstdint>
#include <string_view>

namespace mandrill::broker::journal {

class MsgpackReader {
 public:
  explicit MsgpackReader(std::string_view data)
      : p_(data.data()), end_(data.data() + data.size()) {}

  bool ReadArrayHeader(std::uint32_t* n);
  bool ReadMapHeader(std::uint32_t* n);
  // Non-negative integers of any width that fit in 64 bits.
  bool ReadUint(std::uint64_t* v);
  // Any integer that fits in int64 (negative or positive encodings).
  bool ReadInt(std::int64_t* v);
  bool ReadStr(std::string_view* v);
  // Binary; a str is accepted too (both carry bytes).
  bool ReadBin(std::string_view* v);
  // A field appended to a body after older brokers wrote it: read as ReadInt when the array
  // (of `n` elements) reaches `position` (1-based), else *v is left as it is.
  bool ReadIntIfPresent(std::uint32_t n, std::uint32_t position, std::int64_t* v) {
    return n < position || ReadInt(v);
  }
  // Skips one object of any type, nested at most kMaxDepth deep.
  bool Skip() { return Skip(0); }

  // A record body's array: its header, requiring at least `min` elements.
  bool OpenArray(std::uint32_t min, std::uint32_t* n) { return ReadArrayHeader(n) && *n >= min; }
  // Skips the elements past the `known` ones of an `n`-element array (fields of a newer
  // version).
  bool SkipUnknown(std::uint32_t n, std::uint32_t known) {
    for (std::uint32_t i = known; i < n; ++i) {
      if (!Skip()) return false;
    }
    return true;
  }
  bool ReadU32(std::uint32_t* v) {
    std::uint64_t x;
    if (!ReadUint(&x) || x > 0xffffffffu) return false;
    *v = static_cast<std::uint32_t>(x);
    return true;
  }

  bool AtEnd() const { return p_ == end_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

  static constexpr int kMaxDepth = 32;

 private:
  bool Skip(int depth);
  bool Take(std::size_t n, const char** out);
  bool ReadBe(int bytes, std::uint64_t* v);
  bool ReadLength(std::uint8_t tag, std::uint8_t fix_mask, std::uint8_t fix_base, std::uint8_t tag8,
                  std::uint8_t tag16, std::uint8_t tag32, std::uint32_t* n);

  const char* p_;
  const char* end_;
};

}  // namespace mandrill::broker::journal
