// A worker of its own: mandrill-worker's every flag and behaviour, plus a `digest` handler that
// hashes each payload on the executor pool and appends "ID ATTEMPT DIGEST" to the file named by
// `--handler-arg out=FILE` (its one setting; any other key is refused).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <worker/handlers/handler.h>
#include <worker/handlers/registry.h>
#include <worker/worker_main.h>

namespace rt = mandrill::runtime;
using namespace mandrill::worker;

class Digest final : public Handler {
 public:
  explicit Digest(std::FILE* out) : out_(out) {}
  ~Digest() override { std::fclose(out_); }

  rt::Task<void> Handle(const Message& msg, Context& ctx) override {
    if (msg.payload == "poison") throw std::runtime_error("poison payload");
    auto hash = [data = std::string(msg.payload)] {
      std::uint64_t h = 1469598103934665603ull;  // FNV-1a
      for (unsigned char c : data) h = (h ^ c) * 1099511628211ull;
      return h;
    };
    const std::uint64_t digest = co_await ctx.RunInExecutor(std::move(hash));
    {
      std::lock_guard lock(mu_);
      std::fprintf(out_, "%.*s %u %016llx\n", static_cast<int>(msg.id.size()), msg.id.data(),
                   msg.attempt, static_cast<unsigned long long>(digest));
      std::fflush(out_);
    }
    ctx.Debug("digest {:016x}", digest);
  }

 private:
  std::FILE* out_;
  std::mutex mu_;
};

mandrill::core::Result<std::unique_ptr<Handler>> MakeDigest(const HandlerConfig& config) {
  using mandrill::core::Errc;
  using mandrill::core::Error;
  for (const auto& [key, value] : config.args) {
    if (key != "out") return Error(Errc::kInvalidArgument, "digest: unknown --handler-arg " + key);
  }
  const auto path = config.args.find("out");
  if (path == config.args.end() || path->second.empty()) {
    return Error(Errc::kInvalidArgument, "digest: --handler-arg out=FILE is required");
  }
  std::FILE* out = std::fopen(path->second.c_str(), "a");
  if (out == nullptr) return Error(Errc::kIo, "digest: cannot open " + path->second);
  return std::unique_ptr<Handler>(new Digest(out));
}

int main(int argc, char** argv) {
  auto registry = HandlerRegistry::WithBuiltins();
  registry.Register("digest", "FNV-1a of the payload, appended to --handler-arg out=FILE",
                    MakeDigest);
  return Main(argc, argv, registry);
}
