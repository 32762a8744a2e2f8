// Timing sweep of the decode kernels (delta, BS/SBS, context, batch; pruning on/off; residual; scale
// variant; fused vs separate stage 2) on realistic data generated on the GPU with the same per-element
// formulas as the CPU generator. Each configuration: one CUDA graph of `rotations` calls over input sets
// covering >= 3× L2, median of replays (harness time_gpu), the skip ratio of the run, the accuracy of
// batch element 0 against an fp32 GPU reference on the unquantised inputs, and the cost model's bytes
// and FLOPs (decode_cost.hpp) with the measured skip ratio. One JSONL record per configuration.
// Usage: decode_bench --out DIR [--quick] [--profile h100_sxm]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attention_data.hpp"
#include "decode_api.hpp"
#include "decode_cost.hpp"
#include "gpu_buffers.hpp"
#include "harness_bridge.hpp"
#include "reference_device.hpp"

using namespace roofline;
using namespace roofline::validate;
using namespace roofline::validate::decode;
using json = nlohmann::json;

namespace {

enum class Kind { dense, q2, fp8 };

struct Cfg {
  Kind kind;
  int B, T;
  float delta = 5.0f;
  int bs = 64, sbs = 64;
  bool prune = true, residual = true, fused = true, realistic = true;
  int scale_block = 0;
  std::string tag;
};

const int HQ = 32, HKV = 8, D = 128;

std::string kind_name(Kind k) { return k == Kind::dense ? "splitkv_bf16" : k == Kind::q2 ? "q2fp8" : "fp8fp8"; }

/// One input set of a configuration on the device.
struct InputSet {
  DevBuf q, k, v, scale, zero, res;
};

struct Runner {
  bridge::DeviceInfo dev;
  bridge::RecordWriter* writer;

  void run(const Cfg& c) {
    json workload = {{"op", "attention"}, {"phase", "decode"}, {"batch", c.B}, {"q_heads", HQ}, {"kv_heads", HKV},
                     {"q_len", 1}, {"kv_len", c.T}, {"head_dim", D}, {"causal", false},
                     {"dtype", c.kind == Kind::dense ? "bf16" : "fp16"}, {"kernel", kind_name(c.kind)}};
    const std::string label = c.kind == Kind::dense ? "splitkv_bf16" : kind_name(c.kind) + "_stage1+2";
    try {
      run_inner(c, workload, label);
    } catch (const std::exception& e) {
      std::printf("  ERROR %s B=%d T=%d %s: %s\n", label.c_str(), c.B, c.T, c.tag.c_str(), e.what());
      writer->append(bridge::make_error_record("kernels", label, workload, e.what(), dev));
      cudaGetLastError();
    }
  }

