#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include "roofline/dynamic_quant.hpp"
#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

// The inner-loop encoders are internal (lib/detail); they are checked here against the bit-exact codecs.
#include "../lib/detail/quant_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

using namespace roofline;

namespace {

constexpr float inf_f = std::numeric_limits<float>::infinity();
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

Matrix row(std::vector<float> v) { return Matrix{1, std::int64_t(v.size()), std::move(v)}; }

float bits_to_float(std::uint32_t u) {
  float f = 0;
  std::memcpy(&f, &u, 4);
  return f;
}

// A reference QuantizedTensor carrying given scales, for quantize_with_scales.
QuantizedTensor with_scales(Precision p, Granularity g, std::int64_t rows, std::int64_t cols, std::vector<float> scales,
                            TensorRole role = TensorRole::activation) {
  QuantizedTensor q;
  q.spec = QuantSpec{.precision = p, .granularity = g, .role = role};
  q.rows = rows;
  q.cols = cols;
  q.scales = std::move(scales);
  return q;
}

// Independent granule index (the header's definition of each granularity).
std::int64_t granule_of(const QuantizedTensor& q, std::int64_t r, std::int64_t c) {
  const Precision p = q.spec.precision;
  if (p == Precision::fp16 || p == Precision::bf16) return 0;
  switch (q.spec.granularity) {
    case Granularity::per_tensor: return 0;
    case Granularity::per_token: return r;
    case Granularity::per_channel: return q.spec.role == TensorRole::activation ? c : r;
    case Granularity::per_block: {
      const std::int64_t nb = (q.cols + q.spec.block_elements - 1) / q.spec.block_elements;
      return r * nb + c / q.spec.block_elements;
    }
  }
  return -1;
}

// Non-negative finite magnitudes of a format's elements, from the bit-exact decoders.
std::vector<double> grid_of(Precision p) {
  std::vector<double> g;
  switch (p) {
    case Precision::fp8_e4m3:
      for (int c = 0; c <= 0x7E; ++c) g.push_back(decode_fp8_e4m3(std::uint8_t(c)));
      break;
    case Precision::fp8_e5m2:
      for (int c = 0; c <= 0x7B; ++c) g.push_back(decode_fp8_e5m2(std::uint8_t(c)));
      break;
    case Precision::nvfp4:
    case Precision::mxfp4:
      for (int c = 0; c <= 7; ++c) g.push_back(decode_fp4_e2m1(std::uint8_t(c)));
      break;
    case Precision::int8:
      for (int c = 0; c <= 127; ++c) g.push_back(c);
      break;
    case Precision::int4:
      for (int c = 0; c <= 7; ++c) g.push_back(c);
      break;
    default: break;
  }
  return g;
}

// Mantissa bits and smallest normal exponent of a float element format (ints: m = -1 marks a unit grid).
struct GridShape {
  int mbits;
  int emin;
};
GridShape shape_of(Precision p) {
  switch (p) {
    case Precision::fp8_e4m3: return {3, -6};
    case Precision::fp8_e5m2: return {2, -14};
    case Precision::nvfp4:
    case Precision::mxfp4: return {1, 0};
    default: return {-1, 0};
  }
}

// Half the spacing of the grid around |v| (v inside the range).
double half_ulp(Precision p, double v) {
  const GridShape s = shape_of(p);
  if (s.mbits < 0) return 0.5;
  const double a = std::fabs(v);
  const int e = a > 0 ? std::max(int(std::floor(std::log2(a))), s.emin) : s.emin;
  return std::ldexp(0.5, e - s.mbits);
}

// Numbered post-conditions of q = quantize(x, spec) for finite x (CuTe style):
// (1) shape, code and scale counts; (2) every finite scale is > 0 (a zero nvfp4 block scale encodes zeros);
// (3) each code decodes to a nearest representable value of v = x * (1 / s) (saturation included);
// (4) within range, |x_hat - x| <= s * half_ulp(v) + |x - v s|; (5) dequantize gives decode(code) * s.
void check_quantized(const Matrix& x, const QuantizedTensor& q) {
  REQUIRE(q.rows == x.rows);
  REQUIRE(q.cols == x.cols);
  REQUIRE(q.codes.size() == x.values.size());  // (1)
  const Matrix d = dequantize(q);
  const std::vector<double> grid = grid_of(q.spec.precision);
  const double max = grid.back();
  std::int64_t failures = 0;
  for (float s : q.scales) CHECK((s > 0 || s == 0));  // (2)
  for (std::int64_t r = 0; r < x.rows; ++r) {
    for (std::int64_t c = 0; c < x.cols; ++c) {
      const std::size_t i = std::size_t(r * x.cols + c);
      const float s = q.scales[std::size_t(granule_of(q, r, c))];
      const float xv = x.values[i];
      const float v = s > 0 ? xv * (1.0f / s) : 0.0f;
      const double dv = s > 0 ? double(d.values[i]) / double(s) : 0.0;
      // (5): x_hat is decode(code) * s computed in fp32, so dv is decode(code) up to one fp32 rounding.
      double best = std::numeric_limits<double>::infinity();
      for (double g : grid) best = std::min(best, std::fabs(std::fabs(double(v)) - g));
      const double got = std::fabs(std::fabs(dv) - std::fabs(double(v)));
      const bool sign_ok = dv == 0 || std::signbit(dv) == std::signbit(v);
      const bool nearest = got <= best + 1e-6 * std::max(1.0, std::fabs(double(v)));  // (3)
      bool bounded = true;
      if (std::fabs(v) <= max && s > 0) {  // (4)
        const double err = std::fabs(double(d.values[i]) - double(xv));
        bounded = err <= double(s) * half_ulp(q.spec.precision, v) * (1 + 1e-6) + 1e-6 * std::fabs(double(xv));
      }
      if (!(nearest && sign_ok && bounded) && ++failures <= 3)
        FAIL_CHECK("element (" << r << ", " << c << ") x " << xv << " scale " << s << " v " << v << " decoded "
                               << dv << " nearest distance " << best << " in " << q);
    }
  }
  CHECK(failures == 0);
}

std::vector<Granularity> granularities_for(Precision p, TensorRole role) {
  if (p == Precision::nvfp4 || p == Precision::mxfp4) return {Granularity::per_block};
  if (role == TensorRole::weight) return {Granularity::per_tensor, Granularity::per_channel, Granularity::per_block};
  return {Granularity::per_tensor, Granularity::per_token, Granularity::per_channel, Granularity::per_block};
}

const Precision scaled_formats[] = {Precision::fp8_e4m3, Precision::fp8_e5m2, Precision::int8,
                                    Precision::int4,     Precision::nvfp4,    Precision::mxfp4};
const CalibrationMode all_modes[] = {CalibrationMode::absmax, CalibrationMode::percentile,
                                     CalibrationMode::mse_optimal};

// Test tensors: LLM-like activations and weights, and Gaussian data, for a few seeds.
struct Sample {
  Matrix x;
  TensorRole role;
  std::string name;
};
std::vector<Sample> samples() {
  std::vector<Sample> out;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    out.push_back({llm_like_activations(16, 256, seed), TensorRole::activation, "llm activations " + std::to_string(seed)});
    out.push_back({llm_like_weights(16, 256, seed), TensorRole::weight, "llm weights " + std::to_string(seed)});
    out.push_back({gaussian_matrix(16, 256, seed), TensorRole::activation, "gaussian " + std::to_string(seed)});
  }
  return out;
}

double rel_rmse(const Matrix& x, const QuantSpec& spec) { return compare(x, dequantize(quantize(x, spec))).rel_rmse; }

}  // namespace

// ---- names -----------------------------------------------------------------------------------------

