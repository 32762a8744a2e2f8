#include "roofline/precision.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>

#include "roofline/errors.hpp"

namespace roofline {

namespace {
struct Alias {
  std::string_view spelling;  // upper case
  Precision precision;
};
// The seeds' spellings (seed 002_: "FP8_E4M3", "NVFP4_KV", ...). "W4A16" names the weight format of the
// w4a16 strategy; "FP8" alone means E4M3, the format every FP8 GEMM and KV cache uses for values.
constexpr Alias aliases[] = {
    {"FP32", Precision::fp32},         {"FLOAT32", Precision::fp32},      {"BF16", Precision::bf16},
    {"BFLOAT16", Precision::bf16},     {"FP16", Precision::fp16},         {"FLOAT16", Precision::fp16},
    {"HALF", Precision::fp16},         {"FP8_E4M3", Precision::fp8_e4m3}, {"E4M3", Precision::fp8_e4m3},
    {"FP8", Precision::fp8_e4m3},      {"FP8_E5M2", Precision::fp8_e5m2}, {"E5M2", Precision::fp8_e5m2},
    {"INT8", Precision::int8},         {"INT4", Precision::int4},         {"W4A16", Precision::int4},
    {"NVFP4", Precision::nvfp4},       {"NVFP4_KV", Precision::nvfp4},    {"MXFP4", Precision::mxfp4},
    {"FP8_KV", Precision::fp8_e4m3},   {"FP8_E4M3_KV", Precision::fp8_e4m3},
};

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return out;
}
}  // namespace

std::string_view to_string(Precision p) { return format_info(p).name; }

std::string_view to_string(MathPath m) {
  switch (m) {
    case MathPath::simt_fp32: return "simt_fp32";
    case MathPath::tc_16bit: return "tc_16bit";
    case MathPath::tc_fp8: return "tc_fp8";
    case MathPath::tc_int8: return "tc_int8";
    case MathPath::tc_fp4: return "tc_fp4";
    case MathPath::tc_int4: return "tc_int4";
  }
  return "?";
}

MathPath parse_math_path(std::string_view name) {
  std::vector<std::string> known;
  for (std::size_t m = 0; m < math_path_count; ++m) {
    if (to_string(MathPath(m)) == name) return MathPath(m);
    known.emplace_back(to_string(MathPath(m)));
  }
  throw UnknownNameError("math path", std::string(name), std::move(known));
}

std::ostream& operator<<(std::ostream& os, Precision p) { return os << to_string(p); }
std::ostream& operator<<(std::ostream& os, MathPath m) { return os << to_string(m); }

bool try_parse_precision(std::string_view text, Precision& out) {
  for (const FormatInfo& f : format_table) {  // the canonical spelling, without case folding
    if (f.name == text) {
      out = f.precision;
      return true;
    }
  }
  const std::string u = upper(text);
  for (const FormatInfo& f : format_table) {
    if (upper(f.name) == u) {
      out = f.precision;
      return true;
    }
  }
  for (const Alias& a : aliases) {
    if (a.spelling == u) {
      out = a.precision;
      return true;
    }
  }
  return false;
}

Precision parse_precision(std::string_view text) {
  Precision p{};
  if (!try_parse_precision(text, p)) throw UnknownNameError("precision", std::string(text), precision_names());
  return p;
}

std::vector<std::string> precision_names() {
  std::vector<std::string> names;
  for (const FormatInfo& f : format_table) names.emplace_back(f.name);
  return names;
}

}  // namespace roofline

// ---- scalar codecs ---------------------------------------------------------------------------------

