// GPU correctness of the decode kernels, twice per kernel (shared/reference/kernels.md):
//  1. kernel vs CPU reference on the same quantised inputs and the kernel's own keep mask
//     (max |diff| <= 2e-3 + half an output ulp, cosine >= 0.99999), the keep mask vs the reference's
//     (differences only at near-ties), at least one kept sub-block per (b, kv head), bitwise repeatability;
//  2. the quantised pipeline vs fp32 full-precision attention (cosine, rel L1, RMSE, max abs, skip),
//     gated at delta = 5 with the residual: (a) cos >= 0.99, (b) cos >= 0.999; dense bf16 too.
// Random Gaussian and realistic data, fresh seeds per run (--seed to repeat), NaN-poisoned outputs.
// Also: device quantisers bit-exact vs the CPU ones, the fused producer vs its CPU reference.
// Usage: decode_gpu_test [--small] [--seed N] [--out results.jsonl]   (--small: sanitizer-sized cases)
// Exit 0 when every case passes, 1 when one fails, 2 without a GPU.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attention_data.hpp"
#include "decode_api.hpp"
#include "decode_reference.hpp"
#include "gpu_buffers.hpp"
#include "roofline/precision.hpp"

using namespace roofline;
using namespace roofline::validate;
using namespace roofline::validate::decode;
using json = nlohmann::json;

namespace {

struct Outcome {
  std::string name;
  bool pass = true;
  std::vector<std::string> why;
  json metrics = json::object();
  void require(bool ok, const std::string& what) {
    if (!ok) { pass = false; why.push_back(what); }
  }
};

std::uint64_t g_seed = 0;
std::uint64_t next_seed() { return g_seed++; }

json stats_json(const ErrorStats& e) {
  return {{"cosine", e.cosine}, {"min_row_cosine", e.min_row_cosine}, {"relative_l1", e.relative_l1},
          {"rmse", e.rmse}, {"max_abs", e.max_abs}, {"non_finite", e.non_finite}};
}

/// Worst |o − r| / (abs_tol + rel_tol·|r|) over all elements (<= 1 passes).
double tol_ratio(const std::vector<float>& o, const std::vector<float>& r, double abs_tol, double rel_tol) {
  double worst = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (!std::isfinite(o[i])) return INFINITY;
    worst = std::max(worst, std::fabs(double(o[i]) - r[i]) / (abs_tol + rel_tol * std::fabs(double(r[i]))));
  }
  return worst;
}

std::vector<float> fp16_out(const DevBuf& d, std::size_t n) {
  const auto bits = download<std::uint16_t>(d, n);
  std::vector<float> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = fp16_from_bits(bits[i]);
  return r;
}
std::vector<float> bf16_out(const DevBuf& d, std::size_t n) {
  const auto bits = download<std::uint16_t>(d, n);
  std::vector<float> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = bf16_from_bits(bits[i]);
  return r;
}
void poison(DevBuf& d) { DECODE_CUDA_CHECK(cudaMemset(d.as(), 0xFF, d.bytes())); }  // fp16/bf16 NaN

