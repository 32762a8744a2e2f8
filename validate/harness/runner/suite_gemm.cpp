// Suites "gemm" (the efficiency surface: M ∈ {1 … 16384} × every distinct linear layer of the shipped
// models, bf16 and fp8, fp16 and int8 on one model's layers), "gemm_holdout" (150 random shapes from a
// fixed seed, never used for fitting), "gemm_random" (150 other random shapes of the same distribution,
// bf16, fp8 and int8, fitted: the model shapes alone never show short K or odd N), "gemm_fresh" (150 shapes of a
// third seed, bf16 and fp8, measured after the model was frozen) and "ceilings" (8192³ and 16384³ per precision, plus a sustained run
// of ≥ 2 s with clocks and power sampled). All through cuBLASLt (microbench/gemm_cublaslt), inputs random
// and rotated over ≥ 3× L2 where they fit, each precision first checked against a CPU reference.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>

#include "microbench/fill.hpp"
#include "microbench/gemm_cublaslt.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/cuda_raii.hpp"
#include "runner/model_shapes.hpp"
#include "runner/runner.hpp"

namespace roofline::validate::runner {

using nlohmann::json;
using namespace microbench;

namespace {

constexpr std::size_t kWorkspaceBytes = 32u << 20;  // cuBLASLt workspace limit (32 MiB)
constexpr double kMaxOperandBytes = 20e9;           // shapes whose x + W + y exceed this are skipped
constexpr int kMaxRotations = 64;

std::size_t align256(std::int64_t b) { return static_cast<std::size_t>((b + 255) / 256 * 256); }

json gemm_workload(GemmDType t, const GemmShape& s) {
  return {{"op", "gemm"}, {"m", s.m}, {"n", s.n}, {"k", s.k}, {"dtype", gemm_dtype_name(t)}};
}

std::string gemm_label(GemmDType t) { return std::string("cublaslt_") + gemm_dtype_name(t); }

DType input_dtype(GemmDType t) {
  switch (t) {
    case GemmDType::bf16: return DType::bf16;
    case GemmDType::fp16: return DType::fp16;
    case GemmDType::fp8_e4m3: return DType::fp8_e4m3;
    case GemmDType::int8: return DType::int8;
  }
  return DType::bf16;
}

double input_range(GemmDType t) { return t == GemmDType::int8 ? 100.0 : t == GemmDType::fp8_e4m3 ? 4.0 : 1.0; }

// Shared per suite: the cuBLASLt handle, the workspace and the fp8 scales (W scale 0.5, x scale 0.25).
struct GemmContext {
  LtHandle handle;
  DeviceBuffer workspace{kWorkspaceBytes};
  DeviceBuffer scales{8 * sizeof(float)};  // 16-byte aligned W and x scales (floats 0 and 4)
  std::map<GemmDType, std::string> broken;   // precision → why its CPU check failed
  std::map<GemmDType, double> check_error;
  GemmContext() {
    const float host[8] = {0.5f, 0, 0, 0, 0.25f, 0, 0, 0};
    ROOFLINE_CUDA_CHECK(cudaMemcpy(scales.get(), host, sizeof host, cudaMemcpyHostToDevice));
    ROOFLINE_CUDA_CHECK(cudaDeviceSynchronize());  // the copy's DMA must land before non-blocking streams read it
  }
  const float* w_scale() const { return scales.as<float>(); }
  const float* x_scale() const { return scales.as<float>() + 4; }

