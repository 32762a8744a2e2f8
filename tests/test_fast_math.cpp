// predict()'s smooth maximum (lib/detail/fast_math.hpp) against a long double reference:
// (x^p + y^p)^(1/p) = hi · (1 + (lo/hi)^p)^(1/p) evaluated with powl.
#include <doctest/doctest.h>

#include "../lib/detail/fast_math.hpp"

#include <algorithm>
#include <cmath>
#include <random>

using roofline::detail::smooth_max;
using roofline::detail::softplus2;

namespace {
long double reference(double x, double y, double p) {
  const long double hi = std::max(x, y), lo = std::min(x, y);
  if (!(lo > 0)) return hi;
  return hi * std::pow(1.0L + std::pow(lo / hi, (long double)p), 1.0L / p);
}
double relative_error(double got, long double want) { return double(std::fabs((got - want) / want)); }
}  // namespace

TEST_CASE("softplus2 equals log2(1 + 2^y) on its whole range to a few units in the last place") {
  double worst = 0;
  for (int i = 0; i <= 1'400'000; ++i) {
    const double y = -14.0 + 1e-5 * i;
    const long double want = std::log1p(std::exp2((long double)y)) / std::log(2.0L);
    worst = std::max(worst, double(std::fabs(softplus2(y) - want)));
  }
  CHECK(worst < 5e-16);
  CHECK(softplus2(0.0) == doctest::Approx(1.0).epsilon(1e-15));
}

TEST_CASE("smooth_max: within 1e-14 of the reference where both terms count, 2e-9 where one dominates") {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double worst_full = 0, worst_first_order = 0;
  int first_order = 0, full = 0;
  for (int i = 0; i < 400'000; ++i) {
    // Times from 1 ns to 100 s, ratios from 1e-8 to 1, exponents over the fitted range [1, 16] and the
    // exponents with their own exact form.
    const double hi = std::pow(10.0, -9.0 + 11.0 * unit(rng));
    const double r = std::pow(10.0, -8.0 * unit(rng) * unit(rng));
    const double exact[] = {1.0, 2.0, 4.0, 8.0, 16.0};
    const double p = i % 4 == 0 ? exact[i / 4 % 5] : 1.0 + 15.0 * unit(rng);
    const double lo = hi * r;
    const long double want = reference(hi, lo, p);
    const double got = smooth_max(lo, hi, p);
    CHECK_MESSAGE(got == smooth_max(hi, lo, p), "symmetric");
    const double e = relative_error(got, want);
    if (std::pow((long double)r, (long double)p) <= 1.01e-4L) {
      worst_first_order = std::max(worst_first_order, e);
      ++first_order;
    } else {
      worst_full = std::max(worst_full, e);
      ++full;
    }
  }
  CHECK(full > 100'000);
  CHECK(first_order > 50'000);
  CHECK(worst_full < 1e-14);
  CHECK(worst_first_order < 2e-9);
}

TEST_CASE("smooth_max: bounds, zero terms and monotonicity") {
  for (const double p : {1.0, 1.62, 2.0, 4.0, 4.448, 5.416, 8.0, 16.0}) {
    CAPTURE(p);
    CHECK(smooth_max(3e-6, 0.0, p) == 3e-6);
    CHECK(smooth_max(0.0, 0.0, p) == 0.0);
    // Equal terms: 2^(1/p) · x.
    CHECK(smooth_max(2e-5, 2e-5, p) == doctest::Approx(2e-5 * std::exp2(1.0 / p)).epsilon(1e-14));
    // max(x, y) <= smooth_max <= 2^(1/p) · max(x, y); non-decreasing in each argument across the
    // first-order boundary.
    double previous = 0;
    for (int i = 0; i <= 4000; ++i) {
      const double lo = 1e-6 * std::pow(10.0, -6.0 + 6.0 * i / 4000.0);  // 1e-12 .. 1e-6
      const double s = smooth_max(1e-6, lo, p);
      CHECK(s >= 1e-6);
      CHECK(s <= 1e-6 * std::exp2(1.0 / p) * (1 + 1e-14));
      CHECK(s >= previous * (1 - 1e-15));
      previous = s;
    }
  }
}
