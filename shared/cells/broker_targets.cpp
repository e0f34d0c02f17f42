#include "shared/cells/broker_targets.h"

#include <filesystem>

#include "shared/cells/cell_map.h"

namespace mandrill::cells {
namespace {

core::Error TargetError(std::string what) {
  return core::Error{core::Errc::kInvalidArgument, std::move(what)};
}

std::string RelativeTo(const std::string& map_path, const std::string& file) {
  const std::filesystem::path p(file);
  if (p.is_absolute()) return file;
  return (std::filesystem::path(map_path).parent_path() / p).string();
}

core::Result<BrokerTargets> FromCellMap(const std::string& cells_file,
                                        const std::string& key_file) {
  auto map = ReadCellMap(cells_file);
  if (!map.ok()) return TargetError("--cells: " + map.error().message);
  BrokerTargets t;
  t.from_cell_map = true;
  t.source = cells_file;
  if (map->secured() && key_file.empty()) {
    return TargetError("--cells " + cells_file +
                       " names the cells' public keys (CURVE): give this client's --key too");
  }
  if (!map->secured() && !key_file.empty()) {
    return TargetError("--key was given but --cells " + cells_file +
                       " names no public key files: CURVE needs each cell's key in the map");
  }
  if (!key_file.empty()) {
    auto own = security::ReadSecretKey(key_file);
    if (!own.ok()) return TargetError("--key: " + own.error().message);
    t.own_key = *own;
  }
  for (const auto& cell : map->cells) {
    BrokerTarget b{cell.name, cell.endpoint, {}};
    if (!cell.public_key_file.empty()) {
      const auto path = RelativeTo(cells_file, cell.public_key_file);
      auto key = security::ReadPublicKey(path);
      if (!key.ok()) return TargetError("--cells: cell " + cell.name + ": " + key.error().message);
      if (*key == t.own_key->secret_z85) {
        return TargetError("--cells: cell " + cell.name + "'s key file " + path +
                           " holds this client's secret key: give the broker's .pub file");
      }
      b.public_z85 = *key;
    }
    t.brokers.push_back(std::move(b));
  }
  return t;
}

}  // namespace

std::string BrokerTargets::describe() const {
  if (!from_cell_map) return brokers.front().endpoint;
  return std::to_string(brokers.size()) + (brokers.size() == 1 ? " cell" : " cells") + " from " +
         source;
}

core::Result<BrokerTargets> ResolveBrokerTargets(const std::string& broker,
                                                 const std::string& cells_file,
                                                 const std::string& key_file,
                                                 const std::string& broker_key_file) {
  if (!cells_file.empty()) {
    if (!broker.empty()) {
      return TargetError(
          "--broker and --cells both given: use --broker for one broker or --cells "
          "for a cell map, not both");
    }
    if (!broker_key_file.empty()) {
      return TargetError(
          "--broker-key is for --broker: with --cells, each cell's public key file is "
          "named in the map");
    }
    return FromCellMap(cells_file, key_file);
  }
  if (broker.empty()) {
    return TargetError(
        "--broker: give the broker's endpoint, e.g. tcp://127.0.0.1:5555 (or --cells "
        "FILE for a fleet of cells)");
  }
  auto keys = security::LoadClientKeys(key_file, broker_key_file);
  if (!keys.ok()) return keys.error();
  BrokerTargets t;
  BrokerTarget b{"broker", broker, {}};
  if (*keys) {
    t.own_key = (*keys)->own;
    b.public_z85 = (*keys)->broker_public_z85;
  }
  t.brokers.push_back(std::move(b));
  return t;
}

std::vector<std::string> TargetNames(const BrokerTargets& targets) {
  std::vector<std::string> names;
  names.reserve(targets.brokers.size());
  for (const auto& b : targets.brokers) names.push_back(b.name);
  return names;
}

}  // namespace mandrill::cells