TEST_CASE("granularity, calibration and role names round-trip and unknown names list the known ones") {
  for (const std::string& n : granularity_names()) CHECK(to_string(parse_granularity(n)) == n);
  for (const std::string& n : calibration_mode_names()) CHECK(to_string(parse_calibration_mode(n)) == n);
  CHECK(parse_tensor_role("weight") == TensorRole::weight);
  CHECK(parse_phase("prefill") == Phase::prefill);
  CHECK_THROWS_WITH_AS(parse_granularity("per_row"),
                       "unknown granularity 'per_row'; known: per_tensor, per_token, per_channel, per_block",
                       UnknownNameError);
  CHECK_THROWS_WITH_AS(parse_calibration_mode("minmax"),
                       "unknown calibration mode 'minmax'; known: absmax, percentile, mse_optimal", UnknownNameError);
}

// ---- element encoders ------------------------------------------------------------------------------

namespace {
// Every representable magnitude, every midpoint between neighbours, one fp32 ulp either side of each, values
// past the maximum, both signs: the places where rounding and saturation decide.
std::vector<float> probe_values(const std::vector<double>& grid) {
  std::vector<float> v;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    v.push_back(float(grid[i]));
    if (i + 1 < grid.size()) {
      const float mid = float((grid[i] + grid[i + 1]) / 2);
      v.push_back(mid);
      v.push_back(std::nextafter(mid, 0.0f));
      v.push_back(std::nextafter(mid, inf_f));
    }
  }
  const double top = grid.back();
  for (double f : {1.01, 1.0625, 1.07, 1.5, 2.0, 1e3, 1e30}) v.push_back(float(top * f));
  v.push_back(std::numeric_limits<float>::max());
  v.push_back(std::numeric_limits<float>::denorm_min());
  v.push_back(1e-30f);
  const std::size_t n = v.size();
  for (std::size_t i = 0; i < n; ++i) v.push_back(-v[i]);
  // Random fp32 bit patterns over the exponents that matter (2^-30 .. 2^20), both signs.
  std::mt19937 rng(12345);
  for (int i = 0; i < 1000000; ++i) {
    const std::uint32_t mant = rng() & 0x7FFFFFu;
    const std::uint32_t exp = 97u + rng() % 51u;
    v.push_back(bits_to_float(((rng() & 1u) << 31) | (exp << 23) | mant));
  }
  return v;
}
}  // namespace

TEST_CASE("fast element encoders equal the bit-exact codecs on every code, midpoint and a million values") {
  {
    const std::vector<float> v = probe_values(grid_of(Precision::fp8_e4m3));
    std::int64_t bad = 0;
    for (float x : v) {
      const std::uint8_t want = encode_fp8_e4m3(x, Overflow::saturate);
      if (detail::fast_encode_e4m3(x) != want && ++bad <= 3) FAIL_CHECK("e4m3 encode " << x);
      if (detail::minifloat_round<3, 7>(x, 448.0f) != decode_fp8_e4m3(want) && ++bad <= 3) FAIL_CHECK("e4m3 round " << x);
    }
    CHECK(bad == 0);
  }
  {
    const std::vector<float> v = probe_values(grid_of(Precision::fp8_e5m2));
    std::int64_t bad = 0;
    for (float x : v) {
      const std::uint8_t want = encode_fp8_e5m2(x, Overflow::saturate);
      if (detail::fast_encode_e5m2(x) != want && ++bad <= 3) FAIL_CHECK("e5m2 encode " << x);
      if (detail::minifloat_round<2, 15>(x, 57344.0f) != decode_fp8_e5m2(want) && ++bad <= 3)
        FAIL_CHECK("e5m2 round " << x);
    }
    CHECK(bad == 0);
  }
  {
    const std::vector<float> v = probe_values(grid_of(Precision::nvfp4));
    std::int64_t bad = 0;
    for (float x : v) {
      const std::uint8_t want = encode_fp4_e2m1(x);
      if (detail::fast_encode_e2m1(x) != want && ++bad <= 3) FAIL_CHECK("e2m1 encode " << x);
      if (detail::minifloat_round<1, 1>(x, 6.0f) != decode_fp4_e2m1(want) && ++bad <= 3) FAIL_CHECK("e2m1 round " << x);
    }
    CHECK(bad == 0);
  }
  {
    // Integers: round half to even of the clamped value; std::nearbyint rounds to nearest even by default.
    const std::vector<float> v = probe_values(grid_of(Precision::int8));
    std::int64_t bad = 0;
    for (float x : v) {
      for (float qmax : {127.0f, 7.0f}) {
        const float want = std::nearbyint(std::clamp(x, -qmax, qmax));
        if (float(detail::fast_encode_int(x, qmax)) != want && ++bad <= 3) FAIL_CHECK("int encode " << x);
        if (detail::int_round(x, qmax) != want && ++bad <= 3) FAIL_CHECK("int round " << x);
      }
    }
    CHECK(bad == 0);
  }
}

// ---- exact encodings through the quantiser ---------------------------------------------------------

TEST_CASE("fp8 e4m3 tensor codes match a table of exact encodings, subnormals and ties included") {
  // Scale 1, so each code is the element's own E4M3 encoding (OCP FP8: bias 7, min normal 2^-6, 2^-9 steps
  // below it). Worked by hand:
  //   1.0 = 0.0111.000 = 0x38          -2.0 = 1.1000.000 = 0xC0        448 = 0.1111.110 = 0x7E
  //   500 > 464 (=448 + half step 32): saturates to 0x7E
  //   2^-9 = smallest subnormal 0x01   2^-10 = half of it: tie to even -> 0x00
  //   1.5 * 2^-9: tie between 1 and 2 subnormal steps -> even 2 -> 0x02
  //   7 * 2^-9 = 0.013671875: largest subnormal 0x07   2^-6 = 0.015625: smallest normal 0x08
  //   1.0625: tie between 1.0 (mantissa 000) and 1.125 (001) -> 0x38
  //   1.1875: tie between 1.125 (001) and 1.25 (010) -> 1.25 = 0x3A
  const std::vector<float> x = {1.0f, -2.0f, 448.0f, 500.0f, 0.001953125f, 0.0009765625f, 0.0029296875f,
                                0.013671875f, 0.015625f, 1.0625f, 1.1875f};
  const std::vector<std::uint16_t> want = {0x38, 0xC0, 0x7E, 0x7E, 0x01, 0x00, 0x02, 0x07, 0x08, 0x38, 0x3A};
  const QuantizedTensor q =
      quantize_with_scales(row(x), with_scales(Precision::fp8_e4m3, Granularity::per_tensor, 1, 11, {1.0f}));
  CHECK(q.codes == want);
  CHECK(q.counts.saturated_count == 1);  // 500
}

TEST_CASE("fp8 e5m2 tensor codes match a table of exact encodings") {
  // E5M2 (bias 15, min normal 2^-14, subnormal step 2^-16): 1.0 = 0.01111.00 = 0x3C; 2^-16 = 0x01;
  // 3 * 2^-16 = 0x03; 2^-14 = 0x04; 57344 = 0.11110.11 = 0x7B; 1.125 ties 1.0/1.25 -> even 1.0 = 0x3C;
  // 1.375 ties 1.25/1.5 -> even 1.5 = 0x3E; -0.5 = 1.01110.00 = 0xB8.
  const std::vector<float> x = {1.0f, 0x1p-16f, 3 * 0x1p-16f, 0x1p-14f, 57344.0f, 1.125f, 1.375f, -0.5f};
  const std::vector<std::uint16_t> want = {0x3C, 0x01, 0x03, 0x04, 0x7B, 0x3C, 0x3E, 0xB8};
  const QuantizedTensor q =
      quantize_with_scales(row(x), with_scales(Precision::fp8_e5m2, Granularity::per_tensor, 1, 8, {1.0f}));
  CHECK(q.codes == want);
}

