#include "shared/cells/cell_map.h"

#include <set>
#include <sstream>

#include "shared/core/text_file.h"
#include "shared/protocol/codec.h"

namespace mandrill::cells {
namespace {

constexpr std::size_t kMaxNameBytes = 64;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

core::Result<CellMap> ParseCellMap(std::string_view text, std::string_view source) {
  CellMap map;
  std::set<std::string> names, endpoints;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  const auto fail = [&](const std::string& why) {
    return core::Error{core::Errc::kInvalidArgument,
                       std::string(source) + " line " + std::to_string(number) + ": " + why};
  };
  while (std::getline(in, line)) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty()) continue;
    if (w.size() < 2 || w.size() > 3) {
      return fail("expected NAME ENDPOINT [PUBLIC_KEY_FILE], got " + std::to_string(w.size()) +
                  " fields");
    }
    Cell cell{w[0], w[1], w.size() == 3 ? w[2] : std::string()};
    if (!ValidName(cell.name)) {
      return fail("cell name '" + cell.name + "' must be 1-64 bytes of [A-Za-z0-9._-]");
    }
    if (const std::string why = protocol::CheckEndpoint(cell.endpoint); !why.empty()) {
      return fail("cell " + cell.name + ": " + why);
    }
    if (cell.endpoint.find('*') != std::string::npos) {
      return fail("cell " + cell.name + ": '" + cell.endpoint + "' is a bind address, not one to "
                  "connect to");
    }
    if (!names.insert(cell.name).second) return fail("cell " + cell.name + " is listed twice");
    if (!endpoints.insert(cell.endpoint).second) {
      return fail("endpoint " + cell.endpoint + " is listed for two cells");
    }
    if (!map.cells.empty() && map.secured() != !cell.public_key_file.empty()) {
      return fail("cell " + cell.name + (cell.public_key_file.empty() ? " names no" : " names a") +
                  " public key file and cell " + map.cells.front().name +
                  (map.secured() ? " does" : " does not") +
                  ": with CURVE on every cell needs one, without it none");
    }
    map.cells.push_back(std::move(cell));
  }
  if (map.cells.empty()) {
    return core::Error{core::Errc::kInvalidArgument, std::string(source) + " lists no cells"};
  }
  return map;
}

core::Result<CellMap> ReadCellMap(const std::string& path) {
  auto text = core::ReadTextFile(path, "the cell map");
  if (!text.ok()) return text.error();
  return ParseCellMap(*text, path);
}

}  // namespace mandrill::cells
