#include "roofline/roofline.hpp"

#include "roofline/errors.hpp"

#include "roofline/flash_attention.hpp"

#include "detail/fast_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>

namespace roofline {

std::string_view to_string(Bound b) {
  switch (b) {
    case Bound::memory: return "memory";
    case Bound::compute: return "compute";
    case Bound::latency: return "latency";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const KernelParams& p) {
  return os << "KernelParams{fixed " << p.fixed_s * 1e6 << " us, mem " << p.memory_efficiency_fraction << ", compute "
            << p.compute_efficiency_fraction << ", p " << p.overlap_exponent << ", occupancy " << p.occupancy_fraction
            << ", serial step " << p.serial_step_s * 1e6 << " us, burst " << p.burst_s * 1e3 << " ms"
            << ", interval [" << p.interval_low_fraction << ", " << p.interval_high_fraction << "], "
            << to_string(p.provenance) << ", " << p.records << " records}";
}

std::ostream& operator<<(std::ostream& os, const Prediction& p) {
  return os << "Prediction{" << p.time_s * 1e6 << " us [" << p.interval_low_s * 1e6 << ", " << p.interval_high_s * 1e6
            << "], " << to_string(p.bound) << ", compute " << p.compute_s * 1e6 << " us, memory " << p.memory_s * 1e6
            << " us, fixed " << p.fixed_s * 1e6 << " us, AI " << p.intensity_flop_per_byte << "}";
}

namespace {
// param_key, inlined into predict().
inline ParamKey key_of(const Op& op) {
  ParamKey k;
  k.kernel = op.kernel;
  k.math = op.math;
  const bool attention = op.kernel == KernelClass::attention_prefill || op.kernel == KernelClass::attention_decode;
  k.attention = attention ? op.attention_kernel : AttentionKernel::fa2;
  if (op.kernel == KernelClass::elementwise) k.op = op.type;
  return k;
}
}  // namespace

ParamKey param_key(const Op& op) { return key_of(op); }

std::vector<ParamKey> all_param_keys() {
  std::vector<ParamKey> keys;
  for (std::size_t ki = 0; ki < kernel_class_count; ++ki) {
    const auto kc = KernelClass(ki);
    for (std::size_t mi = 0; mi < math_path_count; ++mi) {
      const auto mp = MathPath(mi);
      if (kc == KernelClass::attention_prefill || kc == KernelClass::attention_decode) {
        for (std::size_t ai = 0; ai < attention_kernel_count; ++ai) keys.push_back({kc, mp, AttentionKernel(ai)});
      } else if (kc == KernelClass::elementwise) {
        for (std::size_t oi = 0; oi < operator_type_count; ++oi)
          keys.push_back({kc, mp, AttentionKernel::fa2, OperatorType(oi)});
      } else {
        keys.push_back({kc, mp});
      }
    }
  }
  return keys;
}

ParamKey parse_param_key(std::string_view text) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (c == '/') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  const std::string bad = "not a parameter key (class/math[/variant]): '" + std::string(text) + "'";
  if (parts.size() < 2 || parts.size() > 3) throw InvalidArgumentError(bad);
  ParamKey k;
  try {
    k.kernel = parse_kernel_class(parts[0]);
  } catch (const Error&) {
    throw InvalidArgumentError(bad);
  }
  try {
    k.math = parse_math_path(parts[1]);
  } catch (const Error&) {
    throw InvalidArgumentError(bad);
  }
  const bool attention = k.kernel == KernelClass::attention_prefill || k.kernel == KernelClass::attention_decode;
  if (parts.size() == 3) {
    try {
      if (attention) k.attention = parse_attention_kernel(parts[2]);
      else if (k.kernel == KernelClass::elementwise) k.op = parse_operator_type(parts[2]);
      else throw InvalidArgumentError(bad);
    } catch (const Error&) {
      throw InvalidArgumentError(bad);
    }
  }
  return k;
}

std::string to_string(const ParamKey& k) {
  std::string s = std::string(to_string(k.kernel)) + "/" + std::string(to_string(k.math));
  if (k.kernel == KernelClass::attention_prefill || k.kernel == KernelClass::attention_decode)
    s += "/" + std::string(to_string(k.attention));
  if (k.kernel == KernelClass::elementwise) s += "/" + std::string(to_string(k.op));
  return s;
}

Calibration Calibration::priors(const HardwareSpec& hw) {
  Calibration c;
  c.gpu_ = hw.name;
  c.status_ = "prior";
  // Compute efficiencies of large GEMMs per math path: 16-bit 0.75 (H100 cuBLAS bf16 8192³ 700-785 of
  // 989 TFLOP/s), fp8 0.65 (1276-1421 of 1979), both ../shared/reference/hardware.md; fp4 0.30
  // (modeling.md lesson 4); int8 as fp8 and fp32 SIMT 0.6: inferred.
  auto gemm_efficiency = [](MathPath m) {
    switch (m) {
      case MathPath::tc_16bit: return 0.75;
      case MathPath::tc_fp8: return 0.65;
      case MathPath::tc_int8: return 0.65;
      case MathPath::tc_fp4: return 0.30;
      case MathPath::tc_int4: return 0.5;
      case MathPath::simt_fp32: return 0.6;
    }
    return 0.5;
  };
  for (const ParamKey& key : all_param_keys()) {
    {
      {
        const auto kc = key.kernel;
        const auto mp = key.math;
        const auto ak = key.attention;
        KernelParams p;
        p.provenance = Provenance::inferred;
        // Streaming ceiling: 92% of 3.35 TB/s on H100 and 90% of 4.8 on H200 (hardware.md).
        p.memory_efficiency_fraction = 0.9;
        p.compute_efficiency_fraction = gemm_efficiency(mp);
        p.fixed_s = 3e-6;  // "small elementwise kernels cost a few microseconds each" (hardware.md)
        switch (kc) {
          case KernelClass::gemm: p.memory_efficiency_fraction = 0.85; break;
          case KernelClass::attention_prefill:
            // Per attention kernel (flash_attention.hpp: published throughputs read through its model).
            p.compute_efficiency_fraction = attention_prior_compute_efficiency(ak, mp, hw);
            p.fixed_s = 5e-6;
            break;
          case KernelClass::attention_decode:
            p.compute_efficiency_fraction = attention_prior_compute_efficiency(ak, mp, hw, /*prefill=*/false);
            p.memory_efficiency_fraction = 0.85;  // good decode kernels: 85-92% of HBM bandwidth (kernels.md)
            p.fixed_s = 4e-6;
            break;
          case KernelClass::elementwise: p.memory_efficiency_fraction = 0.8; break;
          case KernelClass::norm: p.memory_efficiency_fraction = 0.7; break;
          case KernelClass::embedding: p.memory_efficiency_fraction = 0.5; break;
          case KernelClass::allreduce:
            p.memory_efficiency_fraction = 0.7;  // of NVLink per-direction bandwidth (inferred)
            p.fixed_s = 10e-6;
            break;
        }
        c.table_[index(key)] = p;
      }
    }
  }
  return c;
}

namespace {
constexpr double streaming_latency_unit_s = 2e-6;
// ceil for non-negative values below 2^53 through a truncating conversion (baseline x86-64 has no
// rounding instruction, and std::ceil becomes a library call on the hot path).
inline double ceil_nonneg(double x) {
  const double t = double(std::int64_t(x));
  return t < x ? t + 1.0 : t;
}
// ceil(x / 2^shift) of a size, in integers: tiles of 2^shift along a side of x (0 for x <= 0). Equal to the
// floating-point ceiling for sizes below 2^53.
inline double tiles_along(std::int64_t x, int shift) {
  return x > 0 ? double(std::int64_t((std::uint64_t(x) - 1) >> shift) + 1) : 0.0;
}
}  // namespace

double gemm_compute_s(const GemmShape& g, double flop_per_s, double efficiency, int sm_count, int max_split,
                      double tile_overhead_k_elements) {
  // Tile shapes of cuBLAS-class kernels (M × N); split-K only while the tiles leave SMs idle.
  // Floating-point ceilings instead of 64-bit integer divisions: this runs once per GEMM prediction.
  // Tiles (M × N) of cuBLASLt's Hopper kernels: skinny products run narrow-M tiles (kernel names such as
  // nvjet_sm90_tst_64x8 on an H100: 8 rows of M by 64 of N), so small M is not padded to 64 or 128.
  static constexpr double tiles[][2] = {{128, 256}, {256, 128}, {128, 128}, {64, 128}, {32, 64}, {16, 64}, {8, 64}};
  static constexpr double splits[] = {1, 2, 4, 8};
  const double sms = double(sm_count);
  const double per_sm = flop_per_s * efficiency / sms;
  const double m = double(g.m), n = double(g.n), k = double(g.k), groups = double(g.groups);
  double best = std::numeric_limits<double>::infinity();
  for (const auto& t : tiles) {
    const double count = ceil_nonneg(m / t[0]) * ceil_nonneg(n / t[1]) * groups;
    const double tile_flops = 2.0 * t[0] * t[1] / per_sm;
    for (double s : splits) {
      if (s > double(max_split) || (s > 1 && (count * (s / 2) >= sms || k / s < 256))) break;
      const double waves = ceil_nonneg(count * s / sms);
      best = std::min(best, waves * tile_flops * (ceil_nonneg(k / s) + tile_overhead_k_elements));
    }
  }
  return best;
}

namespace {
// gemm_compute_s with max_split 1 and 8 in one pass over the tiles (the hot path computes both), with the
// same results bit for bit and at most one division per tile instead of about four:
//  - tile sides and split factors are powers of two: x / 2^j is x · 2^-j exactly;
//  - a candidate costs waves · (2·tm·tn / per_sm) · K, where 2·tm·tn / per_sm is (2·tm·tn) · (1 / per_sm)
//    exactly (scaling by a power of two commutes with rounding), so for one K (one split factor) the
//    cheapest candidate is the one with the fewest waves · 2·tm·tn (an integer, exact in a double) and
//    the rounded products need only be formed once per split factor;
//  - a split factor s is tried only while count · s / 2 < SMs, so its ceil(count · s / SMs) is 1 when
//    count · s <= SMs and 2 otherwise.
void gemm_compute_one_and_split(const GemmShape& g, double flop_per_s, double efficiency, int sm_count,
                                double tile_overhead_k_elements, double& one_kernel, double& split_k) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const double sms = double(sm_count);
  const double per_sm = flop_per_s * efficiency / sms;
  const double inv_per_sm = 1.0 / per_sm;
  const double k = double(g.k), groups = double(g.groups);
  const double m8 = tiles_along(g.m, 3), m16 = tiles_along(g.m, 4), m32 = tiles_along(g.m, 5),
               m64 = tiles_along(g.m, 6), m128 = tiles_along(g.m, 7), m256 = tiles_along(g.m, 8);
  const double n64 = tiles_along(g.n, 6), n128 = tiles_along(g.n, 7), n256 = tiles_along(g.n, 8);
  // gemm_compute_s's seven tiles from the smallest to the largest: a tile's one-kernel cost is at least its
  // area (one wave), so once a smaller tile costs less than that, a larger one needs no division.
  const double count[7] = {m8 * n64 * groups,    m16 * n64 * groups,   m32 * n64 * groups,  m64 * n128 * groups,
                           m128 * n128 * groups, m128 * n256 * groups, m256 * n128 * groups};
  constexpr double area[7] = {2.0 * 8 * 64,    2.0 * 16 * 64,   2.0 * 32 * 64,  2.0 * 64 * 128,
                              2.0 * 128 * 128, 2.0 * 128 * 256, 2.0 * 256 * 128};  // 2·tm·tn
  // Split factors 2, 4, 8 stop where k / s < 256, and for a tile where count · s / 2 >= SMs.
  const int split_limit = k * 0.5 < 256 ? 0 : k * 0.25 < 256 ? 1 : k * 0.125 < 256 ? 2 : 3;
  double best1 = inf, best_split[3] = {inf, inf, inf};  // the fewest waves · 2·tm·tn per split factor
  for (int t = 0; t < 7; ++t) {
    const double c = count[t];  // zero for every tile or for none
    if (area[t] < best1) best1 = std::min(best1, ceil_nonneg(c / sms) * area[t]);
    if (split_limit == 0 || !(c < sms) || !(c > 0)) continue;  // c = 0: no tiles, no split
    best_split[0] = std::min(best_split[0], (2 * c <= sms ? 1.0 : 2.0) * area[t]);
    if (split_limit == 1 || !(2 * c < sms)) continue;
    best_split[1] = std::min(best_split[1], (4 * c <= sms ? 1.0 : 2.0) * area[t]);
    if (split_limit == 2 || !(4 * c < sms)) continue;
    best_split[2] = std::min(best_split[2], (8 * c <= sms ? 1.0 : 2.0) * area[t]);
  }
  one_kernel = best1 * inv_per_sm * (k + tile_overhead_k_elements);
  split_k = one_kernel;
  for (int i = 0; i < split_limit; ++i) {
    const double k_split = tiles_along(g.k, i + 1);  // ceil(k / s)
    split_k = std::min(split_k, best_split[i] * inv_per_sm * (k_split + tile_overhead_k_elements));
  }
}

// Weight-only kernels dequantise in the main loop: at large M they reach about 85% of the 16-bit GEMM's
// throughput (Marlin, Frantar et al. 2024, arXiv:2408.11743: near fp16 speed at batch 64-128). Inferred.
constexpr double dequant_compute_fraction = 0.85;

using detail::smooth_max;  // lib/detail/fast_math.hpp: the forms and their errors

// Bounds on smooth_max(x, y, p) without transcendental calls. For p >= 1 and 0 <= r = lo/hi <= 1:
// r^(n+1) <= q <= r^n with n = floor(p) (q = r^n when p is an integer), and with a = 1/p <= 1,
// 1 + a·q·(1 - q/2) <= (1 + q)^a <= 1 + a·q (Taylor with remainder; concavity); smooth_max's first-order
// form, 1 + a·q, lies in the same range. Both ends are widened by 1e-12 to cover rounding. Other exponents
// get no bounds (the whole real line).
struct Bracket {
  double low, high;
};
Bracket smooth_bounds(double x, double y, double p) {
  const double hi = std::max(x, y), lo = std::min(x, y);
  if (!(lo > 0)) return {hi, hi};
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (!(p >= 1 && p <= 64) || !(hi < inf)) return {-inf, inf};
  const double r = lo / hi;
  const int n = int(p);
  double q_high = 1, base = r;  // r^n by squaring
  for (int e = n; e > 0; e >>= 1, base *= base)
    if (e & 1) q_high *= base;
  const double q_low = double(n) == p ? q_high : q_high * r;
  const double a = 1.0 / p;
  return {hi * (1.0 + a * q_low * (1.0 - 0.5 * q_low)) * (1.0 - 1e-12), hi * (1.0 + a * q_high) * (1.0 + 1e-12)};
}

// The GEMM's choice between one kernel (f1 fixed, compute c1, memory m1) and split-K (f2, c2, m2): split-K
// when f2 + smooth_max(c2, m2) < f1 + smooth_max(c1, m1); `body` receives the chosen smooth maximum.
// Bounds decide first, so that usually only the winner's smooth maximum is computed (same result):
//  1. max(a, b) <= smooth_max(a, b) <= 2^(1/p) · max(a, b). For p > ln 2, 2^(1/p) = e^x with x = ln 2 / p < 1
//     is below (2 + x) / (2 - x) (the [1/1] Padé form, whose series dominates e^x term by term), widened by
//     1e-12 for rounding; below that, exp2 itself.
//  2. smooth_bounds, tighter (a few multiplications), when 1 does not separate the two.
bool choose_split(double f1, double c1, double m1, double f2, double c2, double m2, double p, double& body) {
  constexpr double ln2 = 0.69314718055994531;
  const double widen = p > ln2 ? (2.0 * p + ln2) / (2.0 * p - ln2) * (1.0 + 1e-12) : std::exp2(1.0 / p);
  const double x1 = std::max(c1, m1), x2 = std::max(c2, m2);
  bool split = false;
  if (f1 + x1 > f2 + widen * x2) {
    split = true;
  } else if (!(f2 + x2 >= f1 + widen * x1)) {
    const Bracket b1 = smooth_bounds(c1, m1, p), b2 = smooth_bounds(c2, m2, p);
    if (f2 + b2.high < f1 + b1.low) {
      split = true;
    } else if (!(f2 + b2.low >= f1 + b1.high)) {
      const double s1 = smooth_max(c1, m1, p), s2 = smooth_max(c2, m2, p);
      split = f2 + s2 < f1 + s1;
      body = split ? s2 : s1;
      return split;
    }
  }
  body = split ? smooth_max(c2, m2, p) : smooth_max(c1, m1, p);
  return split;
}
}  // namespace

