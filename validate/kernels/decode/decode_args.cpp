// Argument checks and split planning of the decode kernels; see decode_args.hpp.
#include "decode_args.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "roofline/errors.hpp"

namespace roofline::validate::decode {
namespace {
std::string shape_str(const std::vector<std::int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

[[noreturn]] void fail(const std::string& fn, const std::string& what) { throw InvalidArgumentError(fn + ": " + what); }

void expect(const std::string& fn, const char* name, const TensorView& t, DType dtype,
            const std::vector<std::int64_t>& shape) {
  if (t.data == nullptr) fail(fn, std::string(name) + ": null data pointer");
  if (t.dtype != dtype)
    fail(fn, std::string(name) + ": expected dtype " + to_string(dtype) + ", got " + to_string(t.dtype));
  if (t.shape != shape) fail(fn, std::string(name) + ": expected shape " + shape_str(shape) + ", got " + shape_str(t.shape));
}

/// Reads B, HQ, D from q [B, 1, HQ, D] and T, HKV from a [B, T, HKV, *] tensor.
void dims(const std::string& fn, const TensorView& q, const TensorView& kv, std::int64_t& B, std::int64_t& HQ,
          std::int64_t& D, std::int64_t& T, std::int64_t& HKV) {
  if (q.shape.size() != 4 || q.shape[1] != 1)
    fail(fn, "q: expected shape [B, 1, HQ, D], got " + shape_str(q.shape));
  if (kv.shape.size() != 4) fail(fn, "keys: expected shape [B, T, HKV, *], got " + shape_str(kv.shape));
  B = q.shape[0]; HQ = q.shape[2]; D = q.shape[3]; T = kv.shape[1]; HKV = kv.shape[2];
  if (B <= 0 || HQ <= 0 || D <= 0 || T <= 0 || HKV <= 0) fail(fn, "every dimension must be > 0");
  if (HQ % HKV != 0) fail(fn, "q heads (" + std::to_string(HQ) + ") must be a multiple of kv heads (" + std::to_string(HKV) + ")");
  const std::int64_t G = HQ / HKV;
  if (G != 1 && G != 2 && G != 4 && G != 8) fail(fn, "GQA group size must be 1, 2, 4 or 8, got " + std::to_string(G));
  if (D != 64 && D != 128) fail(fn, "head_dim must be 64 or 128, got " + std::to_string(D));
  if (T > (std::int64_t(1) << 30)) fail(fn, "kv length too large");
}

void check_config(const std::string& fn, const PrunedConfig& c) {
  if (c.sbs != 32 && c.sbs != 64 && c.sbs != 128) fail(fn, "SBS must be 32, 64 or 128, got " + std::to_string(c.sbs));
  if (c.bs <= 0 || c.bs % c.sbs != 0)
    fail(fn, "BS must be a positive multiple of SBS (" + std::to_string(c.sbs) + "), got " + std::to_string(c.bs));
  if (!(c.delta >= 0) || !std::isfinite(c.delta)) fail(fn, "delta must be finite and >= 0 (log2 units)");
  if (c.softmax_scale < 0 || !std::isfinite(c.softmax_scale)) fail(fn, "softmax_scale must be >= 0 (0: 1/sqrt(D))");
  if (c.num_splits < 0) fail(fn, "num_splits must be >= 0 (0: automatic)");
}

PrunedLaunch finish(KeyFormat f, std::int64_t B, std::int64_t HQ, std::int64_t HKV, std::int64_t T, std::int64_t D,
                    const PrunedConfig& c) {
  PrunedLaunch l;
  l.format = f;
  l.batch = int(B); l.q_heads = int(HQ); l.kv_heads = int(HKV); l.group = int(HQ / HKV);
  l.kv_len = int(T); l.head_dim = int(D);
  l.sub_blocks = int((T + c.sbs - 1) / c.sbs);
  l.blocks = int((T + c.bs - 1) / c.bs);
  const float sc = c.softmax_scale > 0 ? c.softmax_scale : 1.0f / std::sqrt(float(D));
  l.log2e_scale = sc * 1.4426950408889634f;
  l.config = c;
  return l;
}
}  // namespace

const char* to_string(DType t) {
  switch (t) {
    case DType::u8: return "u8";
    case DType::fp8_e5m2: return "fp8_e5m2";
    case DType::fp16: return "fp16";
    case DType::bf16: return "bf16";
    case DType::fp32: return "fp32";
  }
  return "?";
}

PrunedLaunch check_q2fp8_args(const TensorView& q, const TensorView& k_q, const TensorView& k_scale,
                              const TensorView& k_zero, const TensorView& k_residual, const TensorView& v,
                              const TensorView& threshold, const TensorView& out, const PrunedConfig& config,
                              int scale_block) {
  const std::string fn = "q2fp8_decode";
  check_config(fn, config);
  std::int64_t B, HQ, D, T, HKV;
  dims(fn, q, k_q, B, HQ, D, T, HKV);
  expect(fn, "q", q, DType::fp16, {B, 1, HQ, D});
  expect(fn, "k_q", k_q, DType::u8, {B, T, HKV, D / 4});
  if (scale_block < 0) fail(fn, "scale_block must be >= 0");
  std::int64_t nsb = 1;
  if (scale_block > 0) {
    if (scale_block % 16 != 0) fail(fn, "scale_block must be a multiple of 16, got " + std::to_string(scale_block));
    nsb = (T + scale_block - 1) / scale_block;
    expect(fn, "k_scale", k_scale, DType::fp32, {B, HKV, nsb, D});
    expect(fn, "k_zero", k_zero, DType::fp32, {B, HKV, nsb, D});
  } else {
    expect(fn, "k_scale", k_scale, DType::fp32, {B, HKV, D});
    expect(fn, "k_zero", k_zero, DType::fp32, {B, HKV, D});
  }
  if (config.use_fp8_residual || k_residual.data != nullptr) {
    if (config.use_fp8_residual && k_residual.data == nullptr) fail(fn, "use_fp8_residual=true requires k_residual");
    expect(fn, "k_residual", k_residual, DType::fp8_e5m2, {B, T, HKV, D});
  }
  expect(fn, "v", v, DType::fp16, {B, T, HKV, D});
  if (threshold.data != nullptr) expect(fn, "precomputed_threshold", threshold, DType::fp32, {B, HQ});
  expect(fn, "out", out, DType::fp16, {B, HQ, D});
  PrunedLaunch l = finish(KeyFormat::q2fp8, B, HQ, HKV, T, D, config);
  l.scale_block = scale_block;
  l.scale_blocks = int(nsb);
  l.has_threshold = threshold.data != nullptr;
  return l;
}

PrunedLaunch check_fp8fp8_args(const TensorView& q, const TensorView& k_base, const TensorView& k_residual,
                               const TensorView& v, const TensorView& threshold, const TensorView& out,
                               const PrunedConfig& config) {
  const std::string fn = "fp8fp8_decode";
  check_config(fn, config);
  std::int64_t B, HQ, D, T, HKV;
  dims(fn, q, k_base, B, HQ, D, T, HKV);
  expect(fn, "q", q, DType::fp16, {B, 1, HQ, D});
  expect(fn, "k_base", k_base, DType::fp8_e5m2, {B, T, HKV, D});
  if (config.use_fp8_residual || k_residual.data != nullptr) {
    if (config.use_fp8_residual && k_residual.data == nullptr) fail(fn, "use_fp8_residual=true requires k_residual");
    expect(fn, "k_residual", k_residual, DType::fp8_e5m2, {B, T, HKV, D});
  }
  expect(fn, "v", v, DType::fp16, {B, T, HKV, D});
  if (threshold.data != nullptr) expect(fn, "precomputed_threshold", threshold, DType::fp32, {B, HQ});
  expect(fn, "out", out, DType::fp16, {B, HQ, D});
  PrunedLaunch l = finish(KeyFormat::fp8fp8, B, HQ, HKV, T, D, config);
  l.has_threshold = threshold.data != nullptr;
  return l;
}

DenseLaunch check_dense_args(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                             float softmax_scale, int num_splits) {
  const std::string fn = "dense_decode";
  std::int64_t B, HQ, D, T, HKV;
  dims(fn, q, k, B, HQ, D, T, HKV);
  if (q.dtype != DType::bf16 && q.dtype != DType::fp16) fail(fn, std::string("q: expected dtype bf16 or fp16, got ") + to_string(q.dtype));
  expect(fn, "q", q, q.dtype, {B, 1, HQ, D});
  expect(fn, "k", k, q.dtype, {B, T, HKV, D});
  expect(fn, "v", v, q.dtype, {B, T, HKV, D});
  expect(fn, "out", out, q.dtype, {B, HQ, D});
  if (softmax_scale < 0 || !std::isfinite(softmax_scale)) fail(fn, "softmax_scale must be >= 0 (0: 1/sqrt(D))");
  if (num_splits < 0) fail(fn, "num_splits must be >= 0 (0: automatic)");
  DenseLaunch l;
  l.batch = int(B); l.q_heads = int(HQ); l.kv_heads = int(HKV); l.group = int(HQ / HKV);
  l.kv_len = int(T); l.head_dim = int(D); l.dtype = q.dtype; l.num_splits = num_splits;
  const float sc = softmax_scale > 0 ? softmax_scale : 1.0f / std::sqrt(float(D));
  l.log2e_scale = sc * 1.4426950408889634f;
  return l;
}

SplitPlan plan_splits(int units, int rows, int resident_ctas, int min_units_per_split, int max_splits) {
  if (units <= 0 || rows <= 0 || resident_ctas <= 0 || min_units_per_split <= 0 || max_splits <= 0)
    throw InvalidArgumentError("plan_splits: every argument must be > 0");
  int s = int(std::lround(double(resident_ctas) / rows));
  s = std::min({std::max(s, 1), std::max(1, units / min_units_per_split), max_splits});
  SplitPlan p;
  p.units_per_split = (units + s - 1) / s;
  p.splits = (units + p.units_per_split - 1) / p.units_per_split;  // no empty split
  return p;
}

int max_splits_for_partials(int kv_len, int q_heads, int kv_heads, int head_dim, double scan_bytes_per_token,
                            double fraction) {
  const double scan = double(kv_len) * kv_heads * scan_bytes_per_token;
  const double per_split = double(q_heads) * (head_dim + 2) * 4.0;
  return std::max(1, int(std::floor(fraction * scan / per_split)));
}

}  // namespace roofline::validate::decode