  void check(GemmDType t) {
    try {
      Stream s;
      const double err = check_gemm(handle.get(), t, GemmShape{64, 256, 512}, s.get());
      check_error[t] = err;
      // fp8: Hopper's fp8 tensor cores accumulate with a reduced-precision adder (about 22 mantissa bits) and
      // the H100 check landed at 0.022 relative (2026-11-22); layout or scale bugs give errors near 1.
      const double tolerance = t == GemmDType::int8 ? 0.0 : t == GemmDType::fp8_e4m3 ? 2e-3 : 0.02;
      if (!(err <= tolerance)) {
        broken[t] = "CPU reference check failed: max error " + std::to_string(err) + " > " + std::to_string(tolerance);
      }
    } catch (const std::exception& e) {
      broken[t] = std::string("CPU reference check could not run: ") + e.what();
      cudaGetLastError();
    }
  }
};

// Rotated operand sets in one arena.
struct Operands {
  DeviceBuffer arena;
  std::size_t x = 0, w = 0, y = 0, stride = 0;
  int rotations = 1;
};

Operands make_operands(GemmDType t, const GemmShape& s, std::int64_t l2, std::uint64_t seed, int max_rotations = kMaxRotations) {
  Operands o;
  const std::int64_t xb = gemm_x_bytes(t, s), wb = gemm_w_bytes(t, s), yb = gemm_y_bytes(t, s);
  o.rotations = std::min(rotations_for(xb + wb + yb, l2), max_rotations);
  o.x = 0;
  o.w = align256(xb);
  o.y = o.w + align256(wb);
  o.stride = o.y + align256(yb);
  o.arena = DeviceBuffer(o.stride * static_cast<std::size_t>(o.rotations));
  Stream st;
  for (int r = 0; r < o.rotations; ++r) {
    auto* base = static_cast<unsigned char*>(o.arena.get()) + o.stride * r;
    fill_random(base + o.x, static_cast<std::size_t>(s.m * s.k), input_dtype(t), seed + 2 * r, -input_range(t),
                input_range(t), st.get());
    fill_random(base + o.w, static_cast<std::size_t>(s.n * s.k), input_dtype(t), seed + 2 * r + 1, -input_range(t),
                input_range(t), st.get());
  }
  ROOFLINE_CUDA_CHECK(cudaStreamSynchronize(st.get()));
  return o;
}

struct GemmCaseOptions {
  std::string suite_label;  // "" → cublaslt_<dtype>
  int repetitions = 30;
  double max_time_s = 0.05;
  json extra = json::object();
  int rank = 0;       // which cuBLASLt heuristic result (0: its choice)
  int requested = 1;  // of how many asked for
};

// Plans, measures and writes one GEMM record (or an error record).
void measure_gemm(Runner& r, GemmContext& ctx, GemmDType t, const GemmShape& s, const GemmCaseOptions& opt,
                  std::uint64_t seed) {
  const json workload = gemm_workload(t, s);
  const std::string label = opt.suite_label.empty() ? gemm_label(t) : opt.suite_label;
  const double operand_bytes =
      static_cast<double>(gemm_x_bytes(t, s) + gemm_w_bytes(t, s) + gemm_y_bytes(t, s));
  if (operand_bytes > kMaxOperandBytes || operand_bytes > 0.45 * static_cast<double>(r.device().memory_bytes)) {
    r.skip(label + " " + describe_workload(workload) + ": operands of " + std::to_string(operand_bytes / 1e9) +
           " GB exceed the cap");
    return;
  }
  if (ctx.broken.count(t) != 0) {
    r.write_error(label, workload, ctx.broken[t]);
    return;
  }
  Operands ops;
  std::optional<LtGemm> gemm;
  if (!r.guard(label, workload, [&] {
        ops = make_operands(t, s, r.device().l2_bytes, seed, r.options().scale == Scale::smoke ? 4 : kMaxRotations);
        gemm.emplace(ctx.handle.get(), t, s, kWorkspaceBytes, ctx.w_scale(), ctx.x_scale(), opt.rank, opt.requested);
      })) {
    return;
  }
  Case c;
  c.label = label;
  c.workload = workload;
  const LtGemm* g = &*gemm;
  auto* base = static_cast<unsigned char*>(ops.arena.get());
  const std::size_t stride = ops.stride, xo = ops.x, wo = ops.w, yo = ops.y;
  void* workspace = ctx.workspace.get();
  const float* ws = ctx.w_scale();
  const float* xs = ctx.x_scale();
  c.launch = [=](cudaStream_t st, int rot) {
    unsigned char* b = base + stride * static_cast<std::size_t>(rot);
    g->run(st, b + xo, b + wo, b + yo, workspace, ws, xs);
  };
  c.timing.rotations = ops.rotations;
  c.timing.calls_per_replay = ops.rotations;
  c.timing.warmup = 2;
  c.timing.repetitions = r.options().scale == Scale::smoke ? 3 : opt.repetitions;
  c.timing.min_repetitions = 5;
  c.timing.max_time_s = opt.max_time_s;
  c.l2 = l2_state_for(static_cast<std::int64_t>(operand_bytes), ops.rotations, r.device().l2_bytes);
  c.bytes = operand_bytes;
  c.flops = gemm_flops(s);
  c.cupti_probe = true;
  c.extra = opt.extra;
  c.extra["algorithm"] = gemm->algo_json();
  if (opt.requested > 1) {
    c.extra["heuristic_rank"] = opt.rank;
    c.extra["heuristic_returned"] = gemm->candidates_returned();
  }
  c.extra["rotations"] = ops.rotations;
  c.extra["workspace_limit_bytes"] = kWorkspaceBytes;
  c.extra["layout"] = "row-major y[M,N] = x[M,K]·W[N,K]ᵀ; cuBLASLt TN (A = W transposed, B = x)";
  c.extra["cpu_check_max_error"] = ctx.check_error[t];
  if (t == GemmDType::fp8_e4m3) {
    c.extra["scaling"] = "per-tensor fp32 scales via CUBLASLT_MATMUL_DESC_A/B_SCALE_POINTER, bf16 output";
    c.extra["fast_accum"] = false;
  }
  if (t == GemmDType::int8) c.extra["accumulate"] = "int32, int32 output";
  r.measure(c);
}

std::vector<std::int64_t> m_values(Scale scale) {
  switch (scale) {
    case Scale::smoke: return {1, 64};
    case Scale::quick: return {1, 16, 256, 4096};
    case Scale::full: break;
  }
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
}

// Rebuilds the shared context after a device reset (its handle and buffers died with the old context).
bool refresh_context(Runner& r, std::optional<GemmContext>& ctx, int& epoch, const std::vector<GemmDType>& types) {
  if (ctx && epoch == r.device_epoch()) return true;
  if (ctx) ctx->workspace = DeviceBuffer();  // stale pointers: release what can be released
  ctx.reset();
  epoch = r.device_epoch();
  if (!r.guard("cublaslt_setup", gemm_workload(GemmDType::bf16, {1, 8, 8}), [&] { ctx.emplace(); })) return false;
  for (const GemmDType t : types) ctx->check(t);
  return true;
}

}  // namespace

void run_gemm_suite(Runner& r) {
  const Scale scale = r.options().scale;
  ModelShapes all, subset;
  try {
    all = load_model_shapes(scale == Scale::full ? std::vector<std::string>{} : std::vector<std::string>{"llama3-8b"});
    subset = load_model_shapes({"llama3-8b"});
  } catch (const std::exception& e) {
    r.begin_suite("gemm", 1);
    r.write_error("model_shapes", gemm_workload(GemmDType::bf16, {1, 8, 8}),
                  std::string("cannot load the shipped models: ") + e.what());
    r.end_suite();
    return;
  }
  std::vector<LinearShape> surface = all.linear, small = subset.linear;
  if (scale == Scale::smoke) {
    surface.resize(std::min<std::size_t>(surface.size(), 2));
    small.resize(std::min<std::size_t>(small.size(), 1));
  }
  const auto ms = m_values(scale);
  struct Item {
    GemmDType t;
    GemmShape s;
    std::vector<std::string> uses;
  };
  std::vector<Item> plan;
  for (const GemmDType t : {GemmDType::bf16, GemmDType::fp8_e4m3}) {
    for (const LinearShape& l : surface) {
      for (const std::int64_t m : ms) plan.push_back({t, {m, l.n, l.k}, l.uses});
    }
  }
  for (const GemmDType t : {GemmDType::fp16, GemmDType::int8}) {
    for (const LinearShape& l : small) {
      for (const std::int64_t m : ms) plan.push_back({t, {m, l.n, l.k}, l.uses});
    }
  }
  r.begin_suite("gemm", static_cast<int>(plan.size()));
  const std::vector<GemmDType> types = {GemmDType::bf16, GemmDType::fp8_e4m3, GemmDType::fp16, GemmDType::int8};
  std::optional<GemmContext> ctx;
  int epoch = 0;
  if (!refresh_context(r, ctx, epoch, types)) {
    r.end_suite();
    return;
  }
  // Per record at most ~50 ms of timed calls (never fewer than 5): ~1100 records stay within about 3 minutes
  // on an H100, the largest shapes being bound by their 5 calls.
  std::uint64_t seed = 1;
  for (const Item& item : plan) {
    if (!refresh_context(r, ctx, epoch, types)) break;
    GemmCaseOptions o;
    o.extra = {{"layers", item.uses}};
    measure_gemm(r, *ctx, item.t, item.s, o, seed += 1000);
  }
  r.end_suite();
}

namespace {

constexpr std::uint64_t kHoldoutSeed = 0x484F4C444F5554ull;  // "HOLDOUT"
constexpr std::uint64_t kRandomSeed = 0x52414E444F4Dull;     // "RANDOM"
constexpr std::uint64_t kFreshSeed = 0x4652455348ull;         // "FRESH"
constexpr int kRandomShapesFull = 150;

int random_shape_count(const Runner& r) {
  const Scale scale = r.options().scale;
  return scale == Scale::full ? kRandomShapesFull : scale == Scale::quick ? 20 : 2;
}

// One suite of shapes measured in every precision of `types`, shape by shape; `extra(i)` is the provenance
// stored with shape i's records, `fill_seed + 100 i` seeds its operands.
template <class Extra>
void measure_shape_list(Runner& r, const std::string& suite, const std::vector<GemmShape>& shapes,
                        const std::vector<GemmDType>& types, Extra extra, std::uint64_t fill_seed) {
  r.begin_suite(suite, static_cast<int>(types.size() * shapes.size()));
  std::optional<GemmContext> ctx;
  int epoch = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    for (const GemmDType t : types) {
      if (!refresh_context(r, ctx, epoch, types)) {
        r.end_suite();
        return;
      }
      GemmCaseOptions o;
      o.extra = extra(i);
      measure_gemm(r, *ctx, t, shapes[i], o, fill_seed + 100 * i);
    }
  }
  r.end_suite();
}

}  // namespace