double Calibration::gemm_exception_factor(MathPath math, const GemmShape& g) const {
  if (g.groups != 1) return 1.0;
  for (const GemmException& e : gemm_exceptions_) {
    if (e.math != math || e.n != g.n || e.k != g.k || e.m.empty() || g.m < e.m.front() || g.m > e.m.back()) continue;
    for (std::size_t i = 0; i < e.m.size(); ++i) {
      if (g.m == e.m[i]) return e.ratio[i];
      if (i + 1 < e.m.size() && g.m < e.m[i + 1]) {  // between two measured Ms: log-linear in M
        const double t = std::log(double(g.m) / double(e.m[i])) / std::log(double(e.m[i + 1]) / double(e.m[i]));
        return std::exp((1 - t) * std::log(e.ratio[i]) + t * std::log(e.ratio[i + 1]));
      }
    }
  }
  return 1.0;
}

double datasheet_floor_s(const Op& op, const HardwareSpec& hw) {
  const double peak = op.kernel == KernelClass::allreduce ? 0.0 : hw.peak_flop_per_s(op.math);
  const double bw = op.kernel == KernelClass::allreduce ? hw.interconnect_bytes_per_s.value : hw.bandwidth_bytes_per_s();
  const double compute = peak > 0 ? op.flops / peak : 0.0;
  return std::max(compute, op.bytes.total() / bw);
}

