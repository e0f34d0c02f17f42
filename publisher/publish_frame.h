#pragma once
// Builds PUBLISH bodies for one queue straight from the tracker's strings, without first
// copying every message into a protocol::Publish. The bytes are exactly those
// protocol::EncodeBody(Publish{...}) writes (a unit test holds the two together), so a change
// to the PUBLISH layout in shared/protocol/encode.cpp must be mirrored here.
// The queue name and the headers are the same for every item of a run and are encoded once.
#include <cstddef>
#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "shared/protocol/messages.h"

namespace mandrill::publisher {

class PublishFrameBuilder {
 public:
  PublishFrameBuilder(std::string_view queue, const protocol::Headers& headers);

  // Starts a new body that will hold exactly `items` items (Add() that many times).
  void Begin(std::size_t items);
  void Add(std::string_view id, std::string_view payload);
  // The encoded body; valid until the next Begin().
  std::string_view body() const { return {buffer_.data(), buffer_.size()}; }

 private:
  msgpack::sbuffer buffer_;
  std::string item_head_;  // array(4) + queue string
  std::string headers_;    // the headers map
};

}  // namespace mandrill::publisher