TEST_CASE("nvfp4 element codes round to nearest even on the E2M1 grid and saturate at 6") {
  // One block of 16 with block scale code 0x38 (1.0) and tensor scale 1: codes are E2M1 encodings.
  // Grid 0, 0.5, 1, 1.5, 2, 3, 4, 6 = codes 0..7. Ties: 0.25 -> 0 (code 0, even); 0.75 -> 1.0 (code 2);
  // 1.25 -> 1.0 (2); 1.75 -> 2.0 (4); 2.5 -> 2.0 (4); 3.5 -> 4.0 (6); 5 -> 4.0 (6); 7 -> 6 (7, saturated
  // since 7 >= 6 + 1); -0.5 -> 0x9; -6 -> 0xF; 0.3 -> 0.5 (1); 5.5 -> 6 (7).
  const std::vector<float> x = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 7.0f,
                                -0.5f, -6.0f, 0.3f,  5.5f,  0.0f, 1.0f, 3.0f, 4.0f};
  const std::vector<std::uint16_t> want = {0, 2, 2, 4, 4, 6, 6, 7, 0x9, 0xF, 1, 7, 0, 2, 5, 6};
  QuantizedTensor ref = with_scales(Precision::nvfp4, Granularity::per_block, 1, 16, {1.0f});
  ref.scale_codes = {0x38};
  ref.tensor_scale = 1.0f;
  const QuantizedTensor q = quantize_with_scales(row(x), ref);
  CHECK(q.codes == want);
  CHECK(q.counts.saturated_count == 1);
}

TEST_CASE("int8 and int4 codes are two's complement, rounded half to even, clamped symmetrically") {
  // int8 scale 0.5: 0.25/0.5 = 0.5 -> 0; 0.75 -> 1.5 -> 2; 1.25 -> 2.5 -> 2; -0.75 -> -2 = 0xFE;
  // 100 -> 200 -> 127 = 0x7F; -100 -> -127 = 0x81 (symmetric: -128 is never used).
  const QuantizedTensor q8 = quantize_with_scales(row({0.25f, 0.75f, 1.25f, -0.75f, 100.0f, -100.0f}),
                                                  with_scales(Precision::int8, Granularity::per_tensor, 1, 6, {0.5f}));
  CHECK(q8.codes == std::vector<std::uint16_t>{0, 2, 2, 0xFE, 0x7F, 0x81});
  CHECK(q8.counts.saturated_count == 2);
  // int4 scale 1: 3.5 -> 4; 2.5 -> 2; 7.5 -> 7 (the clamp comes first); -8 -> -7 = 0x9; -3.5 -> -4 = 0xC.
  const QuantizedTensor q4 = quantize_with_scales(row({3.5f, 2.5f, 7.5f, -8.0f, -3.5f}),
                                                  with_scales(Precision::int4, Granularity::per_tensor, 1, 5, {1.0f}));
  CHECK(q4.codes == std::vector<std::uint16_t>{4, 2, 7, 0x9, 0xC});
  CHECK(dequantize(q4).values == std::vector<float>{4, 2, 7, -7, -4});
}

TEST_CASE("dequantize decodes every code with the scalar decoders") {
  for (Precision p : {Precision::fp8_e4m3, Precision::fp8_e5m2}) {
    QuantizedTensor q = with_scales(p, Granularity::per_tensor, 1, 256, {2.0f});
    for (int c = 0; c < 256; ++c) q.codes.push_back(std::uint16_t(c));
    const Matrix d = dequantize(q);
    for (int c = 0; c < 256; ++c) {
      const float want = 2.0f * (p == Precision::fp8_e4m3 ? decode_fp8_e4m3(std::uint8_t(c)) : decode_fp8_e5m2(std::uint8_t(c)));
      if (std::isnan(want)) {
        CHECK(std::isnan(d.values[std::size_t(c)]));
      } else {
        CHECK(d.values[std::size_t(c)] == want);
      }
    }
  }
  QuantizedTensor q8 = with_scales(Precision::int8, Granularity::per_tensor, 1, 256, {0.5f});
  for (int c = 0; c < 256; ++c) q8.codes.push_back(std::uint16_t(c));
  const Matrix d8 = dequantize(q8);
  for (int c = 0; c < 256; ++c) CHECK(d8.values[std::size_t(c)] == 0.5f * float(std::int8_t(std::uint8_t(c))));
  QuantizedTensor q4 = with_scales(Precision::mxfp4, Granularity::per_block, 1, 32, {0.25f});
  q4.scale_codes = {125};  // E8M0 125 = 2^-2
  for (int c = 0; c < 32; ++c) q4.codes.push_back(std::uint16_t(c % 16));
  const Matrix d4 = dequantize(q4);
  for (int c = 0; c < 32; ++c) CHECK(d4.values[std::size_t(c)] == 0.25f * decode_fp4_e2m1(std::uint8_t(c % 16)));
}

// ---- scales ----------------------------------------------------------------------------------------

TEST_CASE("absmax scales map each granule's largest magnitude to the format's maximum") {
  // fp8 per_tensor: amax 896 -> scale 896 / 448 = 2; 896 encodes as 448 = 0x7E.
  const QuantizedTensor f = quantize(row({896.0f, -1.0f, 3.0f}), {.precision = Precision::fp8_e4m3,
                                                                  .granularity = Granularity::per_tensor});
  CHECK(f.scales == std::vector<float>{2.0f});
  CHECK(f.codes[0] == 0x7E);
  // int8 per_token on [[254, -3, 5], [1, -12.7, 0.5]]: row amax 254 and 12.7 -> scales 2 and fp32(12.7 / 127).
  const Matrix x{2, 3, {254.0f, -3.0f, 5.0f, 1.0f, -12.7f, 0.5f}};
  const QuantizedTensor i = quantize(x, {.precision = Precision::int8, .granularity = Granularity::per_token});
  CHECK(i.scales == std::vector<float>{2.0f, float(double(12.7f) / 127.0)});
  // per_channel on an activation: one scale per column (amax 254, 12.7, 5); on a weight: one per row.
  const QuantizedTensor ac = quantize(x, {.precision = Precision::int8, .granularity = Granularity::per_channel});
  CHECK(ac.scales == std::vector<float>{2.0f, float(double(12.7f) / 127.0), float(5.0 / 127.0)});
  const QuantizedTensor wc = quantize(x, {.precision = Precision::int8, .granularity = Granularity::per_channel,
                                          .role = TensorRole::weight});
  CHECK(wc.scales == std::vector<float>{2.0f, float(double(12.7f) / 127.0)});
  // per_block with blocks of 2 along each row: [254, -3], [5], [1, -12.7], [0.5].
  const QuantizedTensor pb = quantize(x, {.precision = Precision::int8, .granularity = Granularity::per_block,
                                          .block_elements = 2});
  CHECK(pb.scales == std::vector<float>{2.0f, float(5.0 / 127.0), float(double(12.7f) / 127.0), float(0.5 / 127.0)});
  // power_of_two_scales: 896 / 448 = 2 stays 2; 900 / 448 = 2.009 -> 4.
  const QuantizedTensor p2 = quantize(row({900.0f}), {.precision = Precision::fp8_e4m3,
                                                      .granularity = Granularity::per_tensor,
                                                      .power_of_two_scales = true});
  CHECK(p2.scales == std::vector<float>{4.0f});
  // An all-zero granule gets scale 1 and zero codes.
  const QuantizedTensor z = quantize(Matrix{2, 2, {0, 0, 1, 2}}, {.precision = Precision::int8});
  CHECK(z.scales[0] == 1.0f);
  CHECK(z.codes[0] == 0);
}

