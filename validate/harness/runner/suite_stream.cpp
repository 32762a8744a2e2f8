// Suite "stream": read / write / copy bandwidth against working-set size, 16 KiB … 4 GiB (L1-, L2- and
// HBM-resident regimes), plus cudaMemcpyAsync device-to-device as a reference copy.
#include <algorithm>
#include <cstdint>

#include "microbench/fill.hpp"
#include "microbench/stream.hpp"
#include "roofline/validate/cuda_raii.hpp"
#include "runner/runner.hpp"

namespace roofline::validate::runner {

using nlohmann::json;
using namespace microbench;

namespace {

std::vector<std::int64_t> stream_sizes(Scale scale) {
  const std::int64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
  switch (scale) {
    case Scale::smoke: return {64 * KiB, 4 * MiB};
    case Scale::quick: return {64 * KiB, 4 * MiB, 32 * MiB, 256 * MiB, 1 * GiB};
    case Scale::full: break;
  }
  return {16 * KiB,  64 * KiB,  256 * KiB, 1 * MiB,   4 * MiB,   8 * MiB,   16 * MiB, 24 * MiB, 32 * MiB,
          48 * MiB,  64 * MiB,  96 * MiB,  128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB,  2 * GiB,  4 * GiB};
}

// Passes inside one kernel: enough that one call moves ≥ 256 MiB, at most 4096.
int passes_for(std::int64_t bytes, Scale scale) {
  const std::int64_t target = scale == Scale::smoke ? (4ll << 20) : (256ll << 20);
  return static_cast<int>(std::clamp<std::int64_t>((target + bytes - 1) / bytes, 1, 4096));
}

}  // namespace

void run_stream_suite(Runner& r) {
  const auto sizes = stream_sizes(r.options().scale);
  r.begin_suite("stream", static_cast<int>(sizes.size()) * 4);
  const std::int64_t l2 = r.device().l2_bytes;
  const StreamKind kinds[] = {StreamKind::read, StreamKind::write, StreamKind::copy};
  for (const std::int64_t bytes : sizes) {
    if (2 * bytes > r.device().memory_bytes / 2) {
      for (int i = 0; i < 4; ++i) r.skip("stream " + std::to_string(bytes) + " bytes: copy needs more than half the memory");
      continue;
    }
    DeviceBuffer in, out, sink;
    const json probe_workload = {{"op", "stream"}, {"kind", "read"}, {"bytes", bytes}};
    if (!r.guard("stream_alloc", probe_workload, [&] {
          in = DeviceBuffer(static_cast<std::size_t>(bytes));
          out = DeviceBuffer(static_cast<std::size_t>(bytes));
          sink = DeviceBuffer(static_cast<std::size_t>(default_stream_blocks()) * sizeof(unsigned));
          Stream s;
          fill_random(in.get(), static_cast<std::size_t>(bytes / 4), DType::int32, 0x5EED + bytes, -1e9, 1e9, s.get());
          ROOFLINE_CUDA_CHECK(cudaMemsetAsync(out.get(), 0x3C, static_cast<std::size_t>(bytes), s.get()));
          ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s.get()));
        })) {
      for (int i = 0; i < 3; ++i) r.skip("allocation failed");
      continue;
    }
    const int passes = passes_for(bytes, r.options().scale);
    for (const StreamKind kind : kinds) {
      Case c;
      c.label = std::string("stream_") + stream_kind_name(kind);
      c.workload = {{"op", "stream"}, {"kind", stream_kind_name(kind)}, {"bytes", bytes}};
      StreamLaunch how;
      how.passes = passes;
      const void* src = in.get();
      void* dst = out.get();
      unsigned* sk = sink.as<unsigned>();
      c.launch = [=](cudaStream_t s, int) { launch_stream(kind, src, dst, static_cast<std::size_t>(bytes), sk, how, s); };
      c.timing.warmup = 3;
      c.timing.repetitions = r.options().scale == Scale::smoke ? 3 : 30;
      c.timing.calls_per_replay = 1;
      c.timing.max_time_s = 0.3;
      c.time_divisor = passes;
      c.l2 = l2_state_for(bytes, 1, l2);
      c.kernels_per_call = 1;
      c.bytes = static_cast<double>(kind == StreamKind::copy ? 2 * bytes : bytes);
      c.extra = {{"passes_per_kernel", passes},
                 {"blocks", default_stream_blocks()},
                 {"threads_per_block", how.threads},
                 {"access_bytes", 16},
                 {"note", "time_s is per pass over the buffer: one kernel makes passes_per_kernel passes (so that small "
                          "working sets stay in L1/L2); call_time_median_s is the whole kernel"}};
      r.measure(c);
    }
    // Reference: the driver's device-to-device copy (one call per sample).
    Case m;
    m.label = "cuda_memcpy_d2d";
    m.workload = {{"op", "stream"}, {"kind", "copy"}, {"bytes", bytes}};
    const void* src = in.get();
    void* dst = out.get();
    m.launch = [=](cudaStream_t s, int) {
      ROOFLINE_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, s));
    };
    m.timing.warmup = 3;
    m.timing.repetitions = r.options().scale == Scale::smoke ? 3 : 30;
    m.timing.calls_per_replay = 1;
    m.timing.max_time_s = 0.3;
    m.l2 = l2_state_for(bytes, 1, l2);
    m.bytes = 2.0 * static_cast<double>(bytes);
    m.extra = {{"note", "cudaMemcpyAsync device-to-device captured in a CUDA graph (a memcpy node)"}};
    r.measure(m);
  }
  r.end_suite();
}

}  // namespace roofline::validate::runner
