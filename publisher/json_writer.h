#pragma once
// A small streaming JSON emitter for mandrill-ctl --json and the publish summary: one compact
// object on one line. Strings are escaped per RFC 8259 (quote, backslash, control characters
// as \n \t ... or \u00XX); bytes that are not valid UTF-8 (payload previews are arbitrary
// bytes) become U+FFFD, so the output is always valid JSON. Non-finite doubles are written as
// null. Misuse (a value where a key is due, unbalanced End*) is a broken invariant (assert).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mandrill::publisher {

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view s);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(std::int64_t value);
  JsonWriter& Uint(std::uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // The document so far (complete once every Begin has its End).
  const std::string& str() const { return out_; }

 private:
  void BeforeValue();

  std::string out_;
  struct Level {
    bool object;
    bool first = true;
  };
  std::vector<Level> stack_;
  bool key_pending_ = false;
};

}  // namespace mandrill::publisher
