// ParseHostPort, and the metrics endpoint served by a real cpp-httplib server on a loopback port
// the kernel picks: /metrics, /healthz, /readyz, 404, a failing render, port conflicts, Stop.
#include "shared/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "shared/core/mutex.h"
#include "shared/metrics/exposition.h"

namespace mandrill::metrics {
namespace {

using namespace std::chrono_literals;

// --- ParseHostPort ---------------------------------------------------------------------------

TEST(ParseHostPortTest, Ipv4HostAndPort) {
  auto hp = ParseHostPort("127.0.0.1:9464");
  ASSERT_TRUE(hp.ok()) << hp.error().message;
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 9464);
}

TEST(ParseHostPortTest, BracketedIpv6HostAndPortZero) {
  auto hp = ParseHostPort("[::1]:0");
  ASSERT_TRUE(hp.ok()) << hp.error().message;
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 0);
}

TEST(ParseHostPortTest, NameAndHighestPort) {
  auto hp = ParseHostPort("localhost:65535");
  ASSERT_TRUE(hp.ok()) << hp.error().message;
  EXPECT_EQ(hp->host, "localhost");
  EXPECT_EQ(hp->port, 65535);
}

void ExpectBad(const std::string& text) {
  auto hp = ParseHostPort(text);
  ASSERT_FALSE(hp.ok()) << "'" << text << "' accepted as host '" << hp->host << "' port "
                        << hp->port;
  EXPECT_EQ(hp.error().code, core::Errc::kInvalidArgument) << text;
  EXPECT_NE(hp.error().message.find("--metrics-bind"), std::string::npos) << hp.error().message;
  EXPECT_NE(hp.error().message.find(text), std::string::npos) << hp.error().message;
}

TEST(ParseHostPortTest, MissingHostIsAnError) { ExpectBad(":80"); }
TEST(ParseHostPortTest, MissingPortIsAnError) { ExpectBad("host"); }
TEST(ParseHostPortTest, EmptyPortIsAnError) { ExpectBad("host:"); }
TEST(ParseHostPortTest, PortAbove65535IsAnError) { ExpectBad("h:70000"); }
TEST(ParseHostPortTest, NegativePortIsAnError) { ExpectBad("h:-1"); }
TEST(ParseHostPortTest, TrailingGarbageInPortIsAnError) { ExpectBad("h:12x"); }
TEST(ParseHostPortTest, EmptyTextIsAnError) { ExpectBad(""); }

// --- MetricsServer ---------------------------------------------------------------------------

int PortOf(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  return std::atoi(address.c_str() + colon + 1);
}

std::unique_ptr<httplib::Client> ClientOf(const std::string& host, int port) {
  auto c = std::make_unique<httplib::Client>(host, port);
  c->set_connection_timeout(2, 0);
  c->set_read_timeout(5, 0);
  c->set_write_timeout(5, 0);
  return c;
}

// What the tests' render and ready callbacks answer; set by the test, read on server threads.
struct Script {
  core::Mutex mu;
  std::string body GUARDED_BY(mu) = "# HELP m M.\n# TYPE m gauge\nm 1\n";
  std::string not_ready GUARDED_BY(mu);
  bool throw_render GUARDED_BY(mu) = false;

  std::string Render() {
    core::MutexLock lock(mu);
    if (throw_render) throw std::runtime_error("snapshot exploded");
    return body;
  }
  std::string Ready() {
    core::MutexLock lock(mu);
    return not_ready;
  }
};

class MetricsServerTest : public ::testing::Test {
 protected:
  // Starts `server_` on a kernel-chosen loopback port and waits until it answered once (so the
  // listener thread is in its accept loop).
  void StartServing() {
    server_ = std::make_unique<MetricsServer>(
        "127.0.0.1:0", [this] { return script_.Render(); }, [this] { return script_.Ready(); });
    const core::Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
    port_ = PortOf(server_->address());
    ASSERT_GT(port_, 0) << server_->address();
    client_ = ClientOf("127.0.0.1", port_);
    auto res = client_->Get("/healthz");
    ASSERT_TRUE(res) << "no answer from " << server_->address() << ": "
                     << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200);
  }

  Script script_;
  std::unique_ptr<MetricsServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

TEST_F(MetricsServerTest, StartOnPortZeroReportsTheRealPort) {
  StartServing();
  const std::string& a = server_->address();
  EXPECT_EQ(a.rfind("127.0.0.1:", 0), 0u) << a;
  EXPECT_NE(a, "127.0.0.1:0");
  EXPECT_GT(port_, 0);
  EXPECT_LE(port_, 65535);
  EXPECT_EQ(a, "127.0.0.1:" + std::to_string(port_));
}

TEST_F(MetricsServerTest, MetricsServesTheRenderOutputAsTextFormat004) {
  StartServing();
  {
    core::MutexLock lock(script_.mu);
    script_.body = "# HELP x X.\n# TYPE x counter\nx_total 42\n";
  }
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "# HELP x X.\n# TYPE x counter\nx_total 42\n");
  const std::string type = res->get_header_value("Content-Type");
  EXPECT_EQ(type, kContentType);
  EXPECT_EQ(type.rfind("text/plain; version=0.0.4", 0), 0u) << type;
}

