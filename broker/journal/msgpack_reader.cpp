#include "broker/journal/msgpack_reader.h"

#include <limits>

namespace mandrill::broker::journal {

bool MsgpackReader::Take(std::size_t n, const char** out) {
  if (static_cast<std::size_t>(end_ - p_) < n) return false;
  *out = p_;
  p_ += n;
  return true;
}

bool MsgpackReader::ReadBe(int bytes, std::uint64_t* v) {
  const char* b;
  if (!Take(static_cast<std::size_t>(bytes), &b)) return false;
  std::uint64_t x = 0;
  for (int i = 0; i < bytes; ++i) x = (x << 8) | static_cast<unsigned char>(b[i]);
  *v = x;
  return true;
}

bool MsgpackReader::ReadLength(std::uint8_t tag, std::uint8_t fix_mask, std::uint8_t fix_base,
                               std::uint8_t tag8, std::uint8_t tag16, std::uint8_t tag32,
                               std::uint32_t* n) {
  std::uint64_t x;
  if (fix_mask != 0 && (tag & static_cast<std::uint8_t>(~fix_mask)) == fix_base) {
    *n = tag & fix_mask;
    return true;
  }
  if (tag8 != 0 && tag == tag8) {
    if (!ReadBe(1, &x)) return false;
  } else if (tag == tag16) {
    if (!ReadBe(2, &x)) return false;
  } else if (tag == tag32) {
    if (!ReadBe(4, &x)) return false;
  } else {
    return false;
  }
  *n = static_cast<std::uint32_t>(x);
  return true;
}

bool MsgpackReader::ReadArrayHeader(std::uint32_t* n) {
  if (p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_++);
  if (!ReadLength(tag, 0x0f, 0x90, 0, 0xdc, 0xdd, n)) return false;
  return *n <= remaining();  // every element takes at least one byte
}

bool MsgpackReader::ReadMapHeader(std::uint32_t* n) {
  if (p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_++);
  if (!ReadLength(tag, 0x0f, 0x80, 0, 0xde, 0xdf, n)) return false;
  return *n <= remaining() / 2;
}

bool MsgpackReader::ReadUint(std::uint64_t* v) {
  std::int64_t s;
  if (p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_);
  if (tag == 0xcf) {  // uint64 may exceed int64
    ++p_;
    return ReadBe(8, v);
  }
  if (!ReadInt(&s) || s < 0) return false;
  *v = static_cast<std::uint64_t>(s);
  return true;
}

bool MsgpackReader::ReadInt(std::int64_t* v) {
  if (p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_++);
  std::uint64_t x;
  if (tag <= 0x7f) {
    *v = tag;
    return true;
  }
  if (tag >= 0xe0) {
    *v = static_cast<std::int8_t>(tag);
    return true;
  }
  // 0xcc..0xcf: uint 8/16/32/64; 0xd0..0xd3: int 8/16/32/64.
  if (tag < 0xcc || tag > 0xd3) return false;
  const int width = 1 << ((tag - 0xcc) & 3);
  const bool is_signed = tag >= 0xd0;
  if (!ReadBe(width, &x)) return false;
  if (!is_signed) {
    if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    *v = static_cast<std::int64_t>(x);
    return true;
  }
  const int shift = 64 - 8 * width;  // sign-extend (C++20: arithmetic shift)
  *v = static_cast<std::int64_t>(x << shift) >> shift;
  return true;
}

bool MsgpackReader::ReadStr(std::string_view* v) {
  if (p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_++);
  std::uint32_t n;
  if (!ReadLength(tag, 0x1f, 0xa0, 0xd9, 0xda, 0xdb, &n)) return false;
  const char* b;
  if (!Take(n, &b)) return false;
  *v = std::string_view(b, n);
  return true;
}

bool MsgpackReader::ReadBin(std::string_view* v) {
  if (p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_);
  if (tag < 0xc4 || tag > 0xc6) return ReadStr(v);
  ++p_;
  std::uint32_t n;
  if (!ReadLength(tag, 0, 0xff, 0xc4, 0xc5, 0xc6, &n)) return false;
  const char* b;
  if (!Take(n, &b)) return false;
  *v = std::string_view(b, n);
  return true;
}

bool MsgpackReader::Skip(int depth) {
  if (depth > kMaxDepth || p_ == end_) return false;
  const auto tag = static_cast<std::uint8_t>(*p_);
  const char* b;
  std::uint64_t x;
  std::uint32_t n;
  std::string_view s;
  std::int64_t i;
  if (tag == 0xcf) {  // uint64: may exceed int64
    ++p_;
    return ReadBe(8, &x);
  }
  if (tag <= 0x7f || tag >= 0xe0 || (tag >= 0xcc && tag <= 0xd3)) return ReadInt(&i);
  if ((tag & 0xe0) == 0xa0 || (tag >= 0xd9 && tag <= 0xdb)) return ReadStr(&s);
  if (tag >= 0xc4 && tag <= 0xc6) return ReadBin(&s);
  if ((tag & 0xf0) == 0x90 || tag == 0xdc || tag == 0xdd) {
    if (!ReadArrayHeader(&n)) return false;
    for (std::uint32_t k = 0; k < n; ++k) {
      if (!Skip(depth + 1)) return false;
    }
    return true;
  }
  if ((tag & 0xf0) == 0x80 || tag == 0xde || tag == 0xdf) {
    if (!ReadMapHeader(&n)) return false;
    for (std::uint32_t k = 0; k < 2 * n; ++k) {
      if (!Skip(depth + 1)) return false;
    }
    return true;
  }
  ++p_;
  switch (tag) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return true;  // nil, false, true
    case 0xca:
      return Take(4, &b);  // float32
    case 0xcb:
      return Take(8, &b);  // float64
    case 0xd4:
      return Take(2, &b);  // fixext 1
    case 0xd5:
      return Take(3, &b);
    case 0xd6:
      return Take(5, &b);
    case 0xd7:
      return Take(9, &b);
    case 0xd8:
      return Take(17, &b);
    case 0xc7:
      return ReadBe(1, &x) && Take(x + 1, &b);  // ext 8/16/32: length, type, data
    case 0xc8:
      return ReadBe(2, &x) && Take(x + 1, &b);
    case 0xc9:
      return ReadBe(4, &x) && Take(x + 1, &b);
    default:
      return false;  // 0xc1: never used
  }
}

}  // namespace mandrill::broker::journal