// ---- dense ------------------------------------------------------------------------------------------
Outcome dense_case(const std::string& name, AttentionShape s, bool realistic, int splits) {
  Outcome r{name};
  AttentionDataOptions o;
  o.realistic = realistic;
  o.seed = next_seed();
  const auto d = make_attention_data(s, o);
  const auto q = round_bf16(d.q), k = round_bf16(d.k), v = round_bf16(d.v);
  DevBuf dq = upload(to_bf16_bits(q)), dk = upload(to_bf16_bits(k)), dv = upload(to_bf16_bits(v));
  const std::size_t n_out = std::size_t(s.batch) * s.q_heads * s.head_dim;
  DevBuf dout(n_out * 2);
  poison(dout);
  DecodeWorkspace ws(s.batch, s.q_heads, s.kv_heads, s.head_dim, 0, 256);
  const TensorView tq{dq.as(), DType::bf16, {s.batch, 1, s.q_heads, s.head_dim}},
      tk{dk.as(), DType::bf16, {s.batch, s.kv_len, s.kv_heads, s.head_dim}},
      tv{dv.as(), DType::bf16, {s.batch, s.kv_len, s.kv_heads, s.head_dim}},
      to{dout.as(), DType::bf16, {s.batch, s.q_heads, s.head_dim}};
  const LaunchInfo info = dense_decode(tq, tk, tv, to, 0.0f, splits, ws, nullptr);
  DECODE_CUDA_CHECK(cudaDeviceSynchronize());
  const auto out = bf16_out(dout, n_out);
  const float sc = 1.0f / std::sqrt(float(s.head_dim));
  const auto ref = reference_attention(s, q, k, v, false, sc);
  const ErrorStats e = compare(out, ref, s.head_dim);
  const double ratio = tol_ratio(out, ref, 2e-3, std::ldexp(1.0, -8));  // bf16 output: half an ulp is 2^-9·|x|·2
  r.require(e.non_finite == 0, "non-finite or unwritten outputs");
  r.require(ratio <= 1.0, "max |diff| beyond 2e-3 + 2^-8·|ref| (ratio " + std::to_string(ratio) + ")");
  r.require(e.cosine >= 0.99999, "cosine " + std::to_string(e.cosine) + " < 0.99999");
  // Repeatability: same inputs, bitwise the same output.
  poison(dout);
  dense_decode(tq, tk, tv, to, 0.0f, splits, ws, nullptr);
  DECODE_CUDA_CHECK(cudaDeviceSynchronize());
  r.require(bf16_out(dout, n_out) == out || e.non_finite > 0, "second run differs (race?)");
  const auto full = reference_attention(s, d.q, d.k, d.v, false, sc);
  r.metrics = {{"splits", info.splits}, {"vs_reference", stats_json(e)}, {"tol_ratio", ratio},
               {"vs_fp32", stats_json(compare(out, full, s.head_dim))}};
  return r;
}

// ---- pruned (Q2FP8 / FP8FP8) -----------------------------------------------------------------------
struct PrunedCase {
  std::string name;
  KeyFormat format = KeyFormat::q2fp8;
  AttentionShape shape;
  bool realistic = true;
  PrunedConfig cfg;
  int scale_block = 0;
  int threshold_mode = 0;  ///< 0 none, 1 given (reference thresholds − 1), 2 far above everything
  bool gate = false;       ///< apply the accuracy gate vs fp32 attention
};

