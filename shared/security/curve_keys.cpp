#include "shared/security/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "shared/core/text_file.h"

namespace mandrill::security {
namespace {

core::Error Invalid(std::string what) {
  return core::Error{core::Errc::kInvalidArgument, std::move(what)};
}
core::Error Io(const std::string& path, const std::string& what, int err) {
  return core::Error{core::Errc::kIo, what + " " + path + ": " + std::strerror(err)};
}

core::Result<std::string> ReadKeyText(const std::string& path) {
  auto text = core::ReadTextFile(path, "key file");
  if (!text.ok()) return text.error();
  std::string s = std::move(*text);
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return Invalid("key file " + path + " is empty");
  const auto last = s.find_last_not_of(" \t\r\n");
  s = s.substr(first, last - first + 1);
  if (!IsZ85Key(s)) {
    return Invalid("key file " + path + " does not hold a Z85 CURVE key (40 characters)");
  }
  return s;
}

core::Status WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Io(path, "cannot create", errno);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return Io(path, "cannot write", err);
  return core::Status::Ok();
}

}  // namespace

bool IsZ85Key(std::string_view z85) {
  if (z85.size() != 40) return false;
  std::string copy(z85);
  std::uint8_t raw[32];
  return zmq_z85_decode(raw, copy.c_str()) != nullptr;
}

core::Result<KeyPair> GenerateKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return core::Error{core::Errc::kUnavailable, std::string("cannot generate a CURVE key pair: ") +
                                                     zmq_strerror(zmq_errno()) +
                                                     " (libzmq built without CURVE?)"};
  }
  return KeyPair{pub, sec};
}

core::Result<KeyPair> WriteKeyFiles(const std::string& dir, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) {
    return Invalid("key name '" + name + "' must be non-empty and contain no '/'");
  }
  auto pair = GenerateKeyPair();
  if (!pair.ok()) return pair.error();
  const std::string base = (dir.empty() ? "." : dir) + "/" + name;
  if (auto s = WriteFile(base + ".key", pair->secret_z85 + "\n", 0600); !s.ok()) return s.error();
  if (auto s = WriteFile(base + ".pub", pair->public_z85 + "\n", 0644); !s.ok()) {
    ::unlink((base + ".key").c_str());  // no half-written pair
    return s.error();
  }
  return pair;
}

core::Result<KeyPair> ReadSecretKey(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Io(path, "cannot read secret key", errno);
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Invalid("secret key " + path + " is readable by others (mode " + mode +
                   "): chmod 600 it");
  }
  auto secret = ReadKeyText(path);
  if (!secret.ok()) return secret.error();
  char pub[41];
  if (zmq_curve_public(pub, secret->c_str()) != 0) {
    return Invalid("secret key " + path + ": cannot derive its public key");
  }
  return KeyPair{pub, *secret};
}

core::Result<std::string> ReadPublicKey(const std::string& path) { return ReadKeyText(path); }

void MakeCurveServer(zmq::socket_t& socket, const KeyPair& own) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_z85);
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
}

void MakeCurveClient(zmq::socket_t& socket, const KeyPair& own,
                     const std::string& broker_public_z85) {
  socket.set(zmq::sockopt::curve_serverkey, broker_public_z85);
  socket.set(zmq::sockopt::curve_publickey, own.public_z85);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_z85);
}

core::Result<std::optional<ClientKeys>> LoadClientKeys(const std::string& key_file,
                                                       const std::string& broker_key_file) {
  if (key_file.empty() && broker_key_file.empty()) return std::optional<ClientKeys>{};
  if (key_file.empty() || broker_key_file.empty()) {
    return Invalid("--key and --broker-key go together (CURVE needs both)");
  }
  auto own = ReadSecretKey(key_file);
  if (!own.ok()) return own.error();
  auto broker = ReadPublicKey(broker_key_file);
  if (!broker.ok()) return broker.error();
  // A secret key parses as a public one too; this slip would otherwise only show as a broker
  // that never answers.
  if (*broker == own->secret_z85) {
    return Invalid("--broker-key " + broker_key_file +
                   " holds this client's secret key: give the broker's .pub file");
  }
  return std::optional<ClientKeys>{ClientKeys{*own, *broker}};
}

}  // namespace mandrill::security
