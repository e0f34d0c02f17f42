// Publishes COUNT messages to QUEUE through the SDK's PublishClient and prints how many the
// broker confirmed; exit 0 only when all were. Payloads are "payload N", or PAYLOAD when given.
//   digest-publish ENDPOINT QUEUE COUNT [PAYLOAD]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <publisher/publish_client.h>

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: digest-publish ENDPOINT QUEUE COUNT [PAYLOAD]\n");
    return 64;
  }
  mandrill::client::PublishClientOptions options;
  options.broker = argv[1];
  auto client = mandrill::client::PublishClient::Connect(options);
  if (!client.ok()) {
    std::fprintf(stderr, "digest-publish: %s\n", client.error().message.c_str());
    return 1;
  }
  std::vector<mandrill::client::OutgoingMessage> messages;
  const int count = std::atoi(argv[3]);
  for (int i = 0; i < count; ++i) {
    std::string payload = argc == 5 ? argv[4] : "payload " + std::to_string(i);
    messages.push_back({argv[2], "digest-" + std::to_string(i), std::move(payload), {}});
  }
  auto outcomes = (*client)->Publish(std::move(messages), std::chrono::seconds(60));
  if (!outcomes.ok()) {
    std::fprintf(stderr, "digest-publish: %s\n", outcomes.error().message.c_str());
    return 1;
  }
  int confirmed = 0;
  for (const auto& o : *outcomes) {
    if (o.confirmed()) {
      ++confirmed;
    } else {
      std::fprintf(stderr, "digest-publish: %s: %s\n", o.id.c_str(), o.reason.c_str());
    }
  }
  std::printf("confirmed %d of %d\n", confirmed, count);
  return confirmed == count ? 0 : 1;
}