Prediction predict(const Op& op, const HardwareSpec& hw, const Calibration& calibration, Load load) {
  const KernelParams& p = calibration.params(key_of(op));
  // Every field is computed into a local and the result built once at the end (zeroing the result first
  // and storing into it costs a fifth of a GEMM prediction).
  const double flops = op.flops;
  const double bytes = op.bytes.total();
  const bool network = op.kernel == KernelClass::allreduce;
  const double bw = network ? hw.interconnect_bytes_per_s.value : hw.bandwidth_bytes_per_s();
  const double peak = network ? 0.0 : hw.peak_flop_per_s(op.math);

  double efficiency = p.compute_efficiency_fraction;
  if (op.support == Support::emulated && op.kernel == KernelClass::gemm) efficiency *= dequant_compute_fraction;
  const int sms = hw.sms();
  const double e = p.overlap_exponent;
  auto occupancy_of = [&](double ctas) {
    const double full = double(sms) * p.occupancy_fraction;
    return ctas >= full ? 1.0 : ctas / full;  // min(1, ctas / full) without a division when it is 1
  };
  double kernels = double(op.kernels_per_instance);
  double body = 0, compute_s = 0, memory_s = 0;
  if (op.kernel == KernelClass::gemm && peak > 0) {
    // A cuBLAS-class library picks, per shape, between one kernel over the output tiles (few tiles leave SMs
    // idle and the weights stream slowly) and a split-K kernel that fills the SMs plus a reduction kernel
    // over fp32 partials. Either choice costs what the roofline says; the library is taken to pick the faster
    // (min of two non-decreasing functions of the shape, so a larger problem is never predicted faster).
    const GemmShape& g = op.gemm;
    // Tiles of 8 to 128 rows of M (2^3 .. 2^7) by 64 or 128 columns of N.
    const int shift_m = g.m <= 8 ? 3 : g.m <= 16 ? 4 : g.m <= 32 ? 5 : g.m <= 64 ? 6 : 7;
    const int shift_n = g.m <= 64 ? 6 : 7;
    const double tiles = tiles_along(g.m, shift_m) * tiles_along(g.n, shift_n) * double(g.groups);
    double c1 = 0, c2 = 0;
    gemm_compute_one_and_split(g, peak, efficiency, sms, p.tile_overhead_k_elements, c1, c2);
    if (load == Load::sustained) {
      const double sustained = calibration.sustained_flop_per_s(op.math);
      if (sustained > 0) {
        c1 = std::max(c1, flops / sustained);
        c2 = std::max(c2, flops / sustained);
      }
    } else if (const double sustained = calibration.sustained_flop_per_s(op.math); sustained > 0) {
      // Timed alone, a long compute-bound GEMM runs burst_s at its burst rate, then at the sustained one.
      auto limited = [&](double c) {
        const double burst_rate = flops / c;
        return burst_rate > sustained ? std::max(c, (flops - p.burst_s * (burst_rate - sustained)) / sustained) : c;
      };
      c1 = limited(c1);
      c2 = limited(c2);
    }
    const double occupancy = occupancy_of(tiles);
    const double m1 = bytes / (bw * p.memory_efficiency_fraction * occupancy);
    compute_s = c1;
    memory_s = m1;
    // At full occupancy a split-K kernel that computes no faster (prefill GEMMs, any GEMM with a wave of
    // tiles) moves more bytes at one more fixed cost: it never wins, and the choice needs no bounds.
    if (occupancy == 1.0 && c2 == c1 && p.fixed_s > 0) {
      body = smooth_max(c1, m1, e);
    } else {
      const double partials = 2.0 * 2.0 * double(g.m) * double(g.n) * 4.0 * double(g.groups);  // 2-way, written and read
      const double m2 = (bytes + partials) / (bw * p.memory_efficiency_fraction);
      const double f1 = p.fixed_s * kernels, f2 = p.fixed_s * (kernels + 1);
      if (choose_split(f1, c1, m1, f2, c2, m2, e, body)) {
        compute_s = c2;
        memory_s = m2;
        kernels += 1;
      }
    }
  } else {
    if (peak > 0 && flops > 0) {
      const double executed = (op.executed_flops > 0 ? op.executed_flops : flops) +
                              p.tile_overhead_k_elements * op.flops_per_overhead_key;
      compute_s = executed / (peak * efficiency);
      if (op.critical_path_flops > 0)  // the largest block runs on one SM
        compute_s = std::max(compute_s, op.critical_path_flops * double(sms) / (peak * efficiency));
      const double sustained = load == Load::sustained ? calibration.sustained_flop_per_s(op.math) : 0.0;
      if (sustained > 0) compute_s = std::max(compute_s, executed / sustained);
      if (op.overlapped_s > 0) compute_s = smooth_max(compute_s, op.overlapped_s / efficiency, e);
      if (op.lone_block_flops > 0)
        compute_s = std::max(compute_s, op.lone_block_flops * double(sms) / (peak * efficiency));
    }
    // Streaming kernels with modelled tiles (Little's law): HBM speed needs bandwidth × latency bytes in
    // flight; the fitted occupancy fraction is then that latency as a fraction of 2 µs. Otherwise the
    // occupancy counts thread blocks against the SMs.
    // Only the streamed K/V bytes are limited by what is in flight; the rest moves at the kernel's speed.
    if (op.inflight_bytes > 0) {
      const double stream = std::min(op.bytes.kv_read_bytes, bytes);
      const double occupancy = std::min(
          1.0, op.inflight_bytes / (bw * p.memory_efficiency_fraction * streaming_latency_unit_s * p.occupancy_fraction));
      memory_s = ((bytes - stream) + stream / occupancy) / (bw * p.memory_efficiency_fraction);
    } else {
      const double occupancy = op.parallel_ctas > 0 ? occupancy_of(double(op.parallel_ctas)) : 1.0;
      memory_s = bytes / (bw * p.memory_efficiency_fraction * occupancy);
    }
    if (op.serial_steps > 0) memory_s += op.serial_steps * p.serial_step_s;
    body = smooth_max(compute_s, memory_s, e);
  }
  // A follow-up kernel (FlashAttention-2's split-KV combine) costs what a small elementwise kernel costs.
  const double fixed_s = op.follow_up_kernels > 0
                             ? p.fixed_s * (kernels - op.follow_up_kernels) +
                                   calibration.params(follow_up_kernel_key).fixed_s * op.follow_up_kernels
                             : p.fixed_s * kernels;
  double time_s = fixed_s + body;
  const Bound bound = fixed_s > body ? Bound::latency : compute_s > memory_s ? Bound::compute : Bound::memory;
  // Inside a step, a small kernel whose inputs the kernel before just wrote runs at its measured L2-warm pace.
  if (op.inputs_in_l2 && p.l2_warm_ratio != 1.0 && bytes / std::max(1, op.kernels_per_instance) <= p.l2_warm_max_bytes)
    time_s *= p.l2_warm_ratio;
  // A measured kernel choice (GemmException), taken at burst clocks: not stacked on a sustained compute cap.
  double exception = 1.0;
  if (op.kernel == KernelClass::gemm && !calibration.gemm_exceptions().empty() &&
      !(load == Load::sustained && bound == Bound::compute)) {
    exception = calibration.gemm_exception_factor(op.math, op.gemm);
    time_s *= exception;
  }
  return Prediction{.time_s = time_s,
                    .compute_s = compute_s,
                    .memory_s = memory_s,
                    .fixed_s = fixed_s,
                    .bound = bound,
                    .flops = flops,
                    .bytes = bytes,
                    .intensity_flop_per_byte = bytes > 0 ? flops / bytes : 0.0,
                    .critical_intensity_flop_per_byte = peak > 0 ? peak / hw.bandwidth_bytes_per_s() : 0.0,
                    .interval_low_s = time_s * p.interval_low_fraction,
                    .interval_high_s = time_s * p.interval_high_fraction,
                    .exception_factor = exception,
                    .prior = p.provenance == Provenance::inferred};
}

