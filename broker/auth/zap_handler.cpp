#include "broker/auth/zap_handler.h"

#include <spdlog/spdlog.h>

#include <array>
#include <string>
#include <vector>

#include "shared/core/thread_name.h"
#include "shared/security/curve_keys.h"

namespace mandrill::broker::auth {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

std::string Str(const zmq::message_t& m) { return std::string(m.data<char>(), m.size()); }

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, AuthStore& store)
    : store_(store),
      rep_(context, zmq::socket_type::rep),
      stop_in_(context, zmq::socket_type::pair),
      stop_out_(context, zmq::socket_type::pair) {}

ZapHandler::~ZapHandler() { Stop(); }

core::Status ZapHandler::Start() {
  try {
    rep_.set(zmq::sockopt::linger, 0);
    rep_.bind(kZapEndpoint);
    const std::string stop = "inproc://mandrill-zap-stop-" +
                             std::to_string(reinterpret_cast<std::uintptr_t>(this));
    stop_in_.bind(stop);
    stop_out_.connect(stop);
  } catch (const zmq::error_t& e) {
    return core::Error{core::Errc::kInternal, std::string("cannot start ZAP handler: ") + e.what()};
  }
  thread_ = std::thread([this] { Run(); });
  return core::Status::Ok();
}

void ZapHandler::Stop() {
  if (!thread_.joinable()) return;
  stop_out_.send(zmq::str_buffer("x"), zmq::send_flags::dontwait);
  thread_.join();
}

void ZapHandler::Run() {
  core::SetThreadName("zap");
  std::array<zmq::pollitem_t, 2> items{{{rep_.handle(), 0, ZMQ_POLLIN, 0},
                                        {stop_in_.handle(), 0, ZMQ_POLLIN, 0}}};
  for (;;) {
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
      if ((items[1].revents & ZMQ_POLLIN) != 0) return;
      if ((items[0].revents & ZMQ_POLLIN) != 0) Answer(rep_);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      // A ZAP failure must not end authentication: libzmq would then refuse every client.
      spdlog::error("ZAP handler: {} (continuing)", e.what());
    }
  }
}

void ZapHandler::Answer(zmq::socket_t& rep) {
  std::vector<zmq::message_t> req;
  do {
    zmq::message_t part;
    if (!rep.recv(part, zmq::recv_flags::none)) return;
    const bool more = part.more();
    if (req.size() < 16) req.push_back(std::move(part));
    if (!more) break;
  } while (true);
  // [version, request id, domain, address, routing id, mechanism, credentials...]
  std::string status = "400", text = "malformed ZAP request", user;
  if (req.size() >= 6 && Str(req[0]) == "1.0") {
    const std::string domain = Str(req[2]), address = Str(req[3]), mechanism = Str(req[5]);
    if (mechanism != "CURVE" || req.size() < 7 || req[6].size() != 32) {
      text = "only CURVE is accepted";
    } else if (domain != security::kZapDomain) {
      text = "unknown ZAP domain";
    } else {
      char z85[41];
      zmq_z85_encode(z85, req[6].data<std::uint8_t>(), 32);
      const auto table = store_.Get();
      const Principal* p = nullptr;
      if (table != nullptr) {
        if (auto it = table->by_key.find(z85); it != table->by_key.end()) p = &it->second;
      }
      if (p != nullptr) {
        status = "200";
        text = "OK";
        user = p->name;
        store_.admitted.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("ZAP: admitted {} ({}) from {}", user, RoleName(p->role), address);
      } else {
        text = "unknown key";
        store_.refused.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("ZAP: refused an unknown CURVE key {} from {}", z85, address);
      }
    }
    if (status != "200" && text != "unknown key") {
      store_.refused.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("ZAP: refused a handshake from {}: {}", address, text);
    }
  }
  const std::string version = "1.0";
  const std::string request_id = req.size() >= 2 ? Str(req[1]) : std::string();
  rep.send(zmq::buffer(version), zmq::send_flags::sndmore);
  rep.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  rep.send(zmq::buffer(status), zmq::send_flags::sndmore);
  rep.send(zmq::buffer(text), zmq::send_flags::sndmore);
  rep.send(zmq::buffer(user), zmq::send_flags::sndmore);
  rep.send(zmq::message_t(), zmq::send_flags::none);  // no metadata
}

}  // namespace mandrill::broker::auth
