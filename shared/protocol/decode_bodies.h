#pragma once
// Internal to shared/protocol: turns a command's msgpack object tree into its Message.
#include <msgpack.hpp>

#include "shared/core/result.h"
#include "shared/protocol/command.h"
#include "shared/protocol/limits.h"
#include "shared/protocol/messages.h"

namespace mandrill::protocol::detail {

core::Result<Message> ParseBody(Command c, const msgpack::object& obj, const Limits& limits);

}  // namespace mandrill::protocol::detail
