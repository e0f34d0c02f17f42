#pragma once
// CURVE key files and the socket options that use them (docs/security.md).
//
// A key pair is two files, written by `mandrill-ctl keygen NAME [--dir DIR]`:
//   DIR/NAME.key  the secret key, Z85 (40 characters) and a newline, mode 0600
//   DIR/NAME.pub  the public key, Z85 and a newline: the file handed to the other side
// A secret key file readable by group or others is refused, as ssh refuses such keys: a key
// anyone on the host can read authenticates nobody.
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "shared/core/result.h"

namespace mandrill::security {

struct KeyPair {
  std::string public_z85;
  std::string secret_z85;
};

// A fresh pair from libzmq's CSPRNG (libsodium). Fails if libzmq was built without CURVE.
core::Result<KeyPair> GenerateKeyPair();
// Writes DIR/NAME.key (0600, never over an existing file) and DIR/NAME.pub; returns the pair.
core::Result<KeyPair> WriteKeyFiles(const std::string& dir, const std::string& name);
// Reads a secret key file (and derives its public key). Errors name the file.
core::Result<KeyPair> ReadSecretKey(const std::string& path);
// Reads a public key file: one Z85 key, surrounding whitespace ignored.
core::Result<std::string> ReadPublicKey(const std::string& path);
// True when `z85` is a well-formed 40-character Z85 CURVE key.
bool IsZ85Key(std::string_view z85);

// The broker's ROUTER as a CURVE server with ZAP authentication in domain "mandrill". Set
// before bind.
void MakeCurveServer(zmq::socket_t& socket, const KeyPair& own);
// A client socket that authenticates with `own` and accepts only the broker whose public key is
// `broker_public_z85`. Set before connect.
void MakeCurveClient(zmq::socket_t& socket, const KeyPair& own,
                     const std::string& broker_public_z85);

// What a client was given on its command line (--key FILE --broker-key FILE): both or neither.
struct ClientKeys {
  KeyPair own;
  std::string broker_public_z85;
};
// Reads the two files; nullopt-like empty result when both paths are empty (plaintext).
core::Result<std::optional<ClientKeys>> LoadClientKeys(const std::string& key_file,
                                                       const std::string& broker_key_file);

inline constexpr const char* kZapDomain = "mandrill";

}  // namespace mandrill::security