TEST_CASE("nvfp4 uses a per-tensor fp32 scale and E4M3 block scales (two-level scaling)") {
  // 32 elements, two blocks of 16. Tensor amax 2688 -> tensor_scale = 2688 / (448 * 6) = 1.
  // Block 0 amax 6.6: 6.6 / 6 / 1 = 1.1 -> E4M3 grid 1.0, 1.125: nearest 1.125 = 0x39; element 6.6 / 1.125
  //   = 5.87 -> 6 (code 7). Block 1 amax 2688: 2688 / 6 = 448 = 0x7E; element 2688 / 448 = 6 (code 7);
  //   element 100 / 448 = 0.223 -> 0 (code 0).
  std::vector<float> v(32, 0.0f);
  v[0] = 6.6f;
  v[1] = 1.0f;  // 1 / 1.125 = 0.889 -> 1.0 (code 2)
  v[16] = 2688.0f;
  v[17] = 100.0f;
  const QuantizedTensor q = quantize(row(v), {.precision = Precision::nvfp4, .granularity = Granularity::per_block});
  CHECK(q.spec.block_elements == 16);
  CHECK(q.tensor_scale == 1.0f);
  CHECK(q.scale_codes == std::vector<std::uint8_t>{0x39, 0x7E});
  CHECK(q.scales == std::vector<float>{1.125f, 448.0f});
  CHECK(q.codes[0] == 7);
  CHECK(q.codes[1] == 2);
  CHECK(q.codes[16] == 7);
  CHECK(q.codes[17] == 0);
  // Storage: 32 nibbles = 16 bytes + 2 block scales + 4 bytes of tensor scale = 22 bytes = 5.5 bits/element.
  CHECK(storage_bytes(q) == 22);
}

TEST_CASE("mxfp4 shared exponent is floor(log2 amax) - 2 (OCP MX v1.0), so amax can saturate") {
  // Block amax 7.9: floor(log2 7.9) = 2 -> X = 2^0 = 1 (E8M0 127); 7.9 -> clamps to 6 (code 7), saturated.
  // Block amax 8: floor(log2 8) = 3 -> X = 2 (E8M0 128); 8 / 2 = 4 exactly (code 6).
  std::vector<float> v(64, 0.0f);
  v[0] = 7.9f;
  v[32] = 8.0f;
  v[33] = -0.5f;  // -0.25 -> tie between 0 and 0.5: even -> -0 (code 8)
  const QuantizedTensor q = quantize(row(v), {.precision = Precision::mxfp4, .granularity = Granularity::per_block});
  CHECK(q.spec.block_elements == 32);
  CHECK(q.scale_codes == std::vector<std::uint8_t>{127, 128});
  CHECK(q.scales == std::vector<float>{1.0f, 2.0f});
  CHECK(q.codes[0] == 7);
  CHECK(q.codes[32] == 6);
  CHECK(q.codes[33] == 8);
  CHECK(q.counts.saturated_count == 1);
  CHECK(storage_bytes(q) == 32 + 2);
}

TEST_CASE("storage bytes count codes and scales") {
  // int4 groups of 128 on [2, 256]: 512 nibbles = 256 bytes + 4 fp16 scales = 8 bytes.
  const QuantizedTensor i4 = quantize(gaussian_matrix(2, 256, 1),
                                      {.precision = Precision::int4, .granularity = Granularity::per_block});
  CHECK(i4.scale_bits == 16);
  CHECK(storage_bytes(i4) == 264);
  // fp8 per_token on [3, 10]: 30 bytes + 3 fp32 scales.
  CHECK(storage_bytes(quantize(gaussian_matrix(3, 10, 1), {.precision = Precision::fp8_e4m3})) == 42);
  // fp16: 2 bytes per element, no scale.
  CHECK(storage_bytes(quantize(gaussian_matrix(3, 10, 1), {.precision = Precision::fp16})) == 60);
}

TEST_CASE("percentile calibration interpolates between order statistics") {
  // |x| = 0..9 (n = 10), p = 95: h = 9 * 0.95 = 8.55 -> 8 + 0.55 * (9 - 8) = 8.55; int8 scale 8.55 / 127.
  std::vector<float> v(10);
  for (int i = 0; i < 10; ++i) v[std::size_t(i)] = float(i) * (i % 2 ? -1.0f : 1.0f);
  const QuantizedTensor q = quantize(row(v), {.precision = Precision::int8, .granularity = Granularity::per_tensor,
                                              .calibration_mode = CalibrationMode::percentile, .percentile = 95});
  CHECK(q.scales[0] == float(8.55 / 127.0));
  CHECK(q.counts.saturated_count == 1);  // 9 / (8.55 / 127) = 133.7 >= 127.5
  // p = 100 is absmax.
  const QuantizedTensor a = quantize(row(v), {.precision = Precision::int8, .granularity = Granularity::per_tensor,
                                              .calibration_mode = CalibrationMode::percentile, .percentile = 100});
  CHECK(a.scales[0] == float(9.0 / 127.0));
}

TEST_CASE("mse_optimal picks the grid ratio with the smallest squared error (brute-force reference)") {
  for (Precision p : {Precision::int8, Precision::int4, Precision::fp8_e4m3}) {
    CAPTURE(p);
    const Matrix x = llm_like_activations(4, 256, 7);
    const QuantizedTensor q = quantize(x, {.precision = p, .granularity = Granularity::per_tensor,
                                           .calibration_mode = CalibrationMode::mse_optimal});
    // Reference: every candidate clip r * amax, r = 0.5 + 0.5 k / 99, quantised with that scale through the
    // static path; the smallest error wins, ties to the larger ratio.
    double amax = 0;
    for (float v : x.values) amax = std::max(amax, double(std::fabs(v)));
    const double fmax = format_info(p).max_finite;
    double best_err = std::numeric_limits<double>::infinity();
    float best_scale = 0;
    for (int k = 99; k >= 0; --k) {
      const double r = 0.5 + 0.5 * k / 99.0;
      const float s = float(r * amax / fmax);
      const Matrix d = dequantize(quantize_with_scales(x, with_scales(p, Granularity::per_tensor, x.rows, x.cols, {s})));
      double err = 0;
      for (std::size_t i = 0; i < d.values.size(); ++i) err += std::pow(double(d.values[i]) - double(x.values[i]), 2);
      if (err < best_err) {
        best_err = err;
        best_scale = s;
      }
    }
    CHECK(q.scales[0] == best_scale);
    // And never worse than absmax (ratio 1 is a candidate).
    CHECK(rel_rmse(x, {.precision = p, .granularity = Granularity::per_tensor,
                       .calibration_mode = CalibrationMode::mse_optimal}) <=
          rel_rmse(x, {.precision = p, .granularity = Granularity::per_tensor}));
  }
}

// ---- properties, looped over formats x granularities x calibration x data ---------------------------

TEST_CASE("property: every element decodes to a nearest representable value, within the format's bound") {
  for (const Sample& s : samples()) {
    for (Precision p : scaled_formats) {
      for (Granularity g : granularities_for(p, s.role)) {
        for (CalibrationMode m : all_modes) {
          CAPTURE(s.name);
          CAPTURE(p);
          CAPTURE(g);
          CAPTURE(m);
          check_quantized(s.x, quantize(s.x, {.precision = p, .granularity = g, .calibration_mode = m, .role = s.role}));
        }
      }
    }
  }
  // int4 groups of 16 and fp8 blocks of 32, not only the defaults.
  const Matrix x = llm_like_activations(8, 100, 9);  // 100 is not a multiple of the block: a partial last block
  check_quantized(x, quantize(x, {.precision = Precision::int4, .granularity = Granularity::per_block, .block_elements = 16}));
  check_quantized(x, quantize(x, {.precision = Precision::fp8_e4m3, .granularity = Granularity::per_block, .block_elements = 32}));
}

