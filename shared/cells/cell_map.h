#pragma once
// The cell map (`--cells FILE`): the brokers of a fleet grown past one machine, one cell per
// line as `NAME ENDPOINT [PUBLIC_KEY_FILE]`. The key file is the cell's CURVE public key (as
// `--broker-key` takes it); either every cell names one (security on) or none does. Blank lines
// and `#` comments are ignored. Names ([A-Za-z0-9._-], up to 64 bytes) and endpoints are
// unique. Order does not matter to placement (rendezvous.h ranks by name), only to display.
#include <string>
#include <string_view>
#include <vector>

#include "shared/core/result.h"

namespace mandrill::cells {

struct Cell {
  std::string name;
  std::string endpoint;
  std::string public_key_file;  // empty when the map names no keys
  bool operator==(const Cell&) const = default;
};

struct CellMap {
  std::vector<Cell> cells;
  bool secured() const { return !cells.empty() && !cells.front().public_key_file.empty(); }
};

// `source` names the text in errors ("cells.txt line 3: ...").
core::Result<CellMap> ParseCellMap(std::string_view text, std::string_view source);
core::Result<CellMap> ReadCellMap(const std::string& path);

}  // namespace mandrill::cells