void run_gemm_holdout_suite(Runner& r) {
  std::vector<GemmShape> shapes;
  for (const GemmDims& d : holdout_gemm_shapes(random_shape_count(r), kHoldoutSeed)) shapes.push_back({d.m, d.n, d.k});
  measure_shape_list(
      r, "gemm_holdout", shapes, {GemmDType::bf16, GemmDType::fp8_e4m3},
      [](std::size_t i) {
        return json{{"holdout_index", i}, {"holdout_seed", kHoldoutSeed}, {"note", "held out: never used for fitting"}};
      },
      7000);
}

void run_gemm_random_suite(Runner& r) {
  // The hold-out shapes stay out of the fitted suite, even a coincidental one.
  const std::vector<GemmDims> held = holdout_gemm_shapes(kRandomShapesFull, kHoldoutSeed);
  std::vector<GemmShape> shapes;
  for (const GemmDims& d : holdout_gemm_shapes(random_shape_count(r), kRandomSeed))
    if (std::find(held.begin(), held.end(), d) == held.end()) shapes.push_back({d.m, d.n, d.k});
  measure_shape_list(
      r, "gemm_random", shapes, {GemmDType::bf16, GemmDType::fp8_e4m3, GemmDType::int8},
      [](std::size_t i) { return json{{"random_index", i}, {"random_seed", kRandomSeed}}; }, 9000);
}

