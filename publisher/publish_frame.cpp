#include "publisher/publish_frame.h"

#include <cassert>

namespace mandrill::publisher {
namespace {
using Packer = msgpack::packer<msgpack::sbuffer>;

void Str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
}  // namespace

PublishFrameBuilder::PublishFrameBuilder(std::string_view queue, const protocol::Headers& headers)
    : buffer_(64 * 1024) {
  msgpack::sbuffer scratch;
  Packer p(scratch);
  p.pack_array(4);
  Str(p, queue);
  item_head_.assign(scratch.data(), scratch.size());
  scratch.clear();
  p.pack_map(static_cast<std::uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    Str(p, k);
    Str(p, v);
  }
  headers_.assign(scratch.data(), scratch.size());
}

void PublishFrameBuilder::Begin(std::size_t items) {
  assert(items > 0);
  buffer_.clear();
  Packer p(buffer_);
  p.pack_array(1);
  p.pack_array(static_cast<std::uint32_t>(items));
}

void PublishFrameBuilder::Add(std::string_view id, std::string_view payload) {
  Packer p(buffer_);
  buffer_.write(item_head_.data(), item_head_.size());
  Str(p, id);
  p.pack_bin(static_cast<std::uint32_t>(payload.size()));
  p.pack_bin_body(payload.data(), static_cast<std::uint32_t>(payload.size()));
  buffer_.write(headers_.data(), headers_.size());
}

}  // namespace mandrill::publisher