TEST_CASE("property: 16-bit formats round each element to nearest even") {
  const Matrix x = llm_like_activations(8, 64, 4);
  const Matrix h = dequantize(quantize(x, {.precision = Precision::fp16}));
  const Matrix b = dequantize(quantize(x, {.precision = Precision::bf16}));
  for (std::size_t i = 0; i < x.values.size(); ++i) {
    CHECK(h.values[i] == round_to_fp16(x.values[i]));
    CHECK(b.values[i] == round_to_bf16(x.values[i]));
  }
}

TEST_CASE("property: quantising twice changes nothing") {
  for (const Sample& s : samples()) {
    for (Precision p : scaled_formats) {
      for (Granularity g : granularities_for(p, s.role)) {
        CAPTURE(s.name);
        CAPTURE(p);
        CAPTURE(g);
        // (a) absmax, dynamic both times: identical codes; scales equal up to one fp32 rounding (the second
        // absmax is decode(max code) * s, rounded).
        const QuantSpec spec{.precision = p, .granularity = g, .role = s.role};
        const QuantizedTensor q1 = quantize(s.x, spec);
        const QuantizedTensor q2 = quantize(dequantize(q1), spec);
        CHECK(q2.codes == q1.codes);
        CHECK(q2.scale_codes == q1.scale_codes);
        REQUIRE(q2.scales.size() == q1.scales.size());
        for (std::size_t i = 0; i < q1.scales.size(); ++i)
          CHECK(std::fabs(q2.scales[i] - q1.scales[i]) <= 5e-7f * q1.scales[i]);  // a few fp32 roundings
        // (b) every calibration mode, requantised with its own scales: identical codes and scales.
        for (CalibrationMode m : all_modes) {
          QuantSpec sm = spec;
          sm.calibration_mode = m;
          const QuantizedTensor r1 = quantize(s.x, sm);
          const QuantizedTensor r2 = quantize_with_scales(dequantize(r1), r1);
          CHECK(r2.codes == r1.codes);
          CHECK(r2.scales == r1.scales);
        }
      }
    }
  }
}

TEST_CASE("property: more bits never give more error on the same data and granularity") {
  // Chains tested (absmax and mse_optimal calibration, each granularity):
  //   int4 >= int8 (same granularity; blocks of 128 and of 16);
  //   fp8_e5m2 >= fp8_e4m3 (two mantissa bits against three);
  //   nvfp4 >= fp8_e4m3 per_block 16;  mxfp4 >= fp8_e4m3 per_block 32;
  //   fp8_e4m3 per_tensor >= bf16 >= fp16 (fp16 has 10 mantissa bits, bf16 7; data within fp16 range).
  for (const Sample& s : samples()) {
    for (CalibrationMode m : {CalibrationMode::absmax, CalibrationMode::mse_optimal}) {
      CAPTURE(s.name);
      CAPTURE(m);
      auto err = [&](Precision p, Granularity g, int block = 0) {
        return rel_rmse(s.x, {.precision = p, .granularity = g, .calibration_mode = m, .role = s.role,
                              .block_elements = block});
      };
      for (Granularity g : granularities_for(Precision::int8, s.role)) {
        CAPTURE(g);
        CHECK(err(Precision::int4, g) >= err(Precision::int8, g));
        CHECK(err(Precision::fp8_e5m2, g) >= err(Precision::fp8_e4m3, g));
      }
      CHECK(err(Precision::int4, Granularity::per_block, 16) >= err(Precision::int8, Granularity::per_block, 16));
      CHECK(err(Precision::nvfp4, Granularity::per_block) >= err(Precision::fp8_e4m3, Granularity::per_block, 16));
      CHECK(err(Precision::mxfp4, Granularity::per_block) >= err(Precision::fp8_e4m3, Granularity::per_block, 32));
      CHECK(err(Precision::fp8_e4m3, Granularity::per_tensor) >= err(Precision::bf16, Granularity::per_tensor));
      CHECK(err(Precision::bf16, Granularity::per_tensor) >= err(Precision::fp16, Granularity::per_tensor));
    }
  }
}

TEST_CASE("property: per-channel (and every finer granularity) is never worse than per-tensor") {
  // With power-of-two scales the statement holds element by element: a finer granule's scale is the tensor's
  // divided by 2^j, whose grid contains the tensor's grid (integers) or the same values shifted in exponent
  // with at least as many subnormal steps (floats), so the nearest point is at least as close.
  // With plain fp32 scales it holds for the total error (integers: a smaller step; floats: the same relative
  // grid, fewer values pushed into the subnormal range).
  for (const Sample& s : samples()) {
    for (Precision p : {Precision::fp8_e4m3, Precision::fp8_e5m2, Precision::int8, Precision::int4}) {
      CAPTURE(s.name);
      CAPTURE(p);
      const QuantSpec tensor_pow2{.precision = p, .granularity = Granularity::per_tensor, .role = s.role,
                                  .power_of_two_scales = true};
      const Matrix dt = dequantize(quantize(s.x, tensor_pow2));
      const double et = rel_rmse(s.x, {.precision = p, .granularity = Granularity::per_tensor, .role = s.role});
      for (Granularity g : granularities_for(p, s.role)) {
        if (g == Granularity::per_tensor) continue;
        CAPTURE(g);
        QuantSpec fine = tensor_pow2;
        fine.granularity = g;
        const Matrix df = dequantize(quantize(s.x, fine));
        std::int64_t worse = 0;
        for (std::size_t i = 0; i < s.x.values.size(); ++i) {
          if (std::fabs(double(df.values[i]) - s.x.values[i]) > std::fabs(double(dt.values[i]) - s.x.values[i])) ++worse;
        }
        CHECK(worse == 0);
        CHECK(rel_rmse(s.x, {.precision = p, .granularity = g, .role = s.role}) <= et);
      }
    }
  }
}

// ---- NaN, inf and bad input ------------------------------------------------------------------------

