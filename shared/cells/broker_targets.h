#pragma once
// The brokers a client talks to, from its command line: one broker (`--broker ENDPOINT`, with
// `--key`/`--broker-key` for CURVE) or every cell of a cell map (`--cells FILE`, whose lines
// name each cell's public key file; `--key` is then this client's own key). Publisher, worker
// and mandrill-ctl all resolve their flags here, so the rules are one: exactly one of --broker
// and --cells; with --cells, no --broker-key (each cell has its own); a map with keys needs
// --key and a map without keys refuses it. A key file named by a relative path is read
// relative to the map's own directory, so a map and its keys can be mounted together.
#include <optional>
#include <string>
#include <vector>

#include "shared/core/result.h"
#include "shared/security/curve_keys.h"

namespace mandrill::cells {

struct BrokerTarget {
  std::string name;        // the cell's name; "broker" for --broker
  std::string endpoint;    // ZeroMQ endpoint to connect to
  std::string public_z85;  // the broker's CURVE public key; empty: plaintext
};

struct BrokerTargets {
  std::vector<BrokerTarget> brokers;         // at least one
  std::optional<security::KeyPair> own_key;  // set when CURVE is on
  bool from_cell_map = false;                // --cells was given
  std::string describe() const;              // "tcp://..." or "3 cells from FILE"
  std::string source;                        // the --cells path, when from a map
};

// `broker` / `cells_file` / `key_file` / `broker_key_file`: the flags' values (empty: not
// given). Errors name the flag and say what to do.
core::Result<BrokerTargets> ResolveBrokerTargets(const std::string& broker,
                                                 const std::string& cells_file,
                                                 const std::string& key_file,
                                                 const std::string& broker_key_file);

// The names of the targets, in order (what rendezvous.h ranks).
std::vector<std::string> TargetNames(const BrokerTargets& targets);

}  // namespace mandrill::cells