void run_gemm_fresh_suite(Runner& r) {
  // Measured after the model was frozen (2026-12-07) to check it on shapes no fit and no model change saw:
  // a third seed, every hold-out and fitted random shape excluded; the GEMM precisions.
  const std::vector<GemmDims> held = holdout_gemm_shapes(kRandomShapesFull, kHoldoutSeed);
  const std::vector<GemmDims> fitted = holdout_gemm_shapes(kRandomShapesFull, kRandomSeed);
  std::vector<GemmShape> shapes;
  for (const GemmDims& d : holdout_gemm_shapes(random_shape_count(r), kFreshSeed))
    if (std::find(held.begin(), held.end(), d) == held.end() && std::find(fitted.begin(), fitted.end(), d) == fitted.end())
      shapes.push_back({d.m, d.n, d.k});
  measure_shape_list(
      r, "gemm_fresh", shapes, {GemmDType::bf16, GemmDType::fp8_e4m3},
      [](std::size_t i) {
        return json{{"fresh_index", i}, {"fresh_seed", kFreshSeed},
                    {"note", "measured after the model was frozen: never fitted, never used to choose the model"}};
      },
      11000);
}

void run_gemm_candidates_suite(Runner& r) {
  // Why a model fitted on one GPU cannot know another's cuBLASLt choice: for the decode-size GEMMs of
  // llama3-8b (M ≤ 16), every algorithm cuBLASLt's heuristic offers (up to 8) is timed, rank 0 being the one
  // PyTorch runs. The H200 runs fp8 N 1024 K 4096 at M ≤ 4 with a kernel twice as slow as the H100's choice
  // (validate/data/*/gemm.jsonl); this shows whether that kernel is the H200's heuristic ranking or the
  // H200's hardware. A microbenchmark suite: never fitted, never counted as model error.
  constexpr int kCandidates = 8;
  struct Item {
    GemmDType t;
    GemmShape s;
  };
  std::vector<Item> plan;
  const std::vector<std::pair<std::int64_t, std::int64_t>> layers = {{1024, 4096}, {4096, 4096}, {14336, 4096}, {4096, 14336}};
  const Scale scale = r.options().scale;
  for (const GemmDType t : {GemmDType::fp8_e4m3, GemmDType::bf16}) {
    for (const auto& [n, k] : layers) {
      const std::vector<std::int64_t> ms = scale == Scale::smoke ? std::vector<std::int64_t>{1}
                                           : n == 1024          ? std::vector<std::int64_t>{1, 2, 4, 8, 16}
                                                                : std::vector<std::int64_t>{1, 4, 16};
      for (const std::int64_t m : ms) plan.push_back({t, {m, n, k}});
      if (scale == Scale::smoke) break;
    }
  }
  r.begin_suite("gemm_candidates", static_cast<int>(plan.size() * kCandidates));
  const std::vector<GemmDType> types = {GemmDType::fp8_e4m3, GemmDType::bf16};
  std::optional<GemmContext> ctx;
  int epoch = 0;
  std::uint64_t seed = 13000;
  for (const Item& item : plan) {
    if (!refresh_context(r, ctx, epoch, types)) break;
    int returned = 1;
    try {
      returned = LtGemm(ctx->handle.get(), item.t, item.s, kWorkspaceBytes, ctx->w_scale(), ctx->x_scale(), 0, kCandidates)
                     .candidates_returned();
    } catch (const std::exception&) {
      cudaGetLastError();  // measure_gemm records the error for rank 0
    }
    for (int rank = 0; rank < std::max(returned, 1); ++rank) {
      GemmCaseOptions o;
      o.suite_label = gemm_label(item.t) + "_rank" + std::to_string(rank);
      o.rank = rank;
      o.requested = kCandidates;
      o.extra = {{"note", "cuBLASLt heuristic candidate: a microbenchmark, never fitted, never counted as model error"}};
      measure_gemm(r, *ctx, item.t, item.s, o, seed += 100);
    }
  }
  r.end_suite();
}