TEST_CASE("NaN and inf follow each format's rule and are counted") {
  const Matrix x = row({1.0f, nan_f, inf_f, -inf_f, 2.0f});
  // E4M3: amax of the finite values 2 -> scale 2/448. NaN -> 0x7F; inf saturates to +-448 (0x7E / 0xFE) or,
  // with propagate, becomes NaN (E4M3 has no inf).
  const QuantizedTensor s = quantize(x, {.precision = Precision::fp8_e4m3, .granularity = Granularity::per_tensor});
  // 1 * 448/2 = 224 = 1.75 * 2^7 = 0.1110.110 = 0x76; 2 -> 448 = 0x7E.
  CHECK(s.codes == std::vector<std::uint16_t>{0x76, 0x7F, 0x7E, 0xFE, 0x7E});
  CHECK(s.counts == QuantCounts{.nan_count = 1, .inf_count = 2, .saturated_count = 0});
  const Matrix sd = dequantize(s);
  CHECK(std::isnan(sd.values[1]));
  CHECK(sd.values[2] == 2.0f);
  CHECK(sd.values[3] == -2.0f);
  const QuantizedTensor p = quantize(x, {.precision = Precision::fp8_e4m3, .granularity = Granularity::per_tensor,
                                         .overflow = Overflow::propagate});
  CHECK(p.codes[2] == 0x7F);
  CHECK(p.codes[3] == 0xFF);
  // E5M2 propagate keeps inf.
  const Matrix e5 = dequantize(quantize(x, {.precision = Precision::fp8_e5m2, .granularity = Granularity::per_tensor,
                                            .overflow = Overflow::propagate}));
  CHECK(e5.values[2] == inf_f);
  CHECK(e5.values[3] == -inf_f);
  // Integers cannot hold NaN or inf: NaN -> 0, inf -> +-qmax.
  const QuantizedTensor i = quantize(x, {.precision = Precision::int8, .granularity = Granularity::per_tensor});
  CHECK(i.codes[1] == 0);
  CHECK(i.codes[2] == 0x7F);
  CHECK(i.codes[3] == 0x81);
  CHECK(i.counts == QuantCounts{.nan_count = 1, .inf_count = 2, .saturated_count = 0});
  // nvfp4 / mxfp4: a block holding a NaN gets the NaN scale code and decodes to NaN; other blocks are intact.
  std::vector<float> v(32, 1.0f);
  v[3] = nan_f;
  v[20] = inf_f;
  const QuantizedTensor n = quantize(row(v), {.precision = Precision::nvfp4, .granularity = Granularity::per_block});
  CHECK(n.scale_codes[0] == 0x7F);
  const Matrix nd = dequantize(n);
  CHECK(std::isnan(nd.values[0]));
  // Block 1: finite amax 1, tensor scale 1/2688, block scale 448 (0x7E): 1.0 -> 6 * (448 / 2688) = 1.
  CHECK(n.scale_codes[1] == 0x7E);
  CHECK(nd.values[16] == ROOFLINE_APPROX(1.0));
  CHECK(nd.values[20] == nd.values[16]);  // inf saturates to E2M1's 6, like the block's maximum
  CHECK(n.counts.nan_count == 1);
  CHECK(n.counts.inf_count == 1);
  std::vector<float> w(64, 1.0f);
  w[40] = nan_f;
  const QuantizedTensor mx = quantize(row(w), {.precision = Precision::mxfp4, .granularity = Granularity::per_block});
  CHECK(mx.scale_codes[1] == 0xFF);
  CHECK(std::isnan(dequantize(mx).values[33]));
  CHECK(dequantize(mx).values[0] == 1.0f);
  // fp16: NaN stays; inf and finite overflow saturate to 65504, or propagate as inf.
  const Matrix h = row({nan_f, inf_f, 1e5f});
  const Matrix hs = dequantize(quantize(h, {.precision = Precision::fp16}));
  CHECK(std::isnan(hs.values[0]));
  CHECK(hs.values[1] == 65504.0f);
  CHECK(hs.values[2] == 65504.0f);
  const QuantizedTensor hp = quantize(h, {.precision = Precision::fp16, .overflow = Overflow::propagate});
  CHECK(dequantize(hp).values[2] == inf_f);
  CHECK(hp.counts == QuantCounts{.nan_count = 1, .inf_count = 1, .saturated_count = 1});
}

TEST_CASE("bad input raises InvalidArgumentError with a clear message") {
  CHECK_THROWS_WITH_AS(quantize(Matrix{}, {}), "quantize: empty tensor [0x0]; quantisation needs at least one element",
                       InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize(Matrix{2, 2, {1, 2, 3}}, {}), "quantize: 3 values for shape [2x2]",
                       InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize(row({1}), {.precision = Precision::fp32}),
                       "precision fp32 is the unquantised reference; quantize supports bf16, fp16, fp8_e4m3, "
                       "fp8_e5m2, int8, int4, nvfp4, mxfp4",
                       InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize(row({1}), {.precision = Precision::nvfp4, .granularity = Granularity::per_token}),
                       "nvfp4 scales blocks of 16 elements by definition; granularity must be per_block, got per_token",
                       InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize(row({1}), {.precision = Precision::nvfp4, .granularity = Granularity::per_block,
                                           .block_elements = 32}),
                       "nvfp4 blocks have 16 elements by definition; got block_elements 32", InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize(row({1}), {.precision = Precision::int8, .role = TensorRole::weight}),
                       "granularity per_token applies to activations; a weight [out, in] has no token axis "
                       "(per_channel gives one scale per output row)",
                       InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize(row({1}), {.calibration_mode = CalibrationMode::percentile, .percentile = 0}),
                       "percentile: must be in (0, 100], got 0", InvalidArgumentError);
  // A scale that underflows fp32: absmax 2^-140 / 448 is below the smallest normal float.
  try {
    (void)quantize(row({0x1p-140f}), {.precision = Precision::fp8_e4m3, .granularity = Granularity::per_tensor});
    FAIL("no exception for an underflowing scale");
  } catch (const InvalidArgumentError& e) {
    std::ostringstream want;
    want << "fp8_e4m3 per_tensor granule 0 of 1: scale " << float(0x1p-140 / 448.0) << " (clipping magnitude "
         << 0x1p-140 << ") is zero, subnormal or non-finite in fp32; the values are too small or too large to quantise";
    CHECK(std::string(e.what()) == want.str());
  }
  // Zero and non-finite scales handed in.
  QuantizedTensor zero = with_scales(Precision::int8, Granularity::per_tensor, 1, 2, {0.0f});
  zero.codes = {1, 2};
  CHECK_THROWS_WITH_AS(dequantize(zero), "dequantize: scale 0 is 0; scales must be positive and finite",
                       InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize_with_scales(row({1, 2}), with_scales(Precision::int8, Granularity::per_tensor, 1, 2, {inf_f})),
                       "quantize_with_scales: scale 0 is inf; scales must be positive and finite", InvalidArgumentError);
  CHECK_THROWS_WITH_AS(quantize_with_scales(row({1, 2, 3}), with_scales(Precision::int8, Granularity::per_tensor, 1, 2, {1})),
                       "quantize_with_scales: tensor [1x3] does not match the reference's [1x2]", InvalidArgumentError);
  CHECK_THROWS_WITH_AS(compute_activation_stats(row({nan_f, inf_f})), "activation stats: no finite value among 2 elements",
                       InvalidArgumentError);
}

// ---- statistics ------------------------------------------------------------------------------------

TEST_CASE("normal_quantile matches tabulated values") {
  CHECK(normal_quantile(0.975) == ROOFLINE_APPROX(1.959963984540054).epsilon(1e-12));
  CHECK(std::fabs(normal_quantile(0.5)) < 1e-12);
  CHECK(normal_quantile(0.8413447460685429) == ROOFLINE_APPROX(1.0).epsilon(1e-12));  // Phi(1)
  CHECK(normal_quantile(1e-10) == ROOFLINE_APPROX(-6.361340902404056).epsilon(1e-10));
  CHECK_THROWS_AS(normal_quantile(1.0), InvalidArgumentError);
}

TEST_CASE("activation stats of a small tensor, worked by hand") {
  // x = 1, 2, 3, 4: mean 2.5, population std sqrt(1.25) = 1.118034; |x| percentiles with h = 3p/100:
  // p50 -> h 1.5 -> 2.5; p99 -> h 2.97 -> 3.97; p99.9 -> 3.997. sigma_bulk = 2.5 / 0.6744898 = 3.706506;
  // z_4 = Phi^-1(1 - 1/8) = 1.150349; outlier_ratio = 4 / (3.706506 * 1.150349) = 4 / 4.263777 = 0.938136;
  // dynamic_range = 4 / 2.5 = 1.6.
  const ActivationStats s = compute_activation_stats(row({1, 2, 3, 4}));
  CHECK(s.mean == ROOFLINE_APPROX(2.5));
  CHECK(s.std == ROOFLINE_APPROX(1.118034));
  CHECK(s.absmax == 4);
  CHECK(s.p50 == ROOFLINE_APPROX(2.5));
  CHECK(s.p99 == ROOFLINE_APPROX(3.97));
  CHECK(s.p999 == ROOFLINE_APPROX(3.997));
  CHECK(s.outlier_ratio == ROOFLINE_APPROX(0.938136).epsilon(1e-5));
  CHECK(s.dynamic_range == ROOFLINE_APPROX(1.6));
  // The summary form gives the same derived values.
  const ActivationStats t = activation_stats_from_summary(4, 2.5, std::sqrt(1.25), 2.5, 3.97, 3.997, 1, 4);
  CHECK(t.outlier_ratio == ROOFLINE_APPROX(s.outlier_ratio));
  CHECK(t.dynamic_range == ROOFLINE_APPROX(s.dynamic_range));
  CHECK(compute_activation_stats(row({nan_f, 1, inf_f})).nan_count == 1);
}