  void run_inner(const Cfg& c, json workload, const std::string& label) {
    gen::GenParams gp{};
    {
      AttentionShape s{.batch = c.B, .q_heads = HQ, .kv_heads = HKV, .q_len = 1, .kv_len = c.T, .head_dim = D};
      AttentionDataOptions o;
      o.realistic = c.realistic;
      o.seed = 1234567ull + std::uint64_t(c.B) * 7919u + std::uint64_t(c.T);
      gp = gen_params(s, o);
    }
    const std::size_t nq = std::size_t(c.B) * HQ * D, nkv = std::size_t(c.B) * c.T * HKV * D;
    const int nsub = (c.T + c.sbs - 1) / c.sbs;
    const int nsets = c.scale_block ? (c.T + c.scale_block - 1) / c.scale_block : 1;
    // ---- build input set 0 ----
    InputSet s0;
    std::size_t set_bytes = 0;
    if (c.kind == Kind::dense) {
      s0.q = DevBuf(nq * 2); s0.k = DevBuf(nkv * 2); s0.v = DevBuf(nkv * 2);
      fill_attention_tensor(gp, 0, DType::bf16, s0.q.as(), nullptr);
      fill_attention_tensor(gp, 1, DType::bf16, s0.k.as(), nullptr);
      fill_attention_tensor(gp, 2, DType::bf16, s0.v.as(), nullptr);
      set_bytes = nkv * 4;
    } else {
      s0.q = DevBuf(nq * 2); s0.v = DevBuf(nkv * 2); s0.res = DevBuf(nkv);
      fill_attention_tensor(gp, 0, DType::fp16, s0.q.as(), nullptr);
      fill_attention_tensor(gp, 2, DType::fp16, s0.v.as(), nullptr);
      const std::size_t slice = std::size_t(c.T) * HKV * D;
      DevBuf kf(slice * 4);
      if (c.kind == Kind::q2) {
        s0.k = DevBuf(nkv / 4);
        s0.scale = DevBuf(std::size_t(c.B) * HKV * nsets * D * 4);
        s0.zero = DevBuf(s0.scale.bytes());
        DevBuf stats(std::size_t(HKV) * nsets * D * 8);
        for (int b = 0; b < c.B; ++b) {
          fill_attention_tensor(gp, 1, DType::fp32, kf.as(), nullptr, b, 1);
          quantize_q2_device(kf.as<float>(), 1, c.T, HKV, D, c.scale_block, s0.k.as<std::uint8_t>() + b * slice / 4,
                             s0.scale.as<float>() + std::size_t(b) * HKV * nsets * D,
                             s0.zero.as<float>() + std::size_t(b) * HKV * nsets * D, s0.res.as<std::uint8_t>() + b * slice,
                             stats.as<unsigned>(), nullptr);
        }
        set_bytes = nkv / 4 + nkv + nkv * 2;
      } else {
        s0.k = DevBuf(nkv);
        for (int b = 0; b < c.B; ++b) {
          fill_attention_tensor(gp, 1, DType::fp32, kf.as(), nullptr, b, 1);
          quantize_fp8fp8_device(kf.as<float>(), std::int64_t(slice), s0.k.as<std::uint8_t>() + b * slice,
                                 s0.res.as<std::uint8_t>() + b * slice, nullptr);
        }
        set_bytes = nkv * 4;
      }
    }
    DECODE_CUDA_CHECK(cudaDeviceSynchronize());
    // ---- rotations: copies of set 0 until >= 3× L2 (memory permitting) ----
    int rotations = bridge::rotations_for(std::int64_t(set_bytes), dev.l2_bytes);
    std::size_t free_b = 0, total_b = 0;
    DECODE_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    rotations = int(std::max<std::size_t>(1, std::min<std::size_t>(rotations, (free_b / 2) / std::max<std::size_t>(set_bytes, 1) + 1)));
    std::vector<InputSet> sets;
    sets.push_back(std::move(s0));
    auto copy = [](const DevBuf& src) {
      DevBuf d(src.bytes());
      if (src.bytes()) DECODE_CUDA_CHECK(cudaMemcpy(d.as(), src.as(), src.bytes(), cudaMemcpyDeviceToDevice));
      return d;
    };
    for (int r = 1; r < rotations; ++r) {
      InputSet s;
      const InputSet& a = sets[0];
      s.q = copy(a.q); s.k = copy(a.k); s.v = copy(a.v);
      if (a.scale.bytes()) { s.scale = copy(a.scale); s.zero = copy(a.zero); }
      if (a.res.bytes()) s.res = copy(a.res);
      sets.push_back(std::move(s));
    }
    const std::string l2 = std::int64_t(rotations) * std::int64_t(set_bytes) >= 3 * dev.l2_bytes ? "cold_rotating" : "warm";
    // ---- the call ----
    DevBuf out(nq * 2);
    DecodeWorkspace ws(c.B, HQ, HKV, D, c.kind == Kind::dense ? 0 : nsub, 256);
    PrunedConfig pc;
    pc.bs = c.bs; pc.sbs = c.sbs; pc.delta = c.delta; pc.prune = c.prune; pc.use_fp8_residual = c.residual;
    pc.fused_combine = c.fused;
    LaunchInfo info;
    auto launch = [&](cudaStream_t st, int r) {
      const InputSet& s = sets[std::size_t(r) % sets.size()];
      const TensorView to{out.as(), c.kind == Kind::dense ? DType::bf16 : DType::fp16, {c.B, HQ, D}};
      if (c.kind == Kind::dense) {
        info = dense_decode({s.q.as(), DType::bf16, {c.B, 1, HQ, D}}, {s.k.as(), DType::bf16, {c.B, c.T, HKV, D}},
                            {s.v.as(), DType::bf16, {c.B, c.T, HKV, D}}, to, 0.0f, 0, ws, st);
      } else {
        const TensorView tq{s.q.as(), DType::fp16, {c.B, 1, HQ, D}}, tv{s.v.as(), DType::fp16, {c.B, c.T, HKV, D}},
            tr{c.residual ? s.res.as() : nullptr, DType::fp8_e5m2, {c.B, c.T, HKV, D}}, none{};
        if (c.kind == Kind::q2) {
          const std::vector<std::int64_t> ss = c.scale_block ? std::vector<std::int64_t>{c.B, HKV, nsets, D}
                                                             : std::vector<std::int64_t>{c.B, HKV, D};
          info = q2fp8_decode(tq, {s.k.as(), DType::u8, {c.B, c.T, HKV, D / 4}}, {s.scale.as(), DType::fp32, ss},
                              {s.zero.as(), DType::fp32, ss}, tr, tv, none, to, pc, ws, st, c.scale_block);
        } else {
          info = fp8fp8_decode(tq, {s.k.as(), DType::fp8_e5m2, {c.B, c.T, HKV, D}}, tr, tv, none, to, pc, ws, st);
        }
      }
    };
    launch(nullptr, 0);
    DECODE_CUDA_CHECK(cudaDeviceSynchronize());
    const double skip = c.kind == Kind::dense ? 0.0 : skip_ratio(ws, nullptr);
    // ---- accuracy of batch element 0 vs fp32 attention on the unquantised inputs ----
    json acc = json::object();
    {
      const std::size_t slice = std::size_t(c.T) * HKV * D;
      DevBuf qf(std::size_t(HQ) * D * 4), kf(slice * 4), vf(slice * 4), scratch(std::size_t(HQ) * c.T * 4), ref(std::size_t(HQ) * D * 4);
      fill_attention_tensor(gp, 0, DType::fp32, qf.as(), nullptr, 0, 1);
      fill_attention_tensor(gp, 1, DType::fp32, kf.as(), nullptr, 0, 1);
      fill_attention_tensor(gp, 2, DType::fp32, vf.as(), nullptr, 0, 1);
      reference_attention_device(qf.as<float>(), kf.as<float>(), vf.as<float>(), HQ, HKV, c.T, D,
                                 1.0f / std::sqrt(float(D)), scratch.as<float>(), ref.as<float>(), nullptr);
      DECODE_CUDA_CHECK(cudaDeviceSynchronize());
      const auto r = download<float>(ref, std::size_t(HQ) * D);
      const auto bits = download<std::uint16_t>(out, std::size_t(HQ) * D);
      std::vector<float> o(bits.size());
      for (std::size_t i = 0; i < o.size(); ++i) o[i] = c.kind == Kind::dense ? bf16_from_bits(bits[i]) : fp16_from_bits(bits[i]);
      const ErrorStats e = compare(o, r, D);
      acc = {{"cosine", e.cosine}, {"min_row_cosine", e.min_row_cosine}, {"relative_l1", e.relative_l1},
             {"rmse", e.rmse}, {"max_abs", e.max_abs}, {"non_finite", e.non_finite}, {"batch_elements", 1}};
    }
    // ---- timing ----
    bridge::TimingOptions opt;
    opt.warmup = 3;
    opt.repetitions = c.T * std::int64_t(c.B) >= 32 * 32768 ? 15 : 30;
    opt.use_cuda_graph = true;
    opt.rotations = rotations;
    const bridge::TimeStats ts = bridge::time_gpu(launch, opt);
    // ---- cost model with the measured skip ratio ----
    DecodeCostInput ci;
    ci.batch = c.B; ci.q_heads = HQ; ci.kv_heads = HKV; ci.kv_len = c.T; ci.head_dim = D; ci.splits = info.splits;
    ci.sbs = c.sbs; ci.bs = c.bs; ci.scale_block = c.scale_block; ci.skip_fraction = skip;
    ci.use_residual = c.residual; ci.prune = c.kind != Kind::dense && c.prune;
    const DecodeCost cost = c.kind == Kind::dense ? dense_decode_cost(ci) : c.kind == Kind::q2 ? q2fp8_decode_cost(ci)
                                                                                             : fp8fp8_decode_cost(ci);
    const double scan_bytes = double(c.B) * c.T * HKV * (c.kind == Kind::q2 ? D / 4.0 : c.kind == Kind::fp8 ? double(D) : 2.0 * D);
    if (c.kind != Kind::dense) workload["skip_fraction"] = skip;
    bridge::refresh(dev);
    json extra = {{"config", {{"bs", c.bs}, {"sbs", c.sbs}, {"delta_log2", c.delta}, {"prune", c.prune},
                              {"use_fp8_residual", c.residual}, {"scale_block", c.scale_block},
                              {"fused_combine", c.fused}, {"data", c.realistic ? "realistic" : "gaussian"},
                              {"tag", c.tag}}},
                  {"splits", info.splits}, {"ctas", info.ctas}, {"smem_bytes_per_cta", info.smem_bytes},
                  {"rotations", rotations}, {"skip_ratio", skip}, {"accuracy_vs_fp32", acc},
                  {"model_bytes", cost.bytes()}, {"model_flops", cost.flops()},
                  {"stage1", {{"flops", cost.stage1.flops}, {"bytes_read", cost.stage1.bytes_read}, {"bytes_written", cost.stage1.bytes_written}}},
                  {"stage2", {{"flops", cost.stage2.flops}, {"bytes_read", cost.stage2.bytes_read}, {"bytes_written", cost.stage2.bytes_written}}},
                  {"partial_bytes", cost.partial_bytes},
                  // written by stage 1 and read by stage 2: both directions count
                  {"partial_fraction_of_scan_bytes", 2.0 * cost.partial_bytes / scan_bytes},
                  {"achieved_bytes_per_s", cost.bytes() / ts.median_s},
                  {"achieved_flop_per_s", cost.flops() / ts.median_s}};
    writer->append(bridge::make_record("kernels", label, workload, ts, "cuda_graph_events", l2, info.kernels, dev,
                                       json::object(), extra));
    std::printf("  %-16s B=%-2d T=%-6d %-28s splits %-3d skip %.3f  %8.2f us  %6.0f GB/s  cos %.5f\n", label.c_str(),
                c.B, c.T, c.tag.c_str(), info.splits, skip, ts.median_s * 1e6, cost.bytes() / ts.median_s * 1e-9,
                acc["cosine"].get<double>());
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir = ".", profile = "h100_sxm";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) out_dir = argv[++i];
    else if (a == "--profile" && i + 1 < argc) profile = argv[++i];
    else if (a == "--quick") quick = true;
    else { std::fprintf(stderr, "usage: %s --out DIR [--quick] [--profile NAME]\n", argv[0]); return 2; }
  }
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    std::printf("decode_bench: no CUDA device; skipped\n");
    return 2;
  }
  try {
    Runner r;
    r.dev = bridge::query_device_info(0, profile);
    bridge::RecordWriter w(out_dir + "/decode_kernels.jsonl");
    r.writer = &w;
    std::vector<Cfg> cfgs;
    const std::vector<int> Bs = quick ? std::vector<int>{1, 8} : std::vector<int>{1, 8, 32};
    const std::vector<int> Ts = quick ? std::vector<int>{4096, 32768} : std::vector<int>{4096, 32768, 131072};
    for (int B : Bs)
      for (int T : Ts) {
        cfgs.push_back({Kind::dense, B, T});
        cfgs.push_back({Kind::q2, B, T, 5.0f, 64, 64, true, true, true, true, 0, "delta5"});
        cfgs.push_back({Kind::q2, B, T, 5.0f, 64, 64, false, true, true, true, 0, "pruning-off"});
        if (T >= 32768) {
          cfgs.push_back({Kind::fp8, B, T, 5.0f, 64, 64, true, true, true, true, 0, "delta5"});
          cfgs.push_back({Kind::fp8, B, T, 5.0f, 64, 64, false, true, true, true, 0, "pruning-off"});
        }
      }
    const int Bm = 8, Tm = 32768;
    for (float dl : {1.0f, 2.0f, 3.0f, 8.0f, 12.0f})
      cfgs.push_back({Kind::q2, Bm, Tm, dl, 64, 64, true, true, true, true, 0, "delta-sweep"});
    for (auto [bs, sbs] : {std::pair{32, 32}, std::pair{128, 128}, std::pair{128, 32}, std::pair{256, 64}})
      cfgs.push_back({Kind::q2, Bm, Tm, 5.0f, bs, sbs, true, true, true, true, 0, "bs-sweep"});
    cfgs.push_back({Kind::q2, Bm, Tm, 5.0f, 64, 64, true, true, true, true, 64, "block-scales-64"});
    cfgs.push_back({Kind::q2, Bm, Tm, 5.0f, 64, 64, false, true, true, true, 64, "block-scales-64 pruning-off"});
    cfgs.push_back({Kind::q2, Bm, Tm, 5.0f, 64, 64, true, false, true, true, 0, "residual-off"});
    cfgs.push_back({Kind::q2, Bm, Tm, 5.0f, 64, 64, true, true, true, false, 0, "gaussian-data"});
    cfgs.push_back({Kind::q2, 1, Tm, 5.0f, 64, 64, true, true, false, true, 0, "separate-stage2"});
    cfgs.push_back({Kind::fp8, Bm, Tm, 5.0f, 64, 64, true, false, true, true, 0, "residual-off"});
    std::printf("decode_bench: %zu configurations on %s (L2 %lld B)\n", cfgs.size(), r.dev.name.c_str(),
                (long long)r.dev.l2_bytes);
    for (const auto& c : cfgs) r.run(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