bool same_kernel_and_shape(const Op& a, const Op& b) {
  // Cheap rejections first: most pairs of a step differ here, and the full comparison copies both.
  if (a.flops != b.flops || a.kernel != b.kernel || a.math != b.math || a.gemm.m != b.gemm.m ||
      a.gemm.n != b.gemm.n || a.gemm.k != b.gemm.k || a.bytes.total() != b.bytes.total())
    return false;
  Op x = a, y = b;
  x.type = y.type;
  x.first_layer = y.first_layer;
  x.instances = y.instances;
  x.note = y.note;
  return x == y;
}

void IntervalSum::add_group(double below_s, double above_s, bool prior) {
  if (prior) {
    prior_below += below_s;
    prior_above += above_s;
  } else {
    below_sq += below_s * below_s;
    above_sq += above_s * above_s;
  }
}

void IntervalSum::add(const Prediction& p, double instances) {
  add_group((p.time_s - p.interval_low_s) * instances, (p.interval_high_s - p.time_s) * instances, p.prior);
}

void IntervalSum::merge(const IntervalSum& o) {
  below_sq += o.below_sq;
  above_sq += o.above_sq;
  prior_below += o.prior_below;
  prior_above += o.prior_above;
}

double IntervalSum::low_s(double time_s) const {
  const double session = session_fraction * time_s;
  return std::max(0.0, time_s - std::sqrt(below_sq + prior_below * prior_below + session * session));
}
double IntervalSum::high_s(double time_s) const {
  const double session = session_fraction * time_s;
  return time_s + std::sqrt(above_sq + prior_above * prior_above + session * session);
}