namespace {

// ≥ duration_s of back-to-back replays of one GEMM, CUDA events around each replay, NVML sampled meanwhile.
json sustained_record(Runner& r, GemmContext& ctx, GemmDType t, const GemmShape& s, double duration_s) {
  Operands ops = make_operands(t, s, r.device().l2_bytes, 99);
  LtGemm gemm(ctx.handle.get(), t, s, kWorkspaceBytes, ctx.w_scale(), ctx.x_scale());
  Stream stream;
  const cudaStream_t st = stream.get();
  auto* base = static_cast<unsigned char*>(ops.arena.get());
  auto call = [&](cudaStream_t cs, int rot) {
    unsigned char* b = base + ops.stride * static_cast<std::size_t>(rot);
    gemm.run(cs, b + ops.x, b + ops.w, b + ops.y, ctx.workspace.get(), ctx.w_scale(), ctx.x_scale());
  };
  // Size one replay to ~25 ms from a short measurement.
  TimingOptions probe;
  probe.rotations = ops.rotations;
  probe.warmup = 2;
  probe.repetitions = 5;
  const double per_call = time_gpu(call, probe).median_s / 1.0;
  const int calls = std::max(1, static_cast<int>(0.025 / std::max(per_call, 1e-7)));
  const int replays = std::max(4, static_cast<int>(std::ceil(duration_s / (calls * per_call))));
  GraphExec graph = capture_graph(st, [&](cudaStream_t cs) {
    for (int i = 0; i < calls; ++i) call(cs, i % ops.rotations);
  });
  std::vector<Event> marks(static_cast<std::size_t>(replays) + 1);
  ClockSampler sampler(r.device(), 0.05);
  const auto t0 = std::chrono::steady_clock::now();
  ROOFLINE_CUDA_CHECK(cudaEventRecord(marks[0].get(), st));
  for (int i = 0; i < replays; ++i) {
    ROOFLINE_CUDA_CHECK(cudaGraphLaunch(graph.get(), st));
    ROOFLINE_CUDA_CHECK(cudaEventRecord(marks[static_cast<std::size_t>(i) + 1].get(), st));
  }
  ROOFLINE_CUDA_CHECK(cudaEventSynchronize(marks.back().get()));
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto clocks = sampler.stop();
  std::vector<double> per_replay;
  for (int i = 0; i < replays; ++i) {
    float ms = 0;
    ROOFLINE_CUDA_CHECK(cudaEventElapsedTime(&ms, marks[static_cast<std::size_t>(i)].get(), marks[static_cast<std::size_t>(i) + 1].get()));
    per_replay.push_back(ms * 1e-3 / calls);
  }
  const std::vector<double> steady(per_replay.begin() + replays / 2, per_replay.end());
  TimeStats stats;
  stats.median_s = median_of(steady);
  stats.min_s = *std::min_element(steady.begin(), steady.end());
  stats.max_s = *std::max_element(steady.begin(), steady.end());
  stats.count = static_cast<int>(steady.size());
  stats.calls_per_sample = calls;
  json series = json::array();
  for (const auto& [when, c] : clocks) {
    series.push_back({{"t_s", when}, {"sm_clock_hz", c.sm_clock_hz}, {"mem_clock_hz", c.mem_clock_hz},
                      {"power_w", c.power_w}, {"temperature_c", c.temperature_c}, {"clock_event_reasons", c.clock_event_reasons}});
  }
  refresh_clocks(r.device());
  if (!clocks.empty()) {
    std::vector<double> sm;
    for (std::size_t i = clocks.size() / 2; i < clocks.size(); ++i) sm.push_back(clocks[i].second.sm_clock_hz);
    r.device().sm_clock_hz = median_of(sm);
    r.device().clock_note = "nvml, median of the samples of the second half of the sustained run";
  }
  const double operand_bytes = static_cast<double>(gemm_x_bytes(t, s) + gemm_w_bytes(t, s) + gemm_y_bytes(t, s));
  json extra = {{"duration_s", wall_s},
                {"calls_per_replay", calls},
                {"replays", replays},
                {"per_replay_call_time_s", per_replay},
                {"first_replay_call_time_s", per_replay.front()},
                {"steady_over_first_ratio", stats.median_s / per_replay.front()},
                {"achieved_flop_per_s", gemm_flops(s) / stats.median_s},
                {"flops", gemm_flops(s)},
                {"clock_samples", series},
                {"algorithm", gemm.algo_json()},
                {"note", "sustained: time_s over the second half of the replays; per_replay_call_time_s shows the "
                         "drift from the first replay (boost) to steady state (power/thermal limit)"}};
  return make_record(r.suite(), gemm_label(t) + "_sustained", gemm_workload(t, s), stats, "cuda_graph_events",
                     l2_state_for(static_cast<std::int64_t>(operand_bytes), ops.rotations, r.device().l2_bytes), 0,
                     r.device(), json::object(), extra);
}

}  // namespace

