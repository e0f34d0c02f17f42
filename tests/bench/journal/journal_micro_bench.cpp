// Micro-benchmarks (Google Benchmark) of the journal's hot paths: serialising a record the way
// Append does, sealing it (CRC32C, hardware and portable), decoding it as recovery does.
#include <benchmark/benchmark.h>

#include <string>

#include "broker/journal/crc32c.h"
#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"

namespace mandrill::broker::journal {
namespace {

PublishRecord Sample() {
  PublishRecord p;
  p.seq = 123456789;
  p.queue = "restarts";
  p.id = "pub-3f9a-000123456";
  p.payload.assign(100, 'x');
  p.published_unix_ms = 1'700'000'000'000;
  return p;
}

void BM_FramePublish(benchmark::State& state) {
  const PublishRecord p = Sample();
  ByteBuffer b;
  b.Reserve(1 << 20);
  for (auto _ : state) {
    if (b.size() > (1 << 20) - 512) b.Clear();
    AppendFramed(p, &b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FramePublish);

void BM_FrameAck(benchmark::State& state) {
  ByteBuffer b;
  b.Reserve(1 << 20);
  std::uint64_t seq = 1;
  for (auto _ : state) {
    if (b.size() > (1 << 20) - 64) b.Clear();
    AppendFramed(AckRecord{seq++}, &b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FrameAck);

void BM_SealPublish(benchmark::State& state) {
  ByteBuffer b;
  AppendFramed(Sample(), &b);
  for (auto _ : state) {
    SealRecord(b.data());
    benchmark::DoNotOptimize(b.data()[8]);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(b.size()));
}
BENCHMARK(BM_SealPublish);

void BM_Crc32c(benchmark::State& state) {
  const std::string data(static_cast<std::size_t>(state.range(1)), 'x');
  const bool hw = state.range(0) != 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hw ? crc32c::ExtendHardware(0, data.data(), data.size())
                                : crc32c::ExtendPortable(0, data.data(), data.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(1));
  state.SetLabel(hw ? (crc32c::HardwareAvailable() ? "sse4.2" : "sse4.2 absent") : "table");
}
BENCHMARK(BM_Crc32c)->Args({1, 160})->Args({0, 160})->Args({1, 65536})->Args({0, 65536});

void BM_DecodePublish(benchmark::State& state) {
  ByteBuffer b;
  AppendFramed(Sample(), &b);
  const std::string_view body = b.view().substr(kRecordHeaderBytes);
  DiskRecord r;
  for (auto _ : state) {
    benchmark::DoNotOptimize(DecodeBody(1, body, &r));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodePublish);

}  // namespace
}  // namespace mandrill::broker::journal

BENCHMARK_MAIN();
