#include "publisher/publish_frame.h"

#include <gtest/gtest.h>

#include "shared/protocol/codec.h"

namespace mandrill::publisher {
namespace {

protocol::Publish Expected(const protocol::Headers& headers,
                           const std::vector<std::pair<std::string, std::string>>& items) {
  protocol::Publish p;
  for (const auto& [id, payload] : items) {
    p.items.push_back(protocol::PublishItem{"restarts", id, payload, headers});
  }
  return p;
}

void ExpectSameAsEncoder(const protocol::Headers& headers,
                         const std::vector<std::pair<std::string, std::string>>& items) {
  PublishFrameBuilder builder("restarts", headers);
  builder.Begin(items.size());
  for (const auto& [id, payload] : items) builder.Add(id, payload);
  const auto expected = Expected(headers, items);
  msgpack::sbuffer reference;
  protocol::EncodeBody(expected, reference);
  EXPECT_EQ(builder.body(), std::string_view(reference.data(), reference.size()));
  auto decoded = protocol::Decode(protocol::VersionFrame(),
                                  std::string(1, static_cast<char>(protocol::Command::kPublish)),
                                  builder.body(), protocol::Limits{});
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(std::get<protocol::Publish>(*decoded), expected);
}

TEST(PublishFrameBuilderTest, BytesMatchTheSharedEncoder) {
  ExpectSameAsEncoder({}, {{"p-1", "restart cattle-x7q2"}});
  ExpectSameAsEncoder({{"origin", "drill"}, {"k", ""}},
                      {{"p-1", "a"}, {"p-2", std::string(100, 'x')}, {"p-3", ""}});
  ExpectSameAsEncoder({}, {{"p-1", std::string("\0\xff binary", 9)}});
}

TEST(PublishFrameBuilderTest, LargeBatchesAndPayloadsUseWideHeaders) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 70'000; i += 1000) {
    items.emplace_back("id-" + std::to_string(i), std::string(static_cast<std::size_t>(i), 'p'));
  }
  ExpectSameAsEncoder({}, items);
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 5000; ++i) many.emplace_back("m-" + std::to_string(i), "x");
  ExpectSameAsEncoder({}, many);
}

TEST(PublishFrameBuilderTest, BeginStartsAFreshBody) {
  PublishFrameBuilder builder("restarts", {});
  builder.Begin(1);
  builder.Add("p-1", "first");
  builder.Begin(1);
  builder.Add("p-2", "second");
  msgpack::sbuffer reference;
  protocol::EncodeBody(Expected({}, {{"p-2", "second"}}), reference);
  EXPECT_EQ(builder.body(), std::string_view(reference.data(), reference.size()));
}

}  // namespace
}  // namespace mandrill::publisher
