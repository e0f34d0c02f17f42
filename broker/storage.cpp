#include "broker/storage.h"

namespace mandrill::broker {
namespace {

class Collector final : public RecoverySink {
 public:
  explicit Collector(Recovered* out) : out_(out) {}
  void OnMessage(const RecoveredMessageView& v) override {
    RecoveredMessage m;
    m.publish = PublishRecord{v.seq,           std::string(v.queue), std::string(v.id),
                              std::string(v.payload), *v.headers,    v.published_unix_ms};
    m.attempts = v.attempts;
    m.state = v.state;
    m.not_before_unix_ms = v.not_before_unix_ms;
    m.last_error = std::string(v.last_error);
    m.dead_at_unix_ms = v.dead_at_unix_ms;
    out_->messages.push_back(std::move(m));
  }
  void OnSettledId(std::string_view queue, std::string_view id,
                   std::int64_t settled_unix_ms) override {
    out_->settled_ids.push_back(RecoveredId{std::string(queue), std::string(id), 0, settled_unix_ms});
  }

 private:
  Recovered* out_;
};

}  // namespace

core::Result<Recovered> RecoverAll(Storage& storage) {
  Recovered out;
  Collector collector(&out);
  auto max_seq = storage.Recover(collector);
  if (!max_seq.ok()) return max_seq.error();
  out.max_seq = *max_seq;
  return out;
}

}  // namespace mandrill::broker
