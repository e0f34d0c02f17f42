#include "tests/fuzz/protocol/mutator.h"

#include <algorithm>
#include <string_view>

namespace mandrill::fuzz {
namespace {

// Length prefixes that declare far more than any input holds.
const std::string_view kHugePrefixes[] = {
    std::string_view("\xdd\xff\xff\xff\xff", 5),      // array32 4Gi
    std::string_view("\xdf\xff\xff\xff\xff", 5),      // map32 4Gi
    std::string_view("\xdb\xff\xff\xff\xff", 5),      // str32 4Gi
    std::string_view("\xc6\xff\xff\xff\xff", 5),      // bin32 4Gi
    std::string_view("\xc9\xff\xff\xff\xff\x01", 6),  // ext32 4Gi
    std::string_view("\xdc\xff\xff", 3),              // array16 64Ki
    std::string_view("\xde\xff\xff", 3),              // map16 64Ki
    std::string_view("\xda\xff\xff", 3),              // str16 64Ki
    std::string_view("\xc5\xff\xff", 3),              // bin16 64Ki
    std::string_view("\xdd\x7f\xff\xff\xff", 5),      // array32 2Gi
    std::string_view("\xdd\x00\x00\x27\x11", 5),      // array32 10001 (max_batch + 1)
    std::string_view("\xdd\x00\x00\x27\x10", 5),      // array32 10000 (max_batch)
    std::string_view("\xdf\x00\x00\x00\x41", 5),      // map32 65 (max_headers + 1)
    std::string_view("\xda\x10\x01", 3),              // str16 4097 (max_string + 1)
    std::string_view("\xc6\x00\x10\x00\x01", 5),      // bin32 1Mi + 1 (max_payload + 1)
};

// Integers at the edges of the field types.
const std::string_view kBoundaryInts[] = {
    std::string_view("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9),  // uint64 max
    std::string_view("\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9),  // 2^63
    std::string_view("\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9),  // 2^32
    std::string_view("\xce\xff\xff\xff\xff", 5),                  // uint32 max
    std::string_view("\xcd\xff\xff", 3),                          // uint16 max
    std::string_view("\xcd\x01\x00", 3),                          // 256
    std::string_view("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9),  // int64 min
    std::string_view("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", 9),  // int64 max as int64
    std::string_view("\xd0\x80", 2),                              // int8 -128
    std::string_view("\xd0\x05", 2),                              // int8 5 (positive!)
    std::string_view("\xff", 1),                                  // -1
    std::string_view("\x00", 1),
    std::string_view("\x7f", 1),
    std::string_view("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9),  // NaN
    std::string_view("\xca\x3f\x80\x00\x00", 5),                  // 1.0f
};

// Bytes that change an element's type or shape.
const unsigned char kTypeBytes[] = {0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xbf,
                                    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9,
                                    0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd8,
                                    0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

// Units repeated to make nesting bombs: [[[..., {nil: {nil: ...}}, array16/32 of 1, [x, [x, ...
const std::string_view kNestUnits[] = {
    std::string_view("\x91", 1), std::string_view("\x81\xc0", 2),
    std::string_view("\xdc\x00\x01", 3), std::string_view("\xdd\x00\x00\x00\x01", 5),
    std::string_view("\x92\xc0", 2), std::string_view("\x81\xa1k", 3),
};
const std::size_t kNestDepths[] = {7, 8, 9, 10, 16, 64, 1000, 20'000};

}  // namespace

std::string Mutator::Mutate(std::string input, const std::vector<std::string>& pool,
                            std::size_t max_len) {
  const std::size_t edits = 1 + Below(4);
  for (std::size_t i = 0; i < edits; ++i) MutateOnce(input, pool);
  if (input.size() > max_len) input.resize(max_len);
  return input;
}

void Mutator::MutateOnce(std::string& s, const std::vector<std::string>& pool) {
  switch (Below(12)) {
    case 0:  // flip one bit
      if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1u << Below(8));
      break;
    case 1:  // set a byte to a random value
      if (!s.empty()) s[Below(s.size())] = static_cast<char>(Next());
      break;
    case 2:  // set a byte to a type byte
      if (!s.empty()) s[Below(s.size())] = static_cast<char>(kTypeBytes[Below(std::size(kTypeBytes))]);
      break;
    case 3:  // truncate
      if (!s.empty()) s.resize(Below(s.size()));
      break;
    case 4: {  // erase a range
      if (s.empty()) break;
      const std::size_t at = Below(s.size());
      s.erase(at, 1 + Below(std::min<std::size_t>(16, s.size() - at)));
      break;
    }
    case 5: {  // insert random bytes
      std::string bytes(1 + Below(8), '\0');
      for (auto& c : bytes) c = static_cast<char>(Next());
      s.insert(Position(s), bytes);
      break;
    }
    case 6: {  // insert or overwrite with a huge length prefix
      const auto prefix = kHugePrefixes[Below(std::size(kHugePrefixes))];
      const std::size_t at = Position(s);
      if (Below(2) == 0 || at + prefix.size() > s.size()) {
        s.insert(at, prefix);
      } else {
        s.replace(at, prefix.size(), prefix);
      }
      break;
    }
    case 7: {  // nesting bomb
      const auto unit = kNestUnits[Below(std::size(kNestUnits))];
      const std::size_t depth = kNestDepths[Below(std::size(kNestDepths))];
      std::string bomb;
      bomb.reserve(unit.size() * depth + 1);
      for (std::size_t i = 0; i < depth; ++i) bomb += unit;
      bomb += '\xc0';
      s.insert(Position(s), bomb);
      break;
    }
    case 8: {  // insert or overwrite with a boundary integer
      const auto v = kBoundaryInts[Below(std::size(kBoundaryInts))];
      const std::size_t at = Position(s);
      if (Below(2) == 0 || at + v.size() > s.size()) {
        s.insert(at, v);
      } else {
        s.replace(at, v.size(), v);
      }
      break;
    }
    case 9: {  // splice in a chunk of another input
      if (pool.empty()) break;
      const auto& other = pool[Below(pool.size())];
      if (other.empty()) break;
      const std::size_t from = Below(other.size());
      const std::size_t len = 1 + Below(std::min<std::size_t>(64, other.size() - from));
      s.insert(Position(s), other.substr(from, len));
      break;
    }
    case 10: {  // duplicate a chunk in place
      if (s.empty()) break;
      const std::size_t from = Below(s.size());
      const std::size_t len = 1 + Below(std::min<std::size_t>(32, s.size() - from));
      s.insert(from, s.substr(from, len));
      break;
    }
    case 11:  // small arithmetic on a byte (array/str lengths off by one)
      if (!s.empty()) {
        auto& c = s[Below(s.size())];
        c = static_cast<char>(static_cast<unsigned char>(c) + (Below(2) == 0 ? 1 : 255));
      }
      break;
  }
}

}  // namespace mandrill::fuzz