TEST_CASE("outlier_ratio is about 1 for Gaussian data of any size and large for outlier channels") {
  for (std::int64_t cols : {1024, 4096, 262144}) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      CAPTURE(cols);
      const double r = compute_activation_stats(gaussian_matrix(1, cols, seed)).outlier_ratio;
      CHECK(r > 0.75);
      CHECK(r < 1.3);
    }
  }
  LlmTensorOptions o;
  o.outlier_scale_min = o.outlier_scale_max = 100;
  CHECK(compute_activation_stats(llm_like_activations(64, 1024, 1, o)).outlier_ratio > 50);
  o.outlier_channel_fraction = 0;
  o.activation_student_t_dof = 0;
  o.token_scale_sigma = 0;
  CHECK(compute_activation_stats(llm_like_activations(64, 1024, 1, o)).outlier_ratio < 1.3);
}

TEST_CASE("llm-like activations have the stated number of outlier channels and are deterministic") {
  // 0.5% of 1024 channels = 5.12 -> 5 channels, each 20-100x: their RMS over tokens is > 10x the median's.
  const Matrix x = llm_like_activations(128, 1024, 5);
  CHECK(x == llm_like_activations(128, 1024, 5));
  CHECK(x != llm_like_activations(128, 1024, 6));
  std::vector<double> rms(1024, 0.0);
  for (std::int64_t t = 0; t < 128; ++t)
    for (std::int64_t c = 0; c < 1024; ++c) rms[std::size_t(c)] += std::pow(double(x(t, c)), 2) / 128.0;
  std::vector<double> sorted = rms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[512];
  CHECK(std::count_if(rms.begin(), rms.end(), [&](double v) { return v > 100 * median; }) == 5);
  const Matrix w = llm_like_weights(256, 256, 5);
  double ss = 0;
  for (float v : w.values) ss += double(v) * v;
  CHECK(std::sqrt(ss / double(w.size())) == ROOFLINE_APPROX(0.02).epsilon(0.1));
}

// ---- DynamicQuantizer ------------------------------------------------------------------------------

TEST_CASE("DynamicQuantizer quantises activation and weight and reports its metadata") {
  const Matrix x = llm_like_activations(8, 128, 1);
  const Matrix w = llm_like_weights(16, 128, 2);
  DynamicQuantizer dq(DynamicQuantConfig{});  // fp8_e4m3, per_token, absmax
  const DynamicQuantResult r = dq.quantize_dynamic(x, w, "ffn_gate");
  CHECK(r.metadata.precision == Precision::fp8_e4m3);
  CHECK_FALSE(r.metadata.fallback);
  CHECK(r.metadata.outlier_threshold == 30000.0);
  CHECK(r.metadata.scales.size() == 8);
  CHECK(r.activation == quantize(x, {.precision = Precision::fp8_e4m3, .granularity = Granularity::per_token}));
  REQUIRE(r.weight.has_value());
  CHECK(*r.weight == quantize(w, {.precision = Precision::fp8_e4m3, .granularity = Granularity::per_channel,
                                  .role = TensorRole::weight}));
  CHECK(r.metadata.outlier_ratio == compute_activation_stats(x).outlier_ratio);
  // A target precision overrides the config; nvfp4 is per_block for both tensors.
  const DynamicQuantResult n = dq.quantize_dynamic(x, w, "ffn_gate", Precision::nvfp4);
  CHECK(n.activation.spec.granularity == Granularity::per_block);
  CHECK(n.weight->spec.granularity == Granularity::per_block);
  CHECK(n.metadata.requested_precision == Precision::nvfp4);
  CHECK_THROWS_WITH_AS(dq.quantize_dynamic(x, Matrix{4, 64, std::vector<float>(256, 1.0f)}, "q_proj"),
                       "weight [4x64] does not share the reduction dimension of activation [8x128]",
                       InvalidArgumentError);
}

TEST_CASE("DynamicQuantizer falls back to fp16 when the outlier ratio is over the threshold") {
  LlmTensorOptions o;
  o.outlier_scale_min = o.outlier_scale_max = 100;
  const Matrix x = llm_like_activations(16, 256, 3, o);  // outlier_ratio ~ 100 > int8's 12
  DynamicQuantizer dq(DynamicQuantConfig{.precision = Precision::int8});
  const DynamicQuantResult r = dq.quantize_dynamic(x, "down_proj");
  CHECK(r.metadata.outlier_ratio > 12);
  CHECK(r.metadata.fallback);
  CHECK(r.metadata.precision == Precision::fp16);
  CHECK(dequantize(r.activation) == dequantize(quantize(x, {.precision = Precision::fp16})));
  DynamicQuantizer no(DynamicQuantConfig{.precision = Precision::int8, .fallback_to_fp16 = false});
  CHECK_FALSE(no.quantize_dynamic(x, "down_proj").metadata.fallback);
  DynamicQuantizer high(DynamicQuantConfig{.precision = Precision::int8, .outlier_threshold = 1e6});
  CHECK_FALSE(high.quantize_dynamic(x, "down_proj").metadata.fallback);
}

TEST_CASE("DynamicQuantizer smooths clipping magnitudes across calls per operator (EMA)") {
  DynamicQuantizer dq(DynamicQuantConfig{.precision = Precision::fp8_e4m3,
                                         .granularity = Granularity::per_tensor,
                                         .scale_ema_decay = 0.5});
  // Call 1: amax 448 -> scale 1. Call 2: amax 896; smoothed clip 0.5 * 448 + 0.5 * 896 = 672 -> scale 1.5,
  // and 896 / 1.5 = 597 >= 464 saturates to 448 * 1.5 = 672.
  const DynamicQuantResult a = dq.quantize_dynamic(row({448.0f, 1.0f}), "o_proj");
  CHECK(a.metadata.scales == std::vector<float>{1.0f});
  CHECK_FALSE(a.metadata.ema_applied);
  const DynamicQuantResult b = dq.quantize_dynamic(row({896.0f, 1.0f}), "o_proj");
  CHECK(b.metadata.ema_applied);
  CHECK(b.metadata.scales == std::vector<float>{1.5f});
  CHECK(b.metadata.activation_counts.saturated_count == 1);
  CHECK(dequantize(b.activation).values[0] == 672.0f);
  // Another operator has its own state; reset_ema forgets it.
  CHECK(dq.quantize_dynamic(row({896.0f, 1.0f}), "q_proj").metadata.scales == std::vector<float>{2.0f});
  dq.reset_ema();
  CHECK(dq.quantize_dynamic(row({896.0f, 1.0f}), "o_proj").metadata.scales == std::vector<float>{2.0f});
  CHECK_THROWS_WITH_AS(DynamicQuantizer(DynamicQuantConfig{.scale_ema_decay = 1.0}),
                       "scale_ema_decay: must be in [0, 1), got 1", InvalidArgumentError);
}

// ---- AdaptivePrecisionSelector ---------------------------------------------------------------------