TEST_F(MetricsServerTest, ScrapesCountsMetricsRequestsOnly) {
  StartServing();  // one /healthz
  EXPECT_EQ(server_->scrapes(), 0u);
  for (int i = 0; i < 3; ++i) {
    auto res = client_->Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  ASSERT_TRUE(client_->Get("/readyz"));
  ASSERT_TRUE(client_->Get("/nope"));
  EXPECT_EQ(server_->scrapes(), 3u);
}

TEST_F(MetricsServerTest, HealthzIsOk) {
  StartServing();
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
}

TEST_F(MetricsServerTest, ReadyzIs200WhenReadyAnd503WithTheReasonOtherwise) {
  StartServing();
  auto ok = client_->Get("/readyz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "ready\n");
  {
    core::MutexLock lock(script_.mu);
    script_.not_ready = "recovering storage";
  }
  auto not_ready = client_->Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_NE(not_ready->body.find("recovering storage"), std::string::npos) << not_ready->body;
  {
    core::MutexLock lock(script_.mu);
    script_.not_ready.clear();
  }
  auto again = client_->Get("/readyz");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(MetricsServerTest, ReadyzWithoutAReadyCallbackIsReady) {
  MetricsServer server(
      "127.0.0.1:0", [] { return std::string("m 1\n"); }, nullptr);
  ASSERT_TRUE(server.Start().ok());
  auto client = ClientOf("127.0.0.1", PortOf(server.address()));
  auto res = client->Get("/readyz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(MetricsServerTest, UnknownPathIs404) {
  StartServing();
  for (const char* path : {"/", "/metricsx", "/debug/vars"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  EXPECT_EQ(server_->scrapes(), 0u);
}

TEST_F(MetricsServerTest, ARenderThatThrowsIs500AndTheServerKeepsServing) {
  StartServing();
  {
    core::MutexLock lock(script_.mu);
    script_.throw_render = true;
  }
  auto failed = client_->Get("/metrics");
  ASSERT_TRUE(failed) << httplib::to_string(failed.error());
  EXPECT_EQ(failed->status, 500);
  EXPECT_NE(failed->body.find("snapshot exploded"), std::string::npos) << failed->body;
  {
    core::MutexLock lock(script_.mu);
    script_.throw_render = false;
  }
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "# HELP m M.\n# TYPE m gauge\nm 1\n");
  auto fresh = ClientOf("127.0.0.1", port_)->Get("/healthz");  // a new connection too
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->status, 200);
  EXPECT_EQ(server_->scrapes(), 1u);  // the failed render is not a scrape
}

TEST_F(MetricsServerTest, APortAlreadyServedByAnotherServerIsRefused) {
  StartServing();
  MetricsServer second(
      server_->address(), [] { return std::string(); }, nullptr);
  const core::Status st = second.Start();
  EXPECT_FALSE(st.ok()) << "a second server started on " << server_->address()
                        << " (SO_REUSEPORT?)";
  if (st.ok()) {
    std::this_thread::sleep_for(200ms);  // let its listener start before ~MetricsServer stops it
    return;
  }
  EXPECT_NE(st.message().find("--metrics-bind"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(server_->address()), std::string::npos) << st.message();
  // The first one is unaffected.
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(MetricsServerTest, AnAddressOfAnotherHostIsRefused) {
  MetricsServer server(
      "192.0.2.1:0", [] { return std::string(); }, nullptr);  // TEST-NET-1
  const core::Status st = server.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--metrics-bind"), std::string::npos) << st.message();
}

TEST_F(MetricsServerTest, AMalformedBindIsRefusedByStart) {
  MetricsServer server(
      "no-port-here", [] { return std::string(); }, nullptr);
  const core::Status st = server.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, core::Errc::kInvalidArgument);
  EXPECT_NE(st.message().find("--metrics-bind"), std::string::npos) << st.message();
}

TEST_F(MetricsServerTest, StopIsIdempotentAndClosesThePort) {
  StartServing();
  server_->Stop();
  server_->Stop();
  auto res = ClientOf("127.0.0.1", port_)->Get("/healthz");
  EXPECT_FALSE(res) << "still answering after Stop: " << res->status;
  server_.reset();  // the destructor's Stop after two explicit ones
}

TEST_F(MetricsServerTest, StopWithoutStartIsHarmless) {
  MetricsServer server(
      "127.0.0.1:0", [] { return std::string(); }, nullptr);
  server.Stop();
  server.Stop();
}

TEST_F(MetricsServerTest, StopRightAfterStartReturns) {
  // A process that fails right after starting its metrics server (e.g. the journal cannot be
  // opened) stops it at once. Stop must not depend on the listener thread having reached its
  // accept loop. A watchdog turns a hang into a failure: the stuck listener cannot be recovered,
  // so the process ends (ctest runs each test in its own process).
  for (int i = 0; i < 200; ++i) {
    auto server = std::make_unique<MetricsServer>(
        "127.0.0.1:0", [] { return std::string(); }, nullptr);
    ASSERT_TRUE(server->Start().ok());
    std::promise<void> stopped;
    auto done = stopped.get_future();
    std::thread stopper([&] {
      server->Stop();
      stopped.set_value();
    });
    if (done.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "iteration " << i << ": MetricsServer::Stop() right after Start() did not "
                    << "return within 5 s (httplib::Server::stop() is a no-op until "
                    << "listen_after_bind has set is_running_, and the listener then blocks in "
                    << "accept forever)";
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(1);
    }
    stopper.join();
  }
}

TEST_F(MetricsServerTest, ServesOnIpv6LoopbackWithABracketedAddress) {
  // Only where this host has ::1 at all.
  const int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(probe, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool have_v6 = ::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback here";

  MetricsServer server(
      "[::1]:0", [] { return std::string("v6 1\n"); }, nullptr);
  const core::Status st = server.Start();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server.address().rfind("[::1]:", 0), 0u) << server.address();
  const int port = PortOf(server.address());
  ASSERT_GT(port, 0);
  auto client = ClientOf("::1", port);
  auto res = client->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "v6 1\n");
}

}  // namespace
}  // namespace mandrill::metrics
