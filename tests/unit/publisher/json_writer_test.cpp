#include "publisher/json_writer.h"

#include <gtest/gtest.h>

namespace mandrill::publisher {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(Json("C:\\dir"), "\"C:\\\\dir\"");
  EXPECT_EQ(Json("a\nb\tc\rd\be\ff"), "\"a\\nb\\tc\\rd\\be\\ff\"");
  EXPECT_EQ(Json(std::string_view("\x01\x1f\0", 3)), "\"\\u0001\\u001f\\u0000\"");
  EXPECT_EQ(Json("/"), "\"/\"");
  EXPECT_EQ(Json("\x7f"), "\"\x7f\"");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Json("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\x92"),
            "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\x92\"");
  EXPECT_EQ(Json("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(Json("\xc3"), "\"\\ufffd\"");                                   // truncated sequence
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                        // overlong '/'
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // UTF-16 surrogate
  EXPECT_EQ(Json("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
  EXPECT_EQ(Json("a\x80z"), "\"a\\ufffdz\"");
}

TEST(JsonWriterTest, NestedObjectsAndArraysHaveCommasInTheRightPlaces) {
  JsonWriter j;
  j.BeginObject();
  j.Key("a").Int(-1);
  j.Key("b")
      .BeginArray()
      .Uint(1)
      .String("x")
      .Bool(true)
      .Null()
      .BeginObject()
      .EndObject()
      .EndArray();
  j.Key("c").BeginObject().Key("d").Bool(false).EndObject();
  j.Key("e").BeginArray().EndArray();
  j.EndObject();
  EXPECT_EQ(j.str(), R"({"a":-1,"b":[1,"x",true,null,{}],"c":{"d":false},"e":[]})");
}

TEST(JsonWriterTest, KeysAreEscapedToo) {
  JsonWriter j;
  j.BeginObject().Key("we\"ird\n").Int(1).EndObject();
  EXPECT_EQ(j.str(), "{\"we\\\"ird\\n\":1}");
}

TEST(JsonWriterTest, DoublesAreShortAndNonFiniteIsNull) {
  JsonWriter j;
  j.BeginArray().Double(0.1).Double(250000).Double(1.0 / 0.0).Double(0.0 / 0.0).Double(-2.5);
  j.EndArray();
  EXPECT_EQ(j.str(), "[0.1,250000,null,null,-2.5]");
}

}  // namespace
}  // namespace mandrill::publisher
