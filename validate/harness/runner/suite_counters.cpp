// Suite "counters": hardware counters (CUPTI Range Profiler, kernel replay, separate from the timing run)
// for workloads whose traffic is known exactly, so that measured bytes can be compared with modelled ones:
// stream read/write/copy over 1 GiB (HBM) and 16 MiB (L2-resident), GEMMs, elementwise kernels, the empty
// kernel. extra.expected_dram_bytes states the workload's own byte count for comparison.
#include "microbench/elementwise.hpp"
#include "microbench/fill.hpp"
#include "microbench/gemm_cublaslt.hpp"
#include "microbench/launch.hpp"
#include "microbench/stream.hpp"
#include "roofline/validate/counters.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"
#include "runner/runner.hpp"

namespace roofline::validate::runner {

using nlohmann::json;
using namespace microbench;

void run_counters_suite(Runner& r) {
  const Scale scale = r.options().scale;
  const std::int64_t big = scale == Scale::smoke ? (16ll << 20) : (1ll << 30);
  const std::int64_t small = 16ll << 20;
  r.begin_suite("counters", 10);
  std::string why;
  if (!CounterSession::available(r.options().device, &why)) {
    // Still write the records (status error with the reason) so the run shows what was not measured.
    r.write_error("counters_unavailable", json{{"op", "stream"}, {"kind", "read"}, {"bytes", big}},
                  "GPU performance counters unavailable: " + why);
    r.end_suite();
    return;
  }
  const std::int64_t l2 = r.device().l2_bytes;

  // Stream kernels, one pass (time_s is the whole kernel).
  DeviceBuffer in, out, sink;
  const json w0 = {{"op", "stream"}, {"kind", "read"}, {"bytes", big}};
  if (r.guard("stream_alloc", w0, [&] {
        in = DeviceBuffer(static_cast<std::size_t>(big));
        out = DeviceBuffer(static_cast<std::size_t>(big));
        sink = DeviceBuffer(static_cast<std::size_t>(default_stream_blocks()) * sizeof(unsigned));
        Stream s;
        fill_random(in.get(), static_cast<std::size_t>(big / 4), DType::int32, 77, -1e9, 1e9, s.get());
        ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s.get()));
      })) {
    for (const std::int64_t bytes : {big, small}) {
      for (const StreamKind kind : {StreamKind::read, StreamKind::write, StreamKind::copy}) {
        if (bytes == small && kind != StreamKind::read) continue;
        Case c;
        c.label = std::string("stream_") + stream_kind_name(kind);
        c.workload = {{"op", "stream"}, {"kind", stream_kind_name(kind)}, {"bytes", bytes}};
        const void* src = in.get();
        void* dst = out.get();
        unsigned* sk = sink.as<unsigned>();
        c.launch = [=](cudaStream_t s, int) { launch_stream(kind, src, dst, static_cast<std::size_t>(bytes), sk, StreamLaunch{}, s); };
        c.timing.calls_per_replay = 1;
        c.timing.repetitions = 20;
        c.l2 = l2_state_for(bytes, 1, l2);
        c.kernels_per_call = 1;
        c.bytes = static_cast<double>(kind == StreamKind::copy ? 2 * bytes : bytes);
        c.counters = true;
        c.extra = {{"expected_dram_bytes_read", kind == StreamKind::write ? 0.0 : static_cast<double>(bytes)},
                   {"expected_dram_bytes_write", kind == StreamKind::read ? 0.0 : static_cast<double>(bytes)},
                   {"note", bytes < 3 * l2 ? "L2-resident buffer: DRAM bytes depend on what the previous replay left "
                                             "in L2 (kernel replay restores memory between passes)"
                                           : "HBM-sized buffer: DRAM bytes should match the workload"}};
        r.measure(c);
      }
    }
  }

  // GEMMs: bf16 decode-like and square, fp8 square.
  LtHandle handle;
  DeviceBuffer workspace(32u << 20), scales(8 * sizeof(float));  // 16-byte aligned scales (floats 0 and 4)
  const float host_scales[8] = {0.5f, 0, 0, 0, 0.25f, 0, 0, 0};
  r.guard("gemm_scales", json{{"op", "gemm"}, {"m", 1}, {"n", 8}, {"k", 8}, {"dtype", "bf16"}}, [&] {
    ROOFLINE_CUDA_CHECK(cudaMemcpy(scales.get(), host_scales, sizeof host_scales, cudaMemcpyHostToDevice));
    ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());  // the copy's DMA must land before non-blocking streams read it
  });
  struct G {
    GemmDType t;
    GemmShape s;
  };
  const std::int64_t sq = scale == Scale::smoke ? 512 : 4096;
  for (const G& g : {G{GemmDType::bf16, {1, sq, sq}}, G{GemmDType::bf16, {sq, sq, sq}}, G{GemmDType::fp8_e4m3, {sq, sq, sq}}}) {
    const json workload = {{"op", "gemm"}, {"m", g.s.m}, {"n", g.s.n}, {"k", g.s.k}, {"dtype", gemm_dtype_name(g.t)}};
    const std::string label = std::string("cublaslt_") + gemm_dtype_name(g.t);
    DeviceBuffer x, w, y;
    std::optional<LtGemm> gemm;
    if (!r.guard(label, workload, [&] {
          x = DeviceBuffer(static_cast<std::size_t>(gemm_x_bytes(g.t, g.s)));
          w = DeviceBuffer(static_cast<std::size_t>(gemm_w_bytes(g.t, g.s)));
          y = DeviceBuffer(static_cast<std::size_t>(gemm_y_bytes(g.t, g.s)));
          Stream s;
          const DType in_type = g.t == GemmDType::bf16 ? DType::bf16 : DType::fp8_e4m3;
          fill_random(x.get(), static_cast<std::size_t>(g.s.m * g.s.k), in_type, 5, -1, 1, s.get());
          fill_random(w.get(), static_cast<std::size_t>(g.s.n * g.s.k), in_type, 6, -1, 1, s.get());
          ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s.get()));
          gemm.emplace(handle.get(), g.t, g.s, 32u << 20, scales.as<float>(), scales.as<float>() + 4);
        })) {
      continue;
    }
    Case c;
    c.label = label;
    c.workload = workload;
    const LtGemm* gp = &*gemm;
    void *xp = x.get(), *wp = w.get(), *yp = y.get(), *ws = workspace.get();
    const float* sc = scales.as<float>();
    c.launch = [=](cudaStream_t s, int) { gp->run(s, xp, wp, yp, ws, sc, sc + 1); };
    c.timing.calls_per_replay = 1;
    c.timing.repetitions = 20;
    c.l2 = "warm";  // one operand set: the counters show what actually came from DRAM
    c.bytes = static_cast<double>(gemm_x_bytes(g.t, g.s) + gemm_w_bytes(g.t, g.s) + gemm_y_bytes(g.t, g.s));
    c.flops = gemm_flops(g.s);
    c.counters = true;
    c.cupti_probe = true;
    c.extra = {{"algorithm", gemm->algo_json()},
               {"expected_min_dram_bytes", c.bytes},
               {"expected_tensor_flops", c.flops}};
    r.measure(c);
  }

  // Elementwise: rmsnorm and silu_mul at prefill-like sizes (one operand set, so L2 may hold part of it).
  for (const auto& [kind, rows, cols] :
       {std::tuple{ElementwiseKind::rmsnorm, std::int64_t{8192}, std::int64_t{4096}},
        std::tuple{ElementwiseKind::silu_mul, std::int64_t{2048}, std::int64_t{14336}}}) {
    const std::int64_t rr = scale == Scale::smoke ? 8 : rows;
    const json workload = {{"op", "elementwise"}, {"kind", elementwise_kind_name(kind)}, {"rows", rr}, {"cols", cols}, {"dtype", "bf16"}};
    const std::string label = std::string(elementwise_kind_name(kind)) + "_bf16";
    DeviceBuffer a, b, o;
    if (!r.guard(label, workload, [&] {
          const std::size_t e = static_cast<std::size_t>(rr * cols);
          a = DeviceBuffer(e * 2);
          b = DeviceBuffer(e * 2);
          o = DeviceBuffer(e * 2);
          Stream s;
          fill_random(a.get(), e, DType::bf16, 8, -2, 2, s.get());
          fill_random(b.get(), e, DType::bf16, 9, -2, 2, s.get());
          ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(s.get()));
        })) {
      continue;
    }
    Case c;
    c.label = label;
    c.workload = workload;
    ElementwiseArgs args;
    args.rows = rr;
    args.cols = cols;
    args.x = a.get();
    args.y_in = b.get();
    args.out = o.get();
    const ElementwiseKind k = kind;
    c.launch = [=](cudaStream_t s, int) { launch_elementwise(k, args, s); };
    c.timing.calls_per_replay = 1;
    c.timing.repetitions = 20;
    c.l2 = l2_state_for(static_cast<std::int64_t>(elementwise_bytes(kind, rr, cols)), 1, l2);
    c.kernels_per_call = 1;
    c.bytes = elementwise_bytes(kind, rr, cols);
    c.counters = true;
    c.extra = {{"expected_dram_bytes", c.bytes}};
    r.measure(c);
  }

  Case e;
  e.label = "empty_kernel";
  e.workload = {{"op", "launch"}, {"graph", false}};
  e.launch = [](cudaStream_t s, int) { launch_empty_kernel(s); };
  e.timing.use_cuda_graph = false;
  e.timing.repetitions = 50;
  e.kernels_per_call = 1;
  e.counters = true;
  e.extra = {{"expected_dram_bytes", 0.0}};
  r.measure(e);
  r.end_suite();
}

}  // namespace roofline::validate::runner