void run_ceilings_suite(Runner& r) {
  const Scale scale = r.options().scale;
  std::vector<GemmDType> types = {GemmDType::bf16, GemmDType::fp16, GemmDType::fp8_e4m3, GemmDType::int8};
  std::vector<std::int64_t> sizes = {8192, 16384};
  double sustained_s = 2.5;
  if (scale == Scale::quick) {
    types = {GemmDType::bf16, GemmDType::fp8_e4m3};
    sizes = {8192};
    sustained_s = 2.0;
  }
  if (scale == Scale::smoke) {
    types = {GemmDType::bf16};
    sizes = {1024};
    sustained_s = 0.2;
  }
  r.begin_suite("ceilings", static_cast<int>(types.size() * (sizes.size() + 1)));
  std::optional<GemmContext> ctx;
  int epoch = 0;
  for (const GemmDType t : types) {
    if (!refresh_context(r, ctx, epoch, types)) break;
    for (const std::int64_t n : sizes) {
      GemmCaseOptions o;
      o.repetitions = 20;
      o.max_time_s = 1.0;
      o.extra = {{"ceiling", true}};
      measure_gemm(r, *ctx, t, {n, n, n}, o, 31 + static_cast<std::uint64_t>(n));
    }
    const std::int64_t n = sizes.front();
    const json workload = gemm_workload(t, {n, n, n});
    if (ctx->broken.count(t) != 0) {
      r.write_error(gemm_label(t) + "_sustained", workload, ctx->broken[t]);
      continue;
    }
    json record;
    if (r.guard(gemm_label(t) + "_sustained", workload, [&] { record = sustained_record(r, *ctx, t, {n, n, n}, sustained_s); })) {
      r.guard(gemm_label(t) + "_sustained", workload, [&] { r.write(record); });
    }
  }
  r.end_suite();
}

}  // namespace roofline::validate::runner