Outcome pruned_case(const PrunedCase& c) {
  Outcome r{c.name};
  const AttentionShape& s = c.shape;
  AttentionDataOptions o;
  o.realistic = c.realistic;
  o.seed = next_seed();
  const auto d = make_attention_data(s, o);
  const auto q16 = round_fp16(d.q), v16 = round_fp16(d.v);
  const float sc = 1.0f / std::sqrt(float(s.head_dim));
  const int B = s.batch, HQ = s.q_heads, HKV = s.kv_heads, T = s.kv_len, D = s.head_dim;
  DevBuf dq = upload(to_fp16_bits(q16)), dv = upload(to_fp16_bits(v16));
  DevBuf keys, dscale, dzero, dres;
  ScoreParts scores;
  if (c.format == KeyFormat::q2fp8) {
    const Q2Cache cache = quantize_q2(s, d.k, c.scale_block);
    keys = upload(cache.codes); dscale = upload(cache.scale); dzero = upload(cache.zero); dres = upload(cache.residual);
    scores = reference_scores(q16, cache, sc);
  } else {
    const Fp8Cache cache = quantize_fp8fp8(s, d.k);
    keys = upload(cache.base); dres = upload(cache.residual);
    scores = reference_scores(q16, cache, sc);
  }
  PrunedParams pp;
  pp.bs = c.cfg.bs; pp.sbs = c.cfg.sbs; pp.delta = c.cfg.delta; pp.use_residual = c.cfg.use_fp8_residual;
  pp.prune = c.cfg.prune; pp.softmax_scale = sc;
  std::vector<float> thr;
  if (c.threshold_mode == 1) {
    const auto base = reference_pruned_decode(s, scores, v16, pp);
    thr = base.threshold;
    for (auto& x : thr) x -= 1.0f;
  } else if (c.threshold_mode == 2) {
    thr.assign(std::size_t(B) * HQ, 1e30f);
  }
  pp.threshold = thr;
  DevBuf dthr;
  if (!thr.empty()) dthr = upload(thr);
  const std::size_t n_out = std::size_t(B) * HQ * D;
  const int nsub = sub_blocks(T, c.cfg.sbs);
  DevBuf dout(n_out * 2);
  DecodeWorkspace ws(B, HQ, HKV, D, nsub, 256);
  const TensorView tq{dq.as(), DType::fp16, {B, 1, HQ, D}}, tv{dv.as(), DType::fp16, {B, T, HKV, D}},
      tres{c.cfg.use_fp8_residual ? dres.as() : nullptr, DType::fp8_e5m2, {B, T, HKV, D}},
      tthr{thr.empty() ? nullptr : dthr.as(), DType::fp32, {B, HQ}}, tout{dout.as(), DType::fp16, {B, HQ, D}};
  auto run = [&] {
    poison(dout);
    LaunchInfo info;
    if (c.format == KeyFormat::q2fp8) {
      const std::vector<std::int64_t> sshape = c.scale_block ? std::vector<std::int64_t>{B, HKV, (T + c.scale_block - 1) / c.scale_block, D}
                                                             : std::vector<std::int64_t>{B, HKV, D};
      info = q2fp8_decode(tq, {keys.as(), DType::u8, {B, T, HKV, D / 4}}, {dscale.as(), DType::fp32, sshape},
                          {dzero.as(), DType::fp32, sshape}, tres, tv, tthr, tout, c.cfg, ws, nullptr, c.scale_block);
    } else {
      info = fp8fp8_decode(tq, {keys.as(), DType::fp8_e5m2, {B, T, HKV, D}}, tres, tv, tthr, tout, c.cfg, ws, nullptr);
    }
    DECODE_CUDA_CHECK(cudaDeviceSynchronize());
    return info;
  };
  const LaunchInfo info = run();
  const auto out = fp16_out(dout, n_out);
  std::vector<std::uint8_t> kmask(std::size_t(B) * HKV * nsub);
  DECODE_CUDA_CHECK(cudaMemcpy(kmask.data(), ws.keep, kmask.size(), cudaMemcpyDeviceToHost));
  bool mask_values_ok = true;
  for (auto k : kmask) mask_values_ok &= (k == 0 || k == 1);
  r.require(mask_values_ok, "keep mask holds values other than 0/1 (unwritten entries)");
  for (auto& k : kmask) k = k ? 1 : 0;
  const auto own = reference_pruned_decode(s, scores, v16, pp);
  const auto same = reference_pruned_decode(s, scores, v16, pp, &kmask);
  int hard = 0, soft = 0;
  for (std::size_t i = 0; i < kmask.size(); ++i)
    if (kmask[i] != own.keep[i]) (std::fabs(own.margin[i]) < 1e-3f ? soft : hard)++;
  r.require(hard == 0, std::to_string(hard) + " keep decisions differ from the reference away from ties");
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HKV; ++h) {
      int kept = 0;
      for (int j = 0; j < nsub; ++j) kept += kmask[(std::size_t(b) * HKV + h) * nsub + j];
      if (kept == 0) r.require(false, "a (b, kv head) row kept no sub-block");
    }
  const ErrorStats e = compare(out, same.out, D);
  const double ratio = tol_ratio(out, same.out, 2e-3, std::ldexp(1.0, -11));
  r.require(e.non_finite == 0, "non-finite or unwritten outputs");
  r.require(ratio <= 1.0, "max |diff| beyond 2e-3 + 2^-11·|ref| (ratio " + std::to_string(ratio) + ")");
  r.require(e.cosine >= 0.99999, "cosine " + std::to_string(e.cosine) + " < 0.99999");
  run();
  r.require(fp16_out(dout, n_out) == out || e.non_finite > 0, "second run differs (race?)");
  const auto full = reference_attention(s, d.q, d.k, d.v, false, sc);
  const ErrorStats ef = compare(out, full, D);
  std::size_t kept = 0;
  for (auto k : kmask) kept += k;
  const double skip = 1.0 - double(kept) / double(kmask.size());
  if (c.gate) {
    const double need = c.format == KeyFormat::q2fp8 ? 0.99 : 0.999;
    r.require(ef.cosine >= need, "accuracy gate: cosine vs fp32 attention " + std::to_string(ef.cosine) + " < " +
                                     std::to_string(need));
  }
  r.metrics = {{"splits", info.splits}, {"kernels", info.kernels}, {"skip_ratio", skip},
               {"reference_skip_ratio", own.skip_ratio}, {"near_tie_mask_differences", soft},
               {"vs_reference_same_mask", stats_json(e)}, {"tol_ratio", ratio}, {"vs_fp32", stats_json(ef)},
               {"gated", c.gate}};
  return r;
}

