#include "worker/net/deliver_salvage.h"

#include <algorithm>
#include <exception>

#include <msgpack.hpp>

namespace mandrill::worker {

SalvagedDeliver SalvageDeliverLeases(std::string_view body) {
  SalvagedDeliver out;
  // Bounded by the body itself (an element takes at least a byte), not by the protocol limits the
  // strict decoder already applied: this pass exists for bodies past those.
  const std::size_t cap = std::max<std::size_t>(1, body.size());
  const msgpack::unpack_limit limits(cap, cap, cap, cap, 0, 8);
  msgpack::object_handle handle;
  try {
    std::size_t offset = 0;
    handle = msgpack::unpack(
        body.data(), body.size(), offset,
        [](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr, limits);
  } catch (const std::exception&) {
    return out;  // not msgpack at all: no lease to name (the caller logs and counts the frame)
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 1) return out;
  const msgpack::object& items = root.via.array.ptr[0];
  if (items.type != msgpack::type::ARRAY) return out;
  out.items = items.via.array.size;
  for (std::uint32_t i = 0; i < items.via.array.size; ++i) {
    const msgpack::object& item = items.via.array.ptr[i];
    if (item.type != msgpack::type::ARRAY || item.via.array.size < 1) continue;
    const msgpack::object& lease = item.via.array.ptr[0];
    if (lease.type == msgpack::type::POSITIVE_INTEGER && lease.via.u64 != 0) {
      out.leases.push_back(lease.via.u64);
    }
  }
  return out;
}

}  // namespace mandrill::worker