TEST_CASE("AdaptivePrecisionSelector moves between candidates at the thresholds and uses the context") {
  const AdaptivePrecisionSelector sel(AdaptiveQuantConfig{});  // nvfp4, fp8_e4m3, fp16; 40 / 100 / 30000
  auto stats = [](double ratio) {
    ActivationStats s;
    s.outlier_ratio = ratio;
    return s;
  };
  const SelectionContext decode{.phase = Phase::decode, .seq_len = 4096};
  const SelectionContext prefill{.phase = Phase::prefill, .seq_len = 4096};
  const SelectionContext kv{.phase = Phase::decode, .seq_len = 4096, .is_kv_cache = true};
  CHECK(sel.select_precision("q_proj", stats(4), decode) == Precision::nvfp4);
  CHECK(sel.select_precision("q_proj", stats(40), prefill) == Precision::nvfp4);  // <= low
  CHECK(sel.select_precision("q_proj", stats(60), decode) == Precision::nvfp4);   // (low, medium], decode GEMM
  CHECK(sel.select_precision("q_proj", stats(60), prefill) == Precision::fp8_e4m3);
  CHECK(sel.select_precision("k_cache", stats(60), kv) == Precision::fp8_e4m3);  // 4096 < 8192 tokens
  const SelectionContext long_kv{.phase = Phase::decode, .seq_len = 32768, .is_kv_cache = true};
  CHECK(sel.select_precision("k_cache", stats(60), long_kv) == Precision::nvfp4);
  CHECK(sel.select("k_cache", stats(60), long_kv).reason ==
        "k_cache: outlier_ratio 60 in (low 40, medium 100], KV cache at seq_len 32768 >= 8192: narrowest candidate");
  CHECK(sel.select_precision("k_cache", stats(150), long_kv) == Precision::fp8_e4m3);
  CHECK(sel.select_precision("q_proj", stats(150), decode) == Precision::fp8_e4m3);  // (medium, high]
  CHECK(sel.select_precision("q_proj", stats(40000), decode) == Precision::fp16);    // > high
  CHECK(sel.select("q_proj", stats(150), decode).reason ==
        "q_proj: outlier_ratio 150 > medium 100: narrowest 8-bit candidate");
  // Candidates are ordered by bits, whatever order they are given in.
  const AdaptivePrecisionSelector a100(AdaptiveQuantConfig{.precision_candidates = {Precision::fp16, Precision::int8}});
  CHECK(a100.select_precision("q_proj", stats(1), decode) == Precision::int8);
  CHECK(a100.select_precision("q_proj", stats(1e5), decode) == Precision::fp16);
  CHECK_THROWS_WITH_AS(AdaptivePrecisionSelector(AdaptiveQuantConfig{.high_outlier_threshold = 1,
                                                                     .medium_outlier_threshold = 2,
                                                                     .low_outlier_threshold = 3}),
                       "outlier thresholds: need 0 < low <= medium <= high, got low 3, medium 2, high 1",
                       InvalidArgumentError);
}

// ---- measured error --------------------------------------------------------------------------------

TEST_CASE("measure_quant_error covers every format x granularity x calibration and is deterministic") {
  const QuantErrorOptions o{.tokens = 16, .in_features = 256, .out_features = 16, .seed = 3};
  const std::vector<QuantErrorRow> rows = measure_quant_error(o);
  CHECK(rows.size() == 4 * 4 * 3 + 2 * 3);
  CHECK(rows == measure_quant_error(o));
  for (const QuantErrorRow& r : rows) {
    CAPTURE(r);
    CHECK(r.matmul_cosine > 0.5);
    CHECK(r.matmul_cosine <= 1.0);
    CHECK(r.activation_sqnr_db == ROOFLINE_APPROX(-20 * std::log10(r.activation_rel_rmse)));
    if (r.granularity == Granularity::per_token) CHECK(r.weight_granularity == Granularity::per_channel);
    if (r.precision == Precision::nvfp4)  // 4.5 bits + the fp32 tensor scale over 4096 elements
      CHECK(r.activation_bits_per_element == ROOFLINE_APPROX(4.5 + 32.0 / 4096));
    if (r.precision == Precision::mxfp4) CHECK(r.activation_bits_per_element == ROOFLINE_APPROX(4.25));
  }
  // An independent check of one row: compare() and matmul_error() on the same quantisation.
  const Matrix x = llm_like_activations(16, 256, 3);
  const Matrix w = llm_like_weights(16, 256, 4);
  const QuantSpec xs{.precision = Precision::int8, .granularity = Granularity::per_token};
  const QuantSpec ws{.precision = Precision::int8, .granularity = Granularity::per_channel, .role = TensorRole::weight};
  const ErrorMetrics m = matmul_error(x, w, dequantize(quantize(x, xs)), dequantize(quantize(w, ws)));
  const auto it = std::find_if(rows.begin(), rows.end(), [](const QuantErrorRow& r) {
    return r.precision == Precision::int8 && r.granularity == Granularity::per_token &&
           r.calibration_mode == CalibrationMode::absmax;
  });
  REQUIRE(it != rows.end());
  CHECK(it->matmul_cosine == ROOFLINE_APPROX(m.cosine).epsilon(1e-12));
  CHECK(it->matmul_rel_rmse == ROOFLINE_APPROX(m.rel_rmse).epsilon(1e-12));
}

TEST_CASE("compare and matmul_error, worked by hand") {
  // ref (3, 4), approx (3, 5): err^2 = 1, ref^2 = 25 -> rel RMSE 0.2, SQNR 10 log10 25 = 13.98 dB;
  // cosine = (9 + 20) / (5 * sqrt(34)) = 0.994692.
  const ErrorMetrics e = compare(row({3, 4}), row({3, 5}));
  CHECK(e.rel_rmse == ROOFLINE_APPROX(0.2));
  CHECK(e.sqnr_db == ROOFLINE_APPROX(13.9794));
  CHECK(e.cosine == ROOFLINE_APPROX(0.994692).epsilon(1e-6));
  CHECK(e.max_abs_error == 1.0);
  // Y = X W^T with X = [1, 2], W = [[1, 1]]: 3; with Wq = [[1, 2]]: 5 -> rel RMSE 2/3.
  const ErrorMetrics mm = matmul_error(row({1, 2}), row({1, 1}), row({1, 2}), row({1, 2}));
  CHECK(mm.rel_rmse == ROOFLINE_APPROX(2.0 / 3.0));
  CHECK_THROWS_AS(compare(row({1}), row({1, 2})), InvalidArgumentError);
}

TEST_CASE("default thresholds lie inside the measured outlier-tolerance brackets") {
  // Re-measures the sweep of docs/quantization-error.md with the CLI's defaults and checks that each default
  // threshold sits between the two measured outlier ratios around the crossing it was read from.
  const std::vector<OutlierSweepRow> sweep = measure_outlier_sweep(QuantErrorOptions{}, default_outlier_sweep_scales());
  auto find = [](const std::vector<OutlierTolerance>& t, Precision p) {
    return *std::find_if(t.begin(), t.end(), [&](const OutlierTolerance& x) { return x.precision == p; });
  };
  const std::vector<OutlierTolerance> x2 = outlier_tolerance(sweep, 2.0);
  const std::vector<OutlierTolerance> x15 = outlier_tolerance(sweep, 1.5);
  for (Precision p : {Precision::int8, Precision::int4, Precision::nvfp4, Precision::mxfp4, Precision::fp8_e4m3,
                      Precision::fp8_e5m2}) {
    const OutlierTolerance t = find(x2, p);
    CAPTURE(t);
    const double d = default_outlier_threshold(p);
    if (std::isinf(t.crossing_ratio)) {
      CHECK(std::isinf(d));
    } else {
      CHECK(d >= t.ratio_below);
      CHECK(d <= t.ratio_above);
    }
  }
  const AdaptiveQuantConfig a{};
  const OutlierTolerance nv15 = find(x15, Precision::nvfp4), nv2 = find(x2, Precision::nvfp4),
                         e4 = find(x2, Precision::fp8_e4m3);
  CHECK(a.low_outlier_threshold >= nv15.ratio_below);
  CHECK(a.low_outlier_threshold <= nv15.ratio_above);
  CHECK(a.medium_outlier_threshold >= nv2.ratio_below);
  CHECK(a.medium_outlier_threshold <= nv2.ratio_above);
  CHECK(a.high_outlier_threshold >= e4.ratio_below);
  CHECK(a.high_outlier_threshold <= e4.ratio_above);
}