// ---- quantisers and producer ----------------------------------------------------------------------
Outcome quantiser_case(const std::string& name, AttentionShape s, int scale_block) {
  Outcome r{name};
  AttentionDataOptions o;
  o.seed = next_seed();
  const auto d = make_attention_data(s, o);
  DevBuf dk = upload(d.k);
  const std::size_t n = d.k.size();
  const Q2Cache c = quantize_q2(s, d.k, scale_block);
  DevBuf codes(n / 4), res(n), scale(c.scale.size() * 4), zero(c.zero.size() * 4), stats(c.scale.size() * 8);
  quantize_q2_device(dk.as<float>(), s.batch, s.kv_len, s.kv_heads, s.head_dim, scale_block, codes.as<std::uint8_t>(),
                     scale.as<float>(), zero.as<float>(), res.as<std::uint8_t>(), stats.as<unsigned>(), nullptr);
  DECODE_CUDA_CHECK(cudaDeviceSynchronize());
  r.require(download<std::uint8_t>(codes, n / 4) == c.codes, "2-bit codes differ from the CPU quantiser");
  r.require(download<std::uint8_t>(res, n) == c.residual, "e5m2 residuals differ from the CPU quantiser");
  r.require(download<float>(scale, c.scale.size()) == c.scale, "scales differ");
  r.require(download<float>(zero, c.zero.size()) == c.zero, "zeros differ");
  const Fp8Cache f = quantize_fp8fp8(s, d.k);
  DevBuf base(n), res2(n);
  quantize_fp8fp8_device(dk.as<float>(), std::int64_t(n), base.as<std::uint8_t>(), res2.as<std::uint8_t>(), nullptr);
  DECODE_CUDA_CHECK(cudaDeviceSynchronize());
  r.require(download<std::uint8_t>(base, n) == f.base, "fp8 base differs from the CPU quantiser");
  r.require(download<std::uint8_t>(res2, n) == f.residual, "fp8 residual differs from the CPU quantiser");
  return r;
}

