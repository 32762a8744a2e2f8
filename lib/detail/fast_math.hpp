// predict()'s smooth maximum of a compute and a memory time, (x^p + y^p)^(1/p), in the forms that keep a
// prediction fast (lib/roofline.cpp's hot path; tests/test_fast_math.cpp checks both against a long double
// reference).
//
// With hi = max(x, y), lo = min(x, y), y2 = p · log2(lo / hi) <= 0:
//   smooth_max = hi · 2^(s(y2) / p),   s(y) = log2(1 + 2^y)   (base-2 softplus).
// The C library computes that with four transcendental calls on one dependency chain (log, exp, log1p,
// exp: about 160 cycles). Here s is a table of polynomials (below), so a fitted, non-integer p costs two
// logarithms (independent of each other), one polynomial and one exp2.
//  - s on [-14, 0]: 113 intervals of width 1/8 centred on -14 + i/8, each a degree-8 polynomial interpolating s at the
//    Chebyshev points of the interval (computed once, in long double). s is analytic with its nearest
//    singularities at y = ±i·π/ln 2 (where 1 + 2^y = 0), 4.5 from the real axis, 72 half-widths away: the
//    interpolation error is below 1e-17 (Trefethen, Approximation Theory and Approximation Practice, thm 8.2).
//  - Below y2 = log2(1e-4) (one term dominates: q = (lo/hi)^p <= 1e-4) the first-order form
//    hi · (1 + q / p), relative error below (1 - 1/p) · q² / (2p) <= 1.3e-9.
//  - p in {1, 2, 4, 8, 16} (the prior p = 4, and keys a calibration leaves at it): repeated squaring and
//    square roots, no logarithm at all.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace roofline::detail {

#if defined(__FAST_MATH__)
#error "fast_math.hpp needs IEEE double arithmetic: do not build lib/ with -ffast-math"
#endif

struct Softplus2Table {
  static constexpr double y_min = -14.0;
  static constexpr int per_unit = 8;  // intervals per unit of y, centred on y_min + i / per_unit
  static constexpr int intervals = 113;
  static constexpr int degree = 8;
  /// Monomial coefficients in t ∈ [-1, 1] of each interval's polynomial, lowest first.
  std::array<std::array<double, degree + 1>, intervals> c{};
  Softplus2Table() {
    constexpr int n = degree + 1;
    const long double pi = 3.14159265358979323846264338327950288L;
    for (int i = 0; i < intervals; ++i) {
      const long double center = y_min + (long double)i / per_unit, half = 0.5L / per_unit;
      // Values at the Chebyshev points t_k = cos(π (k + 1/2) / n), then Chebyshev coefficients a_j.
      std::array<long double, n> f{}, a{};
      for (int k = 0; k < n; ++k) {
        const long double t = std::cos(pi * (k + 0.5L) / n);
        f[k] = std::log1p(std::exp2(center + half * t)) / std::log(2.0L);
      }
      for (int j = 0; j < n; ++j) {
        long double sum = 0;
        for (int k = 0; k < n; ++k) sum += f[k] * std::cos(pi * j * (k + 0.5L) / n);
        a[j] = (j == 0 ? 1.0L : 2.0L) * sum / n;
      }
      // Σ a_j T_j(t) to monomials: T_0 = 1, T_1 = t, T_{j+1} = 2t·T_j − T_{j−1}.
      std::array<long double, n> mono{}, t_prev{}, t_cur{}, t_next{};
      t_prev[0] = 1;
      t_cur[1] = 1;
      mono[0] = a[0];
      for (int d = 0; d < n; ++d) mono[d] += a[1] * t_cur[d];
      for (int j = 2; j < n; ++j) {
        for (int d = 0; d < n; ++d) t_next[d] = (d > 0 ? 2 * t_cur[d - 1] : 0.0L) - t_prev[d];
        for (int d = 0; d < n; ++d) mono[d] += a[j] * t_next[d];
        t_prev = t_cur;
        t_cur = t_next;
      }
      for (int d = 0; d < n; ++d) c[std::size_t(i)][std::size_t(d)] = double(mono[d]);
    }
  }
};
inline const Softplus2Table& softplus2_table() {
  static const Softplus2Table t;
  return t;
}

/// log2(1 + 2^y) for y in [-14, 0] (the table's range; the caller keeps to it: y outside it is clamped to
/// the end intervals' polynomials).
inline double softplus2(double y) {
  const Softplus2Table& tab = softplus2_table();
  const double u = (y - Softplus2Table::y_min) * Softplus2Table::per_unit;  // [0, 112]
  // The nearest integer i of u by the 1.5·2^52 shift (no float-to-integer round trip on the chain): the
  // low bits of shifted hold i, shifted - 1.5·2^52 is i exactly.
  constexpr double shift = 0x1.8p52;
  const double shifted = u + shift;
  std::uint64_t bits = 0;
  std::memcpy(&bits, &shifted, sizeof bits);
  const std::size_t i = std::min<std::size_t>(bits & 0xFFFF, Softplus2Table::intervals - 1);
  const double t = 2.0 * (u - (shifted - shift));  // [-1, 1]
  const auto& c = tab.c[i];
  // Estrin's scheme: a shorter dependency chain than Horner's without fused multiply-adds.
  const double t2 = t * t, t4 = t2 * t2;
  const double p01 = c[0] + c[1] * t, p23 = c[2] + c[3] * t, p45 = c[4] + c[5] * t, p67 = c[6] + c[7] * t;
  const double p03 = p01 + p23 * t2, p47 = p45 + p67 * t2;
  return p03 + (p47 + c[8] * t4) * t4;
}

/// (x^p + y^p)^(1/p) for x, y >= 0 and p >= 1 (see the header comment for the forms and their errors).
inline double smooth_max(double x, double y, double p) {
  const double hi = std::max(x, y), lo = std::min(x, y);
  if (!(lo > 0)) return hi;
  const bool power_of_two = p == 4 || p == 2 || p == 8 || p == 1 || p == 16;
  if (power_of_two) {
    // (hi^p + lo^p)^(1/p) by squaring and square roots: no division lo / hi on the prediction's longest
    // path, while hi^p stays a normal number (times above about 1e-18 s).
    double hp = hi, lp = lo;
    for (double e = p; e > 1; e *= 0.5) {
      hp *= hp;
      lp *= lp;
    }
    if (hp > 1e-290 && hp < 1e290) {
      if (lp <= 1e-4 * hp) return hi * (1.0 + lp / hp / p);
      double f = hp + lp;
      for (double e = p; e > 1; e *= 0.5) f = std::sqrt(f);
      return f;
    }
    double q = lo / hi;
    for (double e = p; e > 1; e *= 0.5) q *= q;
    if (q <= 1e-4) return hi * (1.0 + q / p);
    double f = 1.0 + q;
    for (double e = p; e > 1; e *= 0.5) f = std::sqrt(f);
    return hi * f;
  }
  constexpr double y_first_order = -13.287712379549449;  // log2(1e-4)
  const double inv_p = 1.0 / p;                           // off the critical path
  // Two independent logarithms instead of a division and a logarithm (the C library's log2 is faster than
  // a table here without fused multiply-adds). Their difference carries about an ulp of |log2 hi| (3.6e-15
  // at 1e-5 s), which reaches the result as a relative error of about ln 2 times that.
  const double y2 = p * (std::log2(lo) - std::log2(hi));
  if (!(y2 > y_first_order)) return hi * (1.0 + std::exp2(y2) * inv_p);
  return hi * std::exp2(softplus2(y2) * inv_p);
}

}  // namespace roofline::detail