namespace roofline {

namespace {
// A small float format: `ebits` exponent bits, `mbits` mantissa bits, exponent bias `bias`.
struct MiniFloat {
  int ebits;
  int mbits;
  int bias;
  double max_finite;
};

// Rounds |a| (finite, >= 0) to the format's grid with round-half-to-even; returns the rounded magnitude
// (may exceed max_finite: the caller decides what overflow means).
double round_to_grid(double a, const MiniFloat& f) {
  if (a == 0.0) return 0.0;
  const int min_normal_exp = 1 - f.bias;
  int e2 = 0;
  std::frexp(a, &e2);  // a = frac * 2^e2, frac in [0.5, 1)
  int exponent = std::max(e2 - 1, min_normal_exp);
  const double quantum = std::ldexp(1.0, exponent - f.mbits);
  const double q = a / quantum;  // exact: division by a power of two
  double r = std::floor(q);
  const double rem = q - r;
  if (rem > 0.5 || (rem == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  return r * quantum;
}

// Encodes a magnitude already on the grid and <= max_finite into exponent and mantissa fields.
std::uint8_t pack_magnitude(double v, const MiniFloat& f) {
  const int min_normal_exp = 1 - f.bias;
  if (v < std::ldexp(1.0, min_normal_exp)) {  // subnormal or zero: exponent field 0
    const double m = v / std::ldexp(1.0, min_normal_exp - f.mbits);
    return static_cast<std::uint8_t>(std::lround(m));
  }
  int e2 = 0;
  std::frexp(v, &e2);
  const int exponent = e2 - 1;
  const double mant = (v / std::ldexp(1.0, exponent) - 1.0) * std::ldexp(1.0, f.mbits);
  return static_cast<std::uint8_t>(((exponent + f.bias) << f.mbits) | int(std::lround(mant)));
}

double unpack_magnitude(std::uint8_t bits, const MiniFloat& f) {
  const int e = bits >> f.mbits;
  const int m = bits & ((1 << f.mbits) - 1);
  if (e == 0) return std::ldexp(double(m), 1 - f.bias - f.mbits);
  return std::ldexp(1.0 + double(m) / double(1 << f.mbits), e - f.bias);
}

constexpr MiniFloat e4m3{4, 3, 7, 448.0};
constexpr MiniFloat e5m2{5, 2, 15, 57344.0};
constexpr MiniFloat e2m1{2, 1, 1, 6.0};
}  // namespace

std::uint8_t encode_fp8_e4m3(float x, Overflow overflow) {
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  if (std::isnan(x)) return sign | 0x7F;
  const double a = std::fabs(double(x));
  const double r = std::isinf(a) ? std::numeric_limits<double>::infinity() : round_to_grid(a, e4m3);
  if (r > e4m3.max_finite) return overflow == Overflow::saturate ? (sign | 0x7E) : (sign | 0x7F);
  return sign | pack_magnitude(r, e4m3);
}

float decode_fp8_e4m3(std::uint8_t code) {
  const bool neg = code & 0x80;
  const std::uint8_t mag = code & 0x7F;
  if (mag == 0x7F) return std::numeric_limits<float>::quiet_NaN();
  const double v = unpack_magnitude(mag, e4m3);
  return float(neg ? -v : v);
}

std::uint8_t encode_fp8_e5m2(float x, Overflow overflow) {
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  if (std::isnan(x)) return sign | 0x7F;
  const double a = std::fabs(double(x));
  const double r = std::isinf(a) ? std::numeric_limits<double>::infinity() : round_to_grid(a, e5m2);
  if (r > e5m2.max_finite) return overflow == Overflow::saturate ? (sign | 0x7B) : (sign | 0x7C);
  return sign | pack_magnitude(r, e5m2);
}

float decode_fp8_e5m2(std::uint8_t code) {
  const bool neg = code & 0x80;
  const std::uint8_t mag = code & 0x7F;
  if (mag == 0x7C) return neg ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  if (mag > 0x7C) return std::numeric_limits<float>::quiet_NaN();
  const double v = unpack_magnitude(mag, e5m2);
  return float(neg ? -v : v);
}

std::uint8_t encode_fp4_e2m1(float x) {
  if (std::isnan(x)) return 0x7;
  const std::uint8_t sign = std::signbit(x) ? 0x8 : 0x0;
  const double a = std::fabs(double(x));
  const double r = std::isinf(a) ? e2m1.max_finite : std::min(round_to_grid(a, e2m1), e2m1.max_finite);
  return sign | pack_magnitude(r, e2m1);
}

float decode_fp4_e2m1(std::uint8_t code) {
  const double v = unpack_magnitude(code & 0x7, e2m1);
  return float((code & 0x8) ? -v : v);
}

std::uint8_t encode_e8m0(float x) {
  if (std::isnan(x) || !(x > 0)) return 0xFF;
  int e2 = 0;
  std::frexp(double(x), &e2);
  const int exponent = std::clamp(e2 - 1, -127, 127);
  return static_cast<std::uint8_t>(exponent + 127);
}

float decode_e8m0(std::uint8_t code) {
  if (code == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return float(std::ldexp(1.0, int(code) - 127));
}

float round_to_bf16(float x) {
  if (std::isnan(x)) return x;
  std::uint32_t u = 0;
  std::memcpy(&u, &x, 4);
  const std::uint32_t lsb = (u >> 16) & 1u;
  u += 0x7FFFu + lsb;
  u &= 0xFFFF0000u;
  float out = 0;
  std::memcpy(&out, &u, 4);
  return out;
}

float round_to_fp16(float x) {
  if (std::isnan(x) || std::isinf(x)) return x;
  constexpr MiniFloat f16{5, 10, 15, 65504.0};
  const double a = std::fabs(double(x));
  const double r = round_to_grid(a, f16);
  const double v = r > f16.max_finite ? std::numeric_limits<double>::infinity() : r;
  return float(std::signbit(x) ? -v : v);
}

}  // namespace roofline