Outcome producer_case(const std::string& name, AttentionShape s, int hidden, bool q2, int scale_block) {
  Outcome r{name};
  std::mt19937 rng{static_cast<unsigned>(next_seed())};
  std::normal_distribution<float> nd(0, 1);
  const int B = s.batch, T = s.kv_len, HKV = s.kv_heads, D = s.head_dim;
  std::vector<float> x(std::size_t(B) * T * hidden), w(std::size_t(HKV) * D * hidden);
  for (auto& e : x) e = round_to_bf16(nd(rng));
  for (auto& e : w) e = round_to_bf16(nd(rng) / std::sqrt(float(hidden)));
  std::vector<float> cs, sn;
  rope_tables(T, D, 10000.0, 0, cs, sn);
  DevBuf dx = upload(to_bf16_bits(x)), dw = upload(to_bf16_bits(w)), dc = upload(cs), ds = upload(sn);
  const std::size_t n = std::size_t(B) * T * HKV * D;
  const int nsets = scale_block ? (T + scale_block - 1) / scale_block : 1;
  DevBuf codes(n / 4), res(n), base(n), scale(std::size_t(B) * HKV * nsets * D * 4), zero(scale.bytes()),
      stats(scale.bytes() * 2), kdbg(n * 4);
  ProducerArgs a;
  a.x = dx.as(); a.w = dw.as(); a.cos_table = dc.as<float>(); a.sin_table = ds.as<float>();
  a.batch = B; a.kv_len = T; a.hidden = hidden; a.kv_heads = HKV; a.head_dim = D; a.q2 = q2; a.scale_block = scale_block;
  a.codes = codes.as<std::uint8_t>(); a.scale = scale.as<float>(); a.zero = zero.as<float>(); a.stats = stats.as<unsigned>();
  a.base = base.as<std::uint8_t>(); a.residual = res.as<std::uint8_t>(); a.k_debug = kdbg.as<float>();
  kproj_rope_quantize(a, nullptr);
  DECODE_CUDA_CHECK(cudaDeviceSynchronize());
  const auto kg = download<float>(kdbg, n);
  const auto kref = reference_kproj_rope(s, hidden, x, w, cs, sn);
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(kg[i]) - kref[i]) / (1e-3 + 1e-3 * std::fabs(kref[i])));
  r.require(worst <= 1.0, "projected+RoPE K differs from the fp64 reference beyond 1e-3 (ratio " + std::to_string(worst) + ")");
  if (q2) {
    const Q2Cache c = quantize_q2(s, kg, scale_block);  // the CPU quantiser on the kernel's own K: bit-exact
    r.require(download<std::uint8_t>(codes, n / 4) == c.codes, "producer codes differ from quantize_q2(K)");
    r.require(download<std::uint8_t>(res, n) == c.residual, "producer residuals differ from quantize_q2(K)");
    r.require(download<float>(scale, c.scale.size()) == c.scale, "producer scales differ");
  } else {
    const Fp8Cache c = quantize_fp8fp8(s, kg);
    r.require(download<std::uint8_t>(base, n) == c.base, "producer fp8 base differs");
    r.require(download<std::uint8_t>(res, n) == c.residual, "producer fp8 residual differs");
  }
  r.metrics = {{"k_tol_ratio", worst}};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool small = false;
  std::string out_path;
  g_seed = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) & 0xFFFFFFFFull;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--small") small = true;
    else if (a == "--seed" && i + 1 < argc) g_seed = std::stoull(argv[++i]);
    else if (a == "--out" && i + 1 < argc) out_path = argv[++i];
    else { std::fprintf(stderr, "usage: %s [--small] [--seed N] [--out file.jsonl]\n", argv[0]); return 2; }
  }
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    std::printf("decode_gpu_test: no CUDA device; skipped\n");
    return 2;
  }
  std::printf("decode_gpu_test: first seed %llu%s\n", (unsigned long long)g_seed, small ? " (small cases)" : "");
  std::vector<std::function<Outcome()>> cases;
  const AttentionShape tiny{.batch = 1, .q_heads = 8, .kv_heads = 2, .q_len = 1, .kv_len = 300, .head_dim = 128};
  const AttentionShape mid{.batch = 2, .q_heads = 32, .kv_heads = 8, .q_len = 1, .kv_len = small ? 300 : 2125, .head_dim = 128};
  const AttentionShape d64{.batch = 2, .q_heads = 32, .kv_heads = 8, .q_len = 1, .kv_len = small ? 200 : 1111, .head_dim = 64};
  const AttentionShape g8{.batch = 1, .q_heads = 64, .kv_heads = 8, .q_len = 1, .kv_len = small ? 200 : 1500, .head_dim = 128};
  // dense
  cases.push_back([&] { return dense_case("dense bf16 random auto-splits", small ? tiny : mid, false, 0); });
  cases.push_back([&] { return dense_case("dense bf16 realistic 7 splits", small ? tiny : mid, true, 7); });
  cases.push_back([&] { return dense_case("dense bf16 realistic 1 split", tiny, true, 1); });
  if (!small) {
    cases.push_back([&] { return dense_case("dense bf16 D=64", d64, true, 0); });
    cases.push_back([&] { return dense_case("dense bf16 G=8", g8, false, 0); });
  }
  // pruned
  auto add = [&](PrunedCase c) { cases.push_back([c] { return pruned_case(c); }); };
  for (KeyFormat f : {KeyFormat::q2fp8, KeyFormat::fp8fp8}) {
    const std::string fn = f == KeyFormat::q2fp8 ? "q2fp8" : "fp8fp8";
    for (bool realistic : {true, false}) {
      PrunedCase c;
      c.format = f; c.shape = small ? tiny : mid; c.realistic = realistic; c.gate = true;
      c.name = fn + (realistic ? " realistic" : " random") + " delta=5 BS=SBS=64 (gated)";
      add(c);
    }
    PrunedCase c;
    c.format = f; c.shape = small ? tiny : mid;
    c.cfg.fused_combine = false; c.cfg.num_splits = 5;
    c.name = fn + " separate stage-2 kernel, 5 splits";
    add(c);
    c = PrunedCase{}; c.format = f; c.shape = small ? tiny : mid; c.cfg.prune = false;
    c.name = fn + " pruning off";
    add(c);
    c = PrunedCase{}; c.format = f; c.shape = small ? tiny : mid; c.cfg.use_fp8_residual = false;
    c.name = fn + " residual off";
    add(c);
    c = PrunedCase{}; c.format = f; c.shape = small ? tiny : mid; c.threshold_mode = 2;
    c.name = fn + " precomputed threshold above everything (guarantee)";
    add(c);
    if (small) continue;
    c = PrunedCase{}; c.format = f; c.shape = mid; c.threshold_mode = 1;
    c.name = fn + " precomputed threshold";
    add(c);
    c = PrunedCase{}; c.format = f; c.shape = mid; c.cfg.delta = 0;
    c.name = fn + " delta=0";
    add(c);
    for (auto [bs, sbs] : {std::pair{32, 32}, std::pair{128, 128}, std::pair{256, 64}, std::pair{128, 32}}) {
      c = PrunedCase{}; c.format = f; c.shape = mid; c.cfg.bs = bs; c.cfg.sbs = sbs;
      c.name = fn + " BS=" + std::to_string(bs) + " SBS=" + std::to_string(sbs);
      add(c);
    }
    c = PrunedCase{}; c.format = f; c.shape = d64; c.name = fn + " D=64"; add(c);
    c = PrunedCase{}; c.format = f; c.shape = g8; c.name = fn + " G=8"; add(c);
    c = PrunedCase{}; c.format = f; c.shape = mid; c.cfg.num_splits = 1; c.name = fn + " one split"; add(c);
  }
  {
    PrunedCase c;
    c.shape = small ? tiny : mid; c.scale_block = 64; c.gate = true;
    c.name = "q2fp8 block-wise scales (64) delta=5 (gated)";
    add(c);
    c.cfg.sbs = 32; c.cfg.bs = 64; c.scale_block = 128; c.gate = false;
    c.name = "q2fp8 block-wise scales (128) SBS=32";
    if (!small) add(c);
  }
  cases.push_back([&] { return quantiser_case("device quantisers bit-exact (whole sequence)", small ? tiny : mid, 0); });
  cases.push_back([&] { return quantiser_case("device quantisers bit-exact (block 64)", small ? tiny : mid, 64); });
  const AttentionShape prod{.batch = 2, .q_heads = 8, .kv_heads = 2, .q_len = 1, .kv_len = small ? 70 : 300, .head_dim = 128};
  cases.push_back([&] { return producer_case("producer K-proj+RoPE+Q2 (whole sequence)", prod, 256, true, 0); });
  cases.push_back([&] { return producer_case("producer K-proj+RoPE+Q2 (block 64)", prod, 256, true, 64); });
  cases.push_back([&] { return producer_case("producer K-proj+RoPE+FP8FP8", prod, 256, false, 0); });
  if (!small) {
    const AttentionShape p64{.batch = 1, .q_heads = 8, .kv_heads = 2, .q_len = 1, .kv_len = 200, .head_dim = 64};
    cases.push_back([&, p64] { return producer_case("producer D=64", p64, 512, true, 0); });  // p64 dies with this block
  }

  std::ofstream jl;
  if (!out_path.empty()) jl.open(out_path, std::ios::app);
  int failed = 0, passed = 0;
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    Outcome r;
    try {
      r = cases[ci]();
    } catch (const std::exception& e) {
      r.name = "case " + std::to_string(ci) + " (threw)";
      r.pass = false;
      r.why.push_back(std::string("exception: ") + e.what());
    }
    (r.pass ? passed : failed)++;
    std::printf("%s  %s\n", r.pass ? "PASS" : "FAIL", r.name.c_str());
    for (const auto& w : r.why) std::printf("      %s\n", w.c_str());
    if (r.metrics.contains("vs_fp32"))
      std::printf("      vs fp32: cos %.6f relL1 %.4g max %.4g%s\n", r.metrics["vs_fp32"]["cosine"].get<double>(),
                  r.metrics["vs_fp32"]["relative_l1"].get<double>(), r.metrics["vs_fp32"]["max_abs"].get<double>(),
                  r.metrics.contains("skip_ratio")
                      ? (" skip " + std::to_string(r.metrics["skip_ratio"].get<double>())).c_str() : "");
    if (jl) jl << json{{"case", r.name}, {"pass", r.pass}, {"problems", r.why}, {"metrics", r.metrics}}.dump() << "\n";
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
