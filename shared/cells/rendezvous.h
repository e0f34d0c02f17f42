#pragma once
// Where a message goes among the cells: rendezvous (highest random weight) hashing of its id.
// Every cell gets a score from (cell name, id); the id's cells in order of falling score are
// its preference list: the first takes it, the next ones take it while an earlier one refuses
// or is down. A retry with the same id reaches the same cell (so deduplication holds), the
// cells share ids evenly, and adding a cell moves only the ids whose new first choice it is
// (about 1/(n+1) of them); removing one moves only its own.
//
// The score is part of the protocol between publishers: two publishers of different versions
// must rank alike, so it is a fixed function (FNV-1a over name, a 0 byte and id, then the
// SplitMix64 finalizer), never std::hash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mandrill::cells {

std::uint64_t RendezvousScore(std::string_view cell_name, std::string_view id);

// Indices into `cell_names`, highest score first (ties, which need a 64-bit collision, by
// name).
std::vector<std::size_t> RendezvousOrder(const std::vector<std::string>& cell_names,
                                         std::string_view id);

// The first choice alone: RendezvousOrder(...).front() without sorting. `cell_names` must not
// be empty.
std::size_t RendezvousFirst(const std::vector<std::string>& cell_names, std::string_view id);

}  // namespace mandrill::cells