IntervalSum step_interval(const std::vector<OpPrediction>& ops, double session_fraction) {
  IntervalSum sum;
  sum.session_fraction = session_fraction;
  std::vector<bool> done(ops.size(), false);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (done[i]) continue;
    double below = 0, above = 0;
    for (std::size_t j = i; j < ops.size(); ++j) {
      if (done[j] || (j != i && !same_kernel_and_shape(ops[i].op, ops[j].op))) continue;
      done[j] = true;
      const Prediction& p = ops[j].prediction;
      below += (p.time_s - p.interval_low_s) * ops[j].op.instances;
      above += (p.interval_high_s - p.time_s) * ops[j].op.instances;
    }
    sum.add_group(below, above, ops[i].prediction.prior);
  }
  return sum;
}

StepPrediction predict_step(const ModelConfig& model, const StepConfig& config, const HardwareSpec& hw,
                            const Calibration& calibration) {
  StepPrediction s;
  const std::vector<Op> ops = build_step(model, config, hw);
  s.ops.reserve(ops.size());
  for (const Op& op : ops) {
    OpPrediction o{op, predict(op, hw, calibration, Load::sustained)};
    const double n = double(op.instances);
    s.time_s += o.prediction.time_s * n;
    s.flops += op.flops * n;
    s.bytes += op.bytes.total() * n;
    if (op.support == Support::unsupported && s.infeasible_reason.empty()) {
      s.fits = false;
      s.infeasible_reason = std::string(to_string(op.type)) + ": " + op.note;
    }
    s.ops.push_back(std::move(o));
  }
  const IntervalSum spread = step_interval(s.ops, calibration.session_band_fraction());
  s.interval_low_s = spread.low_s(s.time_s);
  s.interval_high_s = spread.high_s(s.time_s);
  const double tokens = config.phase == Phase::decode ? double(config.batch) : double(config.batch * config.seq_len);
  s.tokens_per_s = s.time_s > 0 ? tokens / s.time_s : 0;
  s.memory = memory_footprint(model, config);
  s.memory_capacity_bytes = hw.capacity_bytes();
  s.calibration_status = calibration.status();
  if (s.fits && s.memory.total_bytes() > s.memory_capacity_bytes) {
    s.fits = false;
    char buf[256];
    std::snprintf(buf, sizeof buf, "weights %.3g B + KV cache %.3g B + activations %.3g B exceed memory of %.3g B",
                  s.memory.weights_bytes, s.memory.kv_cache_bytes, s.memory.activations_bytes, s.memory_capacity_bytes);
    s.infeasible_reason = buf;
  }
  return s;
}

}  // namespace roofline
