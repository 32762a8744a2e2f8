#include "roofline/dynamic_quant.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <ostream>
#include <sstream>

#include "detail/quant_codec.hpp"
#include "roofline/errors.hpp"

namespace roofline {

// ---- names -----------------------------------------------------------------------------------------

namespace {
constexpr std::array<std::string_view, granularity_count> granularity_spellings{"per_tensor", "per_token",
                                                                                "per_channel", "per_block"};
constexpr std::array<std::string_view, calibration_mode_count> calibration_spellings{"absmax", "percentile",
                                                                                     "mse_optimal"};
constexpr std::array<std::string_view, 2> role_spellings{"activation", "weight"};

template <class Enum, std::size_t N>
Enum parse_enum(std::string_view text, const std::array<std::string_view, N>& spellings, const char* kind) {
  for (std::size_t i = 0; i < N; ++i) {
    if (spellings[i] == text) return static_cast<Enum>(i);
  }
  throw UnknownNameError(kind, std::string(text), std::vector<std::string>(spellings.begin(), spellings.end()));
}

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

std::string_view to_string(Granularity g) { return granularity_spellings[static_cast<std::size_t>(g)]; }
std::string_view to_string(CalibrationMode m) { return calibration_spellings[static_cast<std::size_t>(m)]; }
std::string_view to_string(TensorRole r) { return role_spellings[static_cast<std::size_t>(r)]; }
std::ostream& operator<<(std::ostream& os, Granularity g) { return os << to_string(g); }
std::ostream& operator<<(std::ostream& os, CalibrationMode m) { return os << to_string(m); }
std::ostream& operator<<(std::ostream& os, TensorRole r) { return os << to_string(r); }

Granularity parse_granularity(std::string_view text) {
  return parse_enum<Granularity>(text, granularity_spellings, "granularity");
}
CalibrationMode parse_calibration_mode(std::string_view text) {
  return parse_enum<CalibrationMode>(text, calibration_spellings, "calibration mode");
}
TensorRole parse_tensor_role(std::string_view text) { return parse_enum<TensorRole>(text, role_spellings, "tensor role"); }
std::vector<std::string> granularity_names() {
  return std::vector<std::string>(granularity_spellings.begin(), granularity_spellings.end());
}
std::vector<std::string> calibration_mode_names() {
  return std::vector<std::string>(calibration_spellings.begin(), calibration_spellings.end());
}

// ---- printing --------------------------------------------------------------------------------------

std::ostream& operator<<(std::ostream& os, const Matrix& m) {
  os << "Matrix[" << m.rows << 'x' << m.cols << "]{";
  const std::size_t shown = std::min<std::size_t>(m.values.size(), 6);
  for (std::size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << m.values[i];
  if (m.values.size() > shown) os << ", ...";
  return os << '}';
}

std::ostream& operator<<(std::ostream& os, const QuantSpec& s) {
  os << "QuantSpec{" << s.precision << ", " << s.granularity << ", " << s.calibration_mode << ", " << s.role;
  if (s.calibration_mode == CalibrationMode::percentile) os << ", p" << s.percentile;
  if (s.calibration_mode == CalibrationMode::mse_optimal)
    os << ", grid " << s.mse_grid_points << " in [" << s.mse_min_ratio << ", 1]";
  if (s.granularity == Granularity::per_block) os << ", block " << s.block_elements;
  if (s.overflow == Overflow::propagate) os << ", propagate";
  if (s.power_of_two_scales) os << ", pow2 scales";
  return os << '}';
}

std::ostream& operator<<(std::ostream& os, const QuantCounts& c) {
  return os << "{nan " << c.nan_count << ", inf " << c.inf_count << ", saturated " << c.saturated_count << '}';
}

std::ostream& operator<<(std::ostream& os, const QuantizedTensor& q) {
  os << "QuantizedTensor{" << q.spec << ", [" << q.rows << 'x' << q.cols << "], " << q.scales.size() << " scales";
  if (!q.scales.empty()) os << " (first " << q.scales.front() << ')';
  if (q.spec.precision == Precision::nvfp4) os << ", tensor_scale " << q.tensor_scale;
  return os << ", counts " << q.counts << '}';
}

std::ostream& operator<<(std::ostream& os, const ActivationStats& s) {
  return os << "ActivationStats{[" << s.rows << 'x' << s.cols << "], absmax " << s.absmax << ", mean " << s.mean
            << ", std " << s.std << ", p50 " << s.p50 << ", p99 " << s.p99 << ", p99.9 " << s.p999
            << ", outlier_ratio " << s.outlier_ratio << ", dynamic_range " << s.dynamic_range << ", finite "
            << s.finite_count << ", nan " << s.nan_count << ", inf " << s.inf_count << '}';
}

std::ostream& operator<<(std::ostream& os, const ErrorMetrics& e) {
  return os << "ErrorMetrics{rel_rmse " << e.rel_rmse << ", sqnr " << e.sqnr_db << " dB, cosine " << e.cosine
            << ", max_abs " << e.max_abs_error << '}';
}

std::ostream& operator<<(std::ostream& os, const QuantMetadata& m) {
  os << "QuantMetadata{" << m.operator_name << ": requested " << m.requested_precision << ", used " << m.precision
     << ", " << m.granularity << ", " << m.scales.size() << " scales, outlier_ratio " << m.outlier_ratio
     << " (threshold " << m.outlier_threshold << "), fallback " << (m.fallback ? "yes" : "no") << ", ema "
     << (m.ema_applied ? "yes" : "no") << ", activation " << m.activation_counts << ", weight " << m.weight_counts;
  return os << '}';
}

std::ostream& operator<<(std::ostream& os, const PrecisionSelection& s) {
  return os << "PrecisionSelection{" << s.precision << ": " << s.reason << '}';
}

// ---- element formats -------------------------------------------------------------------------------

namespace {

bool is_block_format(Precision p) { return p == Precision::nvfp4 || p == Precision::mxfp4; }
bool is_16bit(Precision p) { return p == Precision::fp16 || p == Precision::bf16; }
bool is_quantisable(Precision p) { return p != Precision::fp32; }

// Each codec: max (largest finite element), sat (the first magnitude that no longer rounds to max: max plus
// half the spacing of the two largest values), enc(v) for finite v, round(v) = dec(enc(v)) for finite v,
// nan_code / inf_code.
struct CodecE4M3 {
  static constexpr float max = 448.0f;
  static constexpr float sat = 464.0f;  // 448 + 32 / 2
  static std::uint16_t enc(float v) { return detail::fast_encode_e4m3(v); }
  static float round(float v) { return detail::minifloat_round<3, 7>(v, max); }
  static std::uint16_t nan_code(bool neg) { return neg ? 0xFF : 0x7F; }
  static std::uint16_t inf_code(bool neg, Overflow o) {
    return std::uint16_t((neg ? 0x80 : 0x00) | (o == Overflow::saturate ? 0x7E : 0x7F));  // E4M3 has no inf: NaN
  }
  static float dec(std::uint16_t c);
};
struct CodecE5M2 {
  static constexpr float max = 57344.0f;
  static constexpr float sat = 61440.0f;  // 57344 + 8192 / 2
  static std::uint16_t enc(float v) { return detail::fast_encode_e5m2(v); }
  static float round(float v) { return detail::minifloat_round<2, 15>(v, max); }
  static std::uint16_t nan_code(bool neg) { return neg ? 0xFF : 0x7F; }
  static std::uint16_t inf_code(bool neg, Overflow o) {
    return std::uint16_t((neg ? 0x80 : 0x00) | (o == Overflow::saturate ? 0x7B : 0x7C));
  }
  static float dec(std::uint16_t c);
};
struct CodecE2M1 {  // the element format of nvfp4 and mxfp4; NaN and inf are handled per block
  static constexpr float max = 6.0f;
  static constexpr float sat = 7.0f;  // 6 + 2 / 2
  static std::uint16_t enc(float v) { return detail::fast_encode_e2m1(v); }
  static float round(float v) { return detail::minifloat_round<1, 1>(v, max); }
  static std::uint16_t nan_code(bool) { return 0; }
  static std::uint16_t inf_code(bool neg, Overflow) { return neg ? 0xF : 0x7; }
  static float dec(std::uint16_t c);
};
template <int Qmax, int Bits>
struct CodecInt {
  static constexpr float max = float(Qmax);
  static constexpr float sat = float(Qmax) + 0.5f;
  static constexpr std::uint16_t mask = (1u << Bits) - 1u;
  static std::uint16_t enc(float v) { return std::uint16_t(detail::fast_encode_int(v, max)) & mask; }
  static float round(float v) { return detail::int_round(v, max); }
  static std::uint16_t nan_code(bool) { return 0; }
  static std::uint16_t inf_code(bool neg, Overflow) { return std::uint16_t(neg ? -Qmax : Qmax) & mask; }
  static float dec(std::uint16_t c) {  // sign-extend the low Bits bits (C++20: >> of a negative is arithmetic)
    return float(std::int32_t(std::uint32_t(c) << (32 - Bits)) >> (32 - Bits));
  }
};
using CodecInt8 = CodecInt<127, 8>;
using CodecInt4 = CodecInt<7, 4>;

template <int N, class Decoder>
std::array<float, N> make_lut(Decoder decode) {
  std::array<float, N> t{};
  for (int c = 0; c < N; ++c) t[std::size_t(c)] = decode(std::uint8_t(c));
  return t;
}
// Decode tables built from the bit-exact scalar decoders at start-up (namespace scope: no guard on access).
const std::array<float, 256> e4m3_table = make_lut<256>(decode_fp8_e4m3);
const std::array<float, 256> e5m2_table = make_lut<256>(decode_fp8_e5m2);
const std::array<float, 16> e2m1_table = make_lut<16>(decode_fp4_e2m1);
float CodecE4M3::dec(std::uint16_t c) { return e4m3_table[c & 0xFF]; }
float CodecE5M2::dec(std::uint16_t c) { return e5m2_table[c & 0xFF]; }
float CodecE2M1::dec(std::uint16_t c) { return e2m1_table[c & 0xF]; }

// IEEE fp16 bit pattern of a float that round_to_fp16 already put on the fp16 grid (or ±inf, NaN).
std::uint16_t fp16_bits(float v) {
  const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) return sign | 0x7E00;
  const float a = std::fabs(v);
  if (std::isinf(a)) return sign | 0x7C00;
  if (a < 6.103515625e-05f) return sign | std::uint16_t(a * 16777216.0f);  // subnormal: a / 2^-24 (exact)
  int e2 = 0;
  const float frac = std::frexp(a, &e2);  // a = frac * 2^e2, frac in [0.5, 1)
  const int exponent = e2 - 1;
  const auto mant = std::uint16_t((frac * 2.0f - 1.0f) * 1024.0f);  // exact: a is on the fp16 grid
  return sign | std::uint16_t((exponent + 15) << 10) | mant;
}
float fp16_value(std::uint16_t bits) {
  const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
  const int e = (bits >> 10) & 0x1F;
  const int m = bits & 0x3FF;
  if (e == 0x1F) return m ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
  if (e == 0) return sign * std::ldexp(float(m), -24);
  return sign * std::ldexp(1.0f + float(m) / 1024.0f, e - 15);
}
std::uint16_t bf16_bits(float v) {
  std::uint32_t u = 0;
  std::memcpy(&u, &v, 4);
  return std::uint16_t(u >> 16);
}
float bf16_value(std::uint16_t bits) {
  const std::uint32_t u = std::uint32_t(bits) << 16;
  float v = 0;
  std::memcpy(&v, &u, 4);
  return v;
}

// Calls f(Codec{}) for the codec of a scaled format.
template <class F>
decltype(auto) with_codec(Precision p, F&& f) {
  switch (p) {
    case Precision::fp8_e4m3: return f(CodecE4M3{});
    case Precision::fp8_e5m2: return f(CodecE5M2{});
    case Precision::int8: return f(CodecInt8{});
    case Precision::int4: return f(CodecInt4{});
    case Precision::nvfp4:
    case Precision::mxfp4: return f(CodecE2M1{});
    default: break;
  }
  throw InvalidArgumentError("precision " + std::string(to_string(p)) + " has no scaled codec");
}

// ---- granule geometry ------------------------------------------------------------------------------

// Which scale each element uses: granule(r, c) = row_offset(r) + col_offset[c].
struct Geometry {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t count = 1;            // number of granules
  std::int64_t row_stride = 0;       // row_offset(r) = r * row_stride
  std::vector<std::int64_t> col_offset;
  std::int64_t blocks_per_row = 0;   // per_block only
  int block = 0;
  // per_block and per-row granules are contiguous segments of a row; per_channel activation granules are
  // columns; per_tensor is everything.
  std::int64_t granule(std::int64_t r, std::int64_t c) const { return r * row_stride + col_offset[std::size_t(c)]; }
};

Geometry make_geometry(std::int64_t rows, std::int64_t cols, const QuantSpec& spec) {
  Geometry g;
  g.rows = rows;
  g.cols = cols;
  g.col_offset.assign(std::size_t(cols), 0);
  const bool per_row = spec.granularity == Granularity::per_token ||
                       (spec.granularity == Granularity::per_channel && spec.role == TensorRole::weight);
  if (is_16bit(spec.precision) || spec.granularity == Granularity::per_tensor) {
    g.count = 1;
  } else if (per_row) {
    g.count = rows;
    g.row_stride = 1;
  } else if (spec.granularity == Granularity::per_channel) {  // activation: one scale per column
    g.count = cols;
    for (std::int64_t c = 0; c < cols; ++c) g.col_offset[std::size_t(c)] = c;
  } else {  // per_block
    g.block = spec.block_elements;
    g.blocks_per_row = (cols + g.block - 1) / g.block;
    g.count = rows * g.blocks_per_row;
    g.row_stride = g.blocks_per_row;
    for (std::int64_t c = 0; c < cols; ++c) g.col_offset[std::size_t(c)] = c / g.block;
  }
  return g;
}

// The finite values of granule `gi`, appended to `out` (cleared first).
void gather(const Matrix& x, const Geometry& g, std::int64_t gi, std::vector<float>& out) {
  out.clear();
  auto push = [&](float v) {
    if (std::isfinite(v)) out.push_back(v);
  };
  if (g.count == 1) {
    for (float v : x.values) push(v);
  } else if (g.row_stride == 1 && g.blocks_per_row == 0) {  // one row
    const float* row = x.values.data() + gi * x.cols;
    for (std::int64_t c = 0; c < x.cols; ++c) push(row[c]);
  } else if (g.row_stride == 0) {  // one column
    for (std::int64_t r = 0; r < x.rows; ++r) push(x.values[std::size_t(r * x.cols + gi)]);
  } else {  // one block of a row
    const std::int64_t r = gi / g.blocks_per_row;
    const std::int64_t b = gi % g.blocks_per_row;
    const std::int64_t c0 = b * g.block;
    const std::int64_t c1 = std::min<std::int64_t>(c0 + g.block, x.cols);
    for (std::int64_t c = c0; c < c1; ++c) push(x.values[std::size_t(r * x.cols + c)]);
  }
}

// The p-th percentile (0 < p <= 100) of |v| with linear interpolation between order statistics
// (position h = (n - 1) p / 100). Reorders `v`; 0 for an empty v.
double percentile_abs(std::vector<float>& v, double p) {
  if (v.empty()) return 0.0;
  for (float& e : v) e = std::fabs(e);
  const double h = double(v.size() - 1) * p / 100.0;
  const auto lo = std::size_t(std::floor(h));
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(lo), v.end());
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + std::ptrdiff_t(lo) + 1, v.end());
  return a + (h - double(lo)) * (b - a);
}

// ---- scales ----------------------------------------------------------------------------------------

void require_usable_scale(float s, const QuantSpec& spec, const Geometry& g, std::int64_t gi, double clip) {
  if (!(std::isnormal(s) && s > 0 && std::isfinite(1.0f / s))) {
    std::ostringstream os;
    os << spec.precision << " " << spec.granularity << " granule " << gi << " of " << g.count << ": scale " << s
       << " (clipping magnitude " << clip
       << ") is zero, subnormal or non-finite in fp32; the values are too small or too large to quantise";
    throw InvalidArgumentError(os.str());
  }
}

// How one granule is scaled: decode scale, encode multiplier (1 / scale, 0 for a zero block), scale code.
struct GranuleScale {
  float scale = 1.0f;
  float inv = 1.0f;
  std::uint8_t code = 0;
};

// Context for turning a clipping magnitude into a scale.
struct ScaleContext {
  const QuantSpec* spec = nullptr;
  const Geometry* geometry = nullptr;
  float tensor_scale = 1.0f;  // nvfp4
  float max_finite = 0;
  bool fp16_scales = false;   // int4 per_block: scales stored as fp16
};

// Scale that maps clipping magnitude c to the format's max (see docs/precisions-numerics.md):
//   fp8 / int: s = c / max (rounded to fp32; up to a power of two if asked; to fp16 for int4 groups); c = 0: 1.
//   nvfp4: code = E4M3(c / 6 / tensor_scale) (RNE, saturating); s = decode(code) * tensor_scale.
//   mxfp4: OCP MX v1.0: s = 2^(floor(log2 c) - 2) stored as E8M0 (emax of E2M1 is 2); c = 0: 2^-127.
GranuleScale scale_for_clip(double c, const ScaleContext& ctx, std::int64_t gi) {
  GranuleScale out;
  const QuantSpec& spec = *ctx.spec;
  if (spec.precision == Precision::nvfp4) {
    out.code = detail::fast_encode_e4m3(float(c / 6.0 / double(ctx.tensor_scale)));  // = encode_fp8_e4m3, saturating
    out.scale = CodecE4M3::dec(out.code) * ctx.tensor_scale;
    out.inv = out.scale > 0 ? 1.0f / out.scale : 0.0f;
    if (out.scale > 0) require_usable_scale(out.scale, spec, *ctx.geometry, gi, c);
    return out;
  }
  if (spec.precision == Precision::mxfp4) {
    int exponent = -127;
    if (c > 0) {
      int e2 = 0;
      std::frexp(c, &e2);  // c = f * 2^e2, f in [0.5, 1): floor(log2 c) = e2 - 1
      exponent = std::clamp(e2 - 1 - 2, -127, 127);
    }
    out.code = std::uint8_t(exponent + 127);
    out.scale = decode_e8m0(out.code);
    out.inv = float(std::ldexp(1.0, -exponent));
    return out;
  }
  if (!(c > 0)) return out;  // all-zero granule: scale 1, every code 0
  double s = c / double(ctx.max_finite);
  if (spec.power_of_two_scales) {
    int e2 = 0;
    const double f = std::frexp(s, &e2);
    s = std::ldexp(1.0, f == 0.5 ? e2 - 1 : e2);  // 2^ceil(log2 s)
  }
  // int4 group scales are stored as fp16: round, saturating at 65504 (larger values then clip, and count as
  // saturated) rather than overflowing to inf.
  out.scale = ctx.fp16_scales ? std::min(round_to_fp16(float(s)), 65504.0f) : float(s);
  require_usable_scale(out.scale, spec, *ctx.geometry, gi, c);
  out.inv = 1.0f / out.scale;
  return out;
}

// ---- encoding --------------------------------------------------------------------------------------

// Encodes every element with its granule's scale; NaN/inf follow the format's rule. For nvfp4/mxfp4 a block
// holding a NaN gets the NaN scale code (E4M3 0x7F, E8M0 0xFF) so that the whole block decodes to NaN.
template <class C>
void encode_elements(const Matrix& x, const Geometry& g, const std::vector<GranuleScale>& scales, Overflow overflow,
                     QuantizedTensor& q) {
  q.codes.resize(std::size_t(x.size()));
  QuantCounts counts;
  const bool block_format = is_block_format(q.spec.precision);
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const float* row = x.values.data() + r * x.cols;
    std::uint16_t* out = q.codes.data() + r * x.cols;
    const std::int64_t base = r * g.row_stride;
    for (std::int64_t c = 0; c < x.cols; ++c) {
      const float v = row[c];
      const std::int64_t gi = base + g.col_offset[std::size_t(c)];
      if (!std::isfinite(v)) {
        const bool neg = std::signbit(v);
        if (std::isnan(v)) {
          ++counts.nan_count;
          out[c] = C::nan_code(neg);
          if (block_format) q.scale_codes[std::size_t(gi)] = q.spec.precision == Precision::nvfp4 ? 0x7F : 0xFF;
        } else {
          ++counts.inf_count;
          out[c] = C::inf_code(neg, overflow);
        }
        continue;
      }
      const float s = v * scales[std::size_t(gi)].inv;
      if (std::fabs(s) >= C::sat) ++counts.saturated_count;
      out[c] = C::enc(s);
    }
  }
  q.counts = counts;
}

void encode_16bit(const Matrix& x, Overflow overflow, QuantizedTensor& q) {
  q.codes.resize(std::size_t(x.size()));
  QuantCounts counts;
  const bool fp16 = q.spec.precision == Precision::fp16;
  const float max = float(format_info(q.spec.precision).max_finite);
  for (std::size_t i = 0; i < x.values.size(); ++i) {
    const float v = x.values[i];
    if (std::isnan(v)) ++counts.nan_count;
    if (std::isinf(v)) ++counts.inf_count;
    float r = fp16 ? round_to_fp16(v) : round_to_bf16(v);
    if (std::isfinite(v) && std::isinf(r)) ++counts.saturated_count;
    if (std::isinf(r) && overflow == Overflow::saturate) r = std::copysign(max, r);
    q.codes[i] = fp16 ? fp16_bits(r) : bf16_bits(r);
  }
  q.counts = counts;
}

// ---- validation ------------------------------------------------------------------------------------

std::string precision_list_quantisable() {
  std::string out;
  for (const FormatInfo& f : format_table) {
    if (!is_quantisable(f.precision)) continue;
    out += (out.empty() ? "" : ", ") + std::string(f.name);
  }
  return out;
}

QuantSpec validated(const QuantSpec& in) {
  QuantSpec s = in;
  const std::string pname(to_string(s.precision));
  if (!is_quantisable(s.precision))
    throw InvalidArgumentError("precision " + pname + " is the unquantised reference; quantize supports " +
                               precision_list_quantisable());
  if (!(s.percentile > 0 && s.percentile <= 100))
    throw InvalidArgumentError("percentile: must be in (0, 100], got " + fmt(s.percentile));
  if (s.mse_grid_points < 1) throw InvalidArgumentError("mse_grid_points: must be >= 1, got " + fmt(s.mse_grid_points));
  if (!(s.mse_min_ratio > 0 && s.mse_min_ratio <= 1))
    throw InvalidArgumentError("mse_min_ratio: must be in (0, 1], got " + fmt(s.mse_min_ratio));
  if (s.role == TensorRole::weight && s.granularity == Granularity::per_token)
    throw InvalidArgumentError(
        "granularity per_token applies to activations; a weight [out, in] has no token axis (per_channel gives "
        "one scale per output row)");
  if (is_block_format(s.precision)) {
    if (s.granularity != Granularity::per_block)
      throw InvalidArgumentError(pname + " scales blocks of " +
                                 std::to_string(format_info(s.precision).block_elements) +
                                 " elements by definition; granularity must be per_block, got " +
                                 std::string(to_string(s.granularity)));
    if (s.power_of_two_scales)
      throw InvalidArgumentError("power_of_two_scales applies to fp8 and integer formats; " + pname +
                                 " has its own scale format");
  }
  s.block_elements = s.granularity == Granularity::per_block ? resolved_block_elements(s) : 0;
  return s;
}

void require_nonempty(const Matrix& x, const char* what) {
  if (x.rows <= 0 || x.cols <= 0)
    throw InvalidArgumentError(std::string(what) + ": empty tensor [" + std::to_string(x.rows) + "x" +
                               std::to_string(x.cols) + "]; quantisation needs at least one element");
  if (std::int64_t(x.values.size()) != x.rows * x.cols)
    throw InvalidArgumentError(std::string(what) + ": " + std::to_string(x.values.size()) + " values for shape [" +
                               std::to_string(x.rows) + "x" + std::to_string(x.cols) + "]");
}

// ---- calibration -----------------------------------------------------------------------------------

// Absmax over the finite values of each granule (one pass).
std::vector<double> granule_absmax(const Matrix& x, const Geometry& g) {
  std::vector<float> amax(std::size_t(g.count), 0.0f);
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const float* row = x.values.data() + r * x.cols;
    const std::int64_t base = r * g.row_stride;
    for (std::int64_t c = 0; c < x.cols; ++c) {
      const float a = std::fabs(row[c]);
      float& m = amax[std::size_t(base + g.col_offset[std::size_t(c)])];
      if (a > m && a <= std::numeric_limits<float>::max()) m = a;  // NaN and inf compare false / are skipped
    }
  }
  return std::vector<double>(amax.begin(), amax.end());
}

// Sums of squared errors of quantising `v` (finite values) with each candidate scale:
// sse[k] = sum over x of (round(x / s_k) * s_k - x)^2. The loop over candidates is innermost: its
// iterations are independent, so the compiler vectorises it without reassociating any sum.
template <class C>
void candidate_sse(const std::vector<float>& v, const std::vector<float>& inv, const std::vector<float>& scale,
                   std::vector<double>& sse) {
  const std::size_t n = inv.size();
  sse.assign(n, 0.0);
  const float* pi = inv.data();
  const float* ps = scale.data();
  double* pe = sse.data();
  for (float x : v) {
    for (std::size_t k = 0; k < n; ++k) {
      const float d = C::round(x * pi[k]) * ps[k] - x;
      pe[k] += double(d) * double(d);
    }
  }
}

// The clipping magnitude of every granule under the spec's calibration mode.
std::vector<double> calibrate(const Matrix& x, const QuantSpec& spec, const Geometry& g, const ScaleContext& ctx) {
  std::vector<double> clip = granule_absmax(x, g);
  if (spec.calibration_mode == CalibrationMode::absmax || is_16bit(spec.precision)) return clip;
  std::vector<float> buf, cand_inv, cand_scale;
  std::vector<double> cand_clip, sse;
  for (std::int64_t gi = 0; gi < g.count; ++gi) {
    const double amax = clip[std::size_t(gi)];
    if (!(amax > 0)) continue;
    gather(x, g, gi, buf);
    if (spec.calibration_mode == CalibrationMode::percentile) {
      const double p = percentile_abs(buf, spec.percentile);
      clip[std::size_t(gi)] = p > 0 ? p : amax;  // a zero percentile would zero the granule: keep absmax
      continue;
    }
    // mse_optimal: ratios r_k = min + (1 - min) k / (n - 1); the smallest error wins, ties keep the larger
    // ratio (less clipping).
    const int n = spec.mse_grid_points;
    cand_clip.resize(std::size_t(n));
    cand_inv.resize(std::size_t(n));
    cand_scale.resize(std::size_t(n));
    for (int k = 0; k < n; ++k) {
      const double ratio = n == 1 ? 1.0 : spec.mse_min_ratio + (1.0 - spec.mse_min_ratio) * double(k) / double(n - 1);
      cand_clip[std::size_t(k)] = ratio * amax;
      const GranuleScale gs = scale_for_clip(cand_clip[std::size_t(k)], ctx, gi);
      cand_inv[std::size_t(k)] = gs.inv;
      cand_scale[std::size_t(k)] = gs.scale;
    }
    with_codec(spec.precision, [&](auto codec) { candidate_sse<decltype(codec)>(buf, cand_inv, cand_scale, sse); });
    std::size_t best = std::size_t(n - 1);
    for (std::size_t k = std::size_t(n - 1); k-- > 0;) {
      if (sse[k] < sse[best]) best = k;
    }
    clip[std::size_t(gi)] = cand_clip[best];
  }
  return clip;
}

ScaleContext make_context(const QuantSpec& spec, const Geometry& g) {
  ScaleContext ctx;
  ctx.spec = &spec;
  ctx.geometry = &g;
  ctx.max_finite = float(format_info(spec.precision).max_finite);
  ctx.fp16_scales = spec.precision == Precision::int4 && spec.granularity == Granularity::per_block;
  return ctx;
}

int scale_bits_for(const QuantSpec& spec) {
  if (is_16bit(spec.precision)) return 0;
  if (is_block_format(spec.precision)) return 8;
  if (spec.precision == Precision::int4 && spec.granularity == Granularity::per_block) return 16;
  return 32;
}

// nvfp4's per-tensor FP32 decode scale: amax / (448 * 6), so that the largest block scale is E4M3's 448.
float nvfp4_tensor_scale(const Matrix& x) {
  float amax = 0;
  for (float v : x.values) {
    const float a = std::fabs(v);
    if (a > amax && a <= std::numeric_limits<float>::max()) amax = a;
  }
  if (amax == 0) return 1.0f;
  const float t = float(double(amax) / (448.0 * 6.0));
  // The smallest nonzero block scale is 2^-9 * t (E4M3's smallest subnormal): it must stay a normal fp32.
  if (!(std::isnormal(t * 0.001953125f) && std::isfinite(t))) {
    std::ostringstream os;
    os << "nvfp4 tensor scale " << t << " (absmax " << amax << ") is not usable in fp32";
    throw InvalidArgumentError(os.str());
  }
  return t;
}

// Builds the quantised tensor from clipping magnitudes (the dynamic path).
QuantizedTensor encode_with_clips(const Matrix& x, const QuantSpec& spec, const Geometry& g, ScaleContext& ctx,
                                  const std::vector<double>& clips) {
  QuantizedTensor q;
  q.spec = spec;
  q.rows = x.rows;
  q.cols = x.cols;
  q.scale_bits = scale_bits_for(spec);
  if (is_16bit(spec.precision)) {
    q.scales.assign(1, 1.0f);
    encode_16bit(x, spec.overflow, q);
    return q;
  }
  q.tensor_scale = ctx.tensor_scale;
  std::vector<GranuleScale> gs(std::size_t(g.count));
  for (std::int64_t gi = 0; gi < g.count; ++gi) gs[std::size_t(gi)] = scale_for_clip(clips[std::size_t(gi)], ctx, gi);
  q.scales.resize(gs.size());
  for (std::size_t i = 0; i < gs.size(); ++i) q.scales[i] = gs[i].scale;
  if (is_block_format(spec.precision)) {
    q.scale_codes.resize(gs.size());
    for (std::size_t i = 0; i < gs.size(); ++i) q.scale_codes[i] = gs[i].code;
  }
  with_codec(spec.precision, [&](auto codec) { encode_elements<decltype(codec)>(x, g, gs, spec.overflow, q); });
  if (is_block_format(spec.precision)) {  // NaN scale codes set by encode_elements: mirror them in scales
    for (std::size_t i = 0; i < gs.size(); ++i) {
      if ((spec.precision == Precision::nvfp4 && q.scale_codes[i] == 0x7F) || q.scale_codes[i] == 0xFF)
        q.scales[i] = std::numeric_limits<float>::quiet_NaN();
    }
  }
  return q;
}

// Scale of a block-format block from its code.
float block_scale(Precision p, std::uint8_t code, float tensor_scale) {
  return p == Precision::nvfp4 ? CodecE4M3::dec(code) * tensor_scale : decode_e8m0(code);
}

// Checks the scales of q (and its codes when check_codes) against geometry g.
void check_scales(const QuantizedTensor& q, const Geometry& g, const char* what, bool check_codes) {
  const std::string prefix = std::string(what) + ": ";
  if (check_codes && std::int64_t(q.codes.size()) != q.rows * q.cols)
    throw InvalidArgumentError(prefix + std::to_string(q.codes.size()) + " codes for shape [" +
                               std::to_string(q.rows) + "x" + std::to_string(q.cols) + "]");
  if (is_16bit(q.spec.precision)) return;
  if (std::int64_t(q.scales.size()) != g.count)
    throw InvalidArgumentError(prefix + std::to_string(q.scales.size()) + " scales, expected " +
                               std::to_string(g.count) + " for " + std::string(to_string(q.spec.granularity)));
  if (is_block_format(q.spec.precision)) {
    if (std::int64_t(q.scale_codes.size()) != g.count)
      throw InvalidArgumentError(prefix + std::to_string(q.scale_codes.size()) + " scale codes, expected " +
                                 std::to_string(g.count));
    if (q.spec.precision == Precision::nvfp4 && !(q.tensor_scale > 0 && std::isfinite(q.tensor_scale)))
      throw InvalidArgumentError(prefix + "nvfp4 tensor scale " + fmt(q.tensor_scale) +
                                 " must be positive and finite");
    return;
  }
  for (std::size_t i = 0; i < q.scales.size(); ++i) {
    const float s = q.scales[i];
    if (!(s > 0 && std::isfinite(s) && std::isfinite(1.0f / s)))
      throw InvalidArgumentError(prefix + "scale " + std::to_string(i) + " is " + fmt(s) +
                                 "; scales must be positive and finite");
  }
}

}  // namespace

// ---- public quantisation API -----------------------------------------------------------------------

int resolved_block_elements(const QuantSpec& spec) {
  const FormatInfo& f = format_info(spec.precision);
  if (is_block_format(spec.precision)) {
    if (spec.block_elements != 0 && spec.block_elements != f.block_elements)
      throw InvalidArgumentError(std::string(f.name) + " blocks have " + std::to_string(f.block_elements) +
                                 " elements by definition; got block_elements " +
                                 std::to_string(spec.block_elements));
    return f.block_elements;
  }
  if (spec.block_elements < 0)
    throw InvalidArgumentError("block_elements: must be >= 0 (0 = default), got " +
                               std::to_string(spec.block_elements));
  return spec.block_elements == 0 ? 128 : spec.block_elements;
}

Granularity weight_granularity_for(Granularity activation) {
  return activation == Granularity::per_token ? Granularity::per_channel : activation;
}

QuantizedTensor quantize(const Matrix& x, const QuantSpec& spec_in) {
  require_nonempty(x, "quantize");
  const QuantSpec spec = validated(spec_in);
  const Geometry g = make_geometry(x.rows, x.cols, spec);
  ScaleContext ctx = make_context(spec, g);
  if (spec.precision == Precision::nvfp4) ctx.tensor_scale = nvfp4_tensor_scale(x);
  return encode_with_clips(x, spec, g, ctx, calibrate(x, spec, g, ctx));
}

QuantizedTensor quantize_with_scales(const Matrix& x, const QuantizedTensor& reference) {
  require_nonempty(x, "quantize_with_scales");
  if (x.rows != reference.rows || x.cols != reference.cols)
    throw InvalidArgumentError("quantize_with_scales: tensor [" + std::to_string(x.rows) + "x" +
                               std::to_string(x.cols) + "] does not match the reference's [" +
                               std::to_string(reference.rows) + "x" + std::to_string(reference.cols) + "]");
  const QuantSpec spec = validated(reference.spec);
  const Geometry g = make_geometry(x.rows, x.cols, spec);
  check_scales(reference, g, "quantize_with_scales", false);
  QuantizedTensor q;
  q.spec = spec;
  q.rows = x.rows;
  q.cols = x.cols;
  q.scale_bits = scale_bits_for(spec);
  if (is_16bit(spec.precision)) {
    q.scales.assign(1, 1.0f);
    encode_16bit(x, spec.overflow, q);
    return q;
  }
  q.scales = reference.scales;
  q.scale_codes = reference.scale_codes;
  q.tensor_scale = reference.tensor_scale;
  std::vector<GranuleScale> gs(std::size_t(g.count));
  for (std::size_t i = 0; i < gs.size(); ++i) {
    GranuleScale& s = gs[i];
    if (is_block_format(spec.precision)) {
      s.code = reference.scale_codes[i];
      s.scale = block_scale(spec.precision, s.code, reference.tensor_scale);
      s.inv = (s.scale > 0 && std::isfinite(s.scale)) ? 1.0f / s.scale : 0.0f;
    } else {
      s.scale = reference.scales[i];
      s.inv = 1.0f / s.scale;
    }
  }
  with_codec(spec.precision, [&](auto codec) { encode_elements<decltype(codec)>(x, g, gs, spec.overflow, q); });
  if (is_block_format(spec.precision)) {
    for (std::size_t i = 0; i < gs.size(); ++i) q.scales[i] = block_scale(spec.precision, q.scale_codes[i], q.tensor_scale);
  }
  return q;
}

Matrix dequantize(const QuantizedTensor& q) {
  if (q.rows <= 0 || q.cols <= 0)
    throw InvalidArgumentError("dequantize: empty tensor [" + std::to_string(q.rows) + "x" + std::to_string(q.cols) +
                               "]");
  const QuantSpec spec = validated(q.spec);
  const Geometry g = make_geometry(q.rows, q.cols, spec);
  check_scales(q, g, "dequantize", true);
  Matrix out{q.rows, q.cols, std::vector<float>(q.codes.size())};
  if (is_16bit(spec.precision)) {
    const bool fp16 = spec.precision == Precision::fp16;
    for (std::size_t i = 0; i < q.codes.size(); ++i) out.values[i] = fp16 ? fp16_value(q.codes[i]) : bf16_value(q.codes[i]);
    return out;
  }
  std::vector<float> scale(std::size_t(g.count));
  for (std::size_t i = 0; i < scale.size(); ++i)
    scale[i] = is_block_format(spec.precision) ? block_scale(spec.precision, q.scale_codes[i], q.tensor_scale)
                                               : q.scales[i];
  with_codec(spec.precision, [&](auto codec) {
    using C = decltype(codec);
    for (std::int64_t r = 0; r < q.rows; ++r) {
      const std::int64_t base = r * g.row_stride;
      for (std::int64_t c = 0; c < q.cols; ++c) {
        const std::size_t i = std::size_t(r * q.cols + c);
        out.values[i] = C::dec(q.codes[i]) * scale[std::size_t(base + g.col_offset[std::size_t(c)])];
      }
    }
  });
  return out;
}

std::int64_t storage_bytes(const QuantizedTensor& q) {
  const std::int64_t elements = q.rows * q.cols;
  const std::int64_t code_bytes = (elements * format_info(q.spec.precision).element_bits + 7) / 8;
  std::int64_t scale_bytes = std::int64_t(q.scales.size()) * q.scale_bits / 8;
  if (q.spec.precision == Precision::nvfp4) scale_bytes += 4;
  return code_bytes + scale_bytes;
}

// ---- statistics ------------------------------------------------------------------------------------

double normal_quantile(double p) {
  if (!(p > 0 && p < 1)) throw InvalidArgumentError("normal_quantile: p must be in (0, 1), got " + fmt(p));
  // Acklam's rational approximation (relative error 1.15e-9), then one Halley step on Phi(x) - p.
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  const bool upper = p > 0.5;
  const double pl = upper ? 1.0 - p : p;  // lower-tail probability of -|x|
  double x = 0;
  if (pl < 0.02425) {
    const double q = std::sqrt(-2.0 * std::log(pl));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else {
    const double q = pl - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  // x approximates Phi^-1(pl) <= 0; Halley refinement in the lower tail, where erfc is accurate.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - pl;
  const double u = e * std::sqrt(2.0 * std::numbers::pi) * std::exp(x * x / 2.0);
  x = x - u / (1.0 + x * u / 2.0);
  return upper ? -x : x;
}

double outlier_ratio(double absmax, double p50, double rms, std::int64_t element_count) {
  if (element_count < 1)
    throw InvalidArgumentError("outlier_ratio: element_count must be >= 1, got " + std::to_string(element_count));
  constexpr double median_abs_of_unit_gaussian = 0.6744897501960817;  // Phi^-1(0.75)
  const double sigma_bulk = p50 > 0 ? p50 / median_abs_of_unit_gaussian : rms;
  if (!(sigma_bulk > 0)) return 0.0;
  // z_N: P(|X| > z) = 1/N for X ~ N(0, 1), i.e. z = Phi^-1(1 - 1/(2N)); N = 1: z = 1 (absmax = sigma).
  const double z = element_count == 1 ? 1.0 : -normal_quantile(0.5 / double(element_count));
  return absmax / (sigma_bulk * z);
}

ActivationStats activation_stats_from_summary(double absmax, double mean, double std, double p50, double p99,
                                              double p999, std::int64_t rows, std::int64_t cols) {
  if (rows <= 0 || cols <= 0)
    throw InvalidArgumentError("activation stats: shape [" + std::to_string(rows) + "x" + std::to_string(cols) +
                               "] has no elements");
  if (!(absmax >= 0 && std >= 0 && p50 >= 0 && std::isfinite(absmax) && std::isfinite(mean) &&
        std::isfinite(std) && std::isfinite(p50)))
    throw InvalidArgumentError("activation stats: absmax " + fmt(absmax) + ", mean " + fmt(mean) + ", std " +
                               fmt(std) + ", p50 " + fmt(p50) + " must be finite with absmax, std, p50 >= 0");
  ActivationStats s;
  s.absmax = absmax;
  s.mean = mean;
  s.std = std;
  s.p50 = p50;
  s.p99 = p99;
  s.p999 = p999;
  s.rows = rows;
  s.cols = cols;
  s.finite_count = rows * cols;
  s.outlier_ratio = outlier_ratio(absmax, p50, std::sqrt(mean * mean + std * std), rows * cols);
  s.dynamic_range = (p50 > 0 && absmax > 0) ? absmax / p50 : 1.0;
  return s;
}

ActivationStats compute_activation_stats(const Matrix& x) {
  require_nonempty(x, "activation stats");
  std::vector<float> mag;
  mag.reserve(x.values.size());
  double sum = 0;
  std::int64_t nan = 0, inf = 0;
  for (float v : x.values) {
    if (std::isnan(v)) {
      ++nan;
    } else if (std::isinf(v)) {
      ++inf;
    } else {
      sum += v;
      mag.push_back(std::fabs(v));
    }
  }
  if (mag.empty())
    throw InvalidArgumentError("activation stats: no finite value among " + std::to_string(x.values.size()) +
                               " elements");
  const auto n = std::int64_t(mag.size());
  const double mean = sum / double(n);
  double ss = 0;
  double absmax = 0;
  for (float v : x.values) {
    if (!std::isfinite(v)) continue;
    ss += (double(v) - mean) * (double(v) - mean);
    absmax = std::max(absmax, double(std::fabs(v)));
  }
  const double std = std::sqrt(ss / double(n));
  ActivationStats s;
  s.mean = mean;
  s.std = std;
  s.absmax = absmax;
  s.rows = x.rows;
  s.cols = x.cols;
  s.finite_count = n;
  s.nan_count = nan;
  s.inf_count = inf;
  s.p99 = percentile_abs(mag, 99.0);
  s.p999 = percentile_abs(mag, 99.9);
  s.p50 = percentile_abs(mag, 50.0);
  s.outlier_ratio = outlier_ratio(absmax, s.p50, std::sqrt(mean * mean + std * std), n);
  s.dynamic_range = (s.p50 > 0 && absmax > 0) ? absmax / s.p50 : 1.0;
  return s;
}

// ---- DynamicQuantizer ------------------------------------------------------------------------------

// Rounded outlier_tolerance(measure_outlier_sweep(QuantErrorOptions{}, default_outlier_sweep_scales()), 2):
// int8 12.2, int4 24.5, mxfp4 81, nvfp4 99.8, fp8_e4m3 3.3e4, fp8_e5m2 not reached (docs/quantization-error.md).
double default_outlier_threshold(Precision p) {
  switch (p) {
    case Precision::int8: return 12.0;
    case Precision::int4: return 24.0;
    case Precision::mxfp4: return 80.0;
    case Precision::nvfp4: return 100.0;
    case Precision::fp8_e4m3: return 30000.0;
    default: return std::numeric_limits<double>::infinity();
  }
}

DynamicQuantizer::DynamicQuantizer(DynamicQuantConfig config) : config_(std::move(config)) {
  QuantSpec probe{.precision = config_.precision,
                  .granularity = config_.granularity,
                  .calibration_mode = config_.calibration_mode,
                  .percentile = config_.percentile,
                  .block_elements = config_.block_elements,
                  .overflow = config_.overflow,
                  .power_of_two_scales = config_.power_of_two_scales};
  validated(probe);
  if (!(config_.scale_ema_decay >= 0 && config_.scale_ema_decay < 1))
    throw InvalidArgumentError("scale_ema_decay: must be in [0, 1), got " + fmt(config_.scale_ema_decay));
  if (config_.outlier_threshold && !(*config_.outlier_threshold > 0))
    throw InvalidArgumentError("outlier_threshold: must be > 0, got " + fmt(*config_.outlier_threshold));
}

DynamicQuantResult DynamicQuantizer::quantize_dynamic(const Matrix& activation, const Matrix& weight,
                                                      std::string_view operator_name,
                                                      std::optional<Precision> target_precision) {
  return run(activation, &weight, operator_name, target_precision);
}

DynamicQuantResult DynamicQuantizer::quantize_dynamic(const Matrix& activation, std::string_view operator_name,
                                                      std::optional<Precision> target_precision) {
  return run(activation, nullptr, operator_name, target_precision);
}

DynamicQuantResult DynamicQuantizer::run(const Matrix& activation, const Matrix* weight,
                                         std::string_view operator_name, std::optional<Precision> target_precision) {
  require_nonempty(activation, "activation");
  if (weight) {
    require_nonempty(*weight, "weight");
    if (weight->cols != activation.cols)
      throw InvalidArgumentError("weight [" + std::to_string(weight->rows) + "x" + std::to_string(weight->cols) +
                                 "] does not share the reduction dimension of activation [" +
                                 std::to_string(activation.rows) + "x" + std::to_string(activation.cols) + "]");
  }
  const Precision requested = target_precision.value_or(config_.precision);
  QuantMetadata meta;
  meta.operator_name = std::string(operator_name);
  meta.requested_precision = requested;
  meta.stats = compute_activation_stats(activation);
  meta.outlier_ratio = meta.stats.outlier_ratio;
  meta.outlier_threshold = config_.outlier_threshold.value_or(default_outlier_threshold(requested));
  meta.fallback = config_.fallback_to_fp16 && !is_16bit(requested) && meta.outlier_ratio > meta.outlier_threshold;
  meta.precision = meta.fallback ? Precision::fp16 : requested;

  QuantSpec spec{.precision = meta.precision,
                 .granularity = config_.granularity,
                 .calibration_mode = config_.calibration_mode,
                 .role = TensorRole::activation,
                 .percentile = config_.percentile,
                 .block_elements = is_block_format(meta.precision) ? 0 : config_.block_elements,
                 .overflow = config_.overflow,
                 .power_of_two_scales = config_.power_of_two_scales && !is_block_format(meta.precision)};
  if (is_block_format(meta.precision)) spec.granularity = Granularity::per_block;
  spec = validated(spec);
  meta.granularity = spec.granularity;

  const Geometry g = make_geometry(activation.rows, activation.cols, spec);
  ScaleContext ctx = make_context(spec, g);
  if (spec.precision == Precision::nvfp4) ctx.tensor_scale = nvfp4_tensor_scale(activation);
  std::vector<double> clips = calibrate(activation, spec, g, ctx);
  const bool smoothable = config_.scale_ema_decay > 0 && !is_16bit(spec.precision) &&
                          !is_block_format(spec.precision) &&
                          (spec.granularity == Granularity::per_tensor || spec.granularity == Granularity::per_channel);
  if (smoothable) {
    auto it = ema_clip_.find(operator_name);
    if (it != ema_clip_.end() && it->second.size() == clips.size()) {
      for (std::size_t i = 0; i < clips.size(); ++i)
        clips[i] = config_.scale_ema_decay * it->second[i] + (1.0 - config_.scale_ema_decay) * clips[i];
      meta.ema_applied = true;
    }
    ema_clip_[std::string(operator_name)] = clips;
  }
  DynamicQuantResult result;
  result.activation = encode_with_clips(activation, spec, g, ctx, clips);
  meta.scales = result.activation.scales;
  meta.activation_counts = result.activation.counts;
  if (weight) {
    QuantSpec wspec = spec;
    wspec.role = TensorRole::weight;
    wspec.granularity = is_block_format(spec.precision) ? Granularity::per_block
                                                        : weight_granularity_for(spec.granularity);
    result.weight = quantize(*weight, wspec);
    meta.weight_counts = result.weight->counts;
  }
  result.metadata = std::move(meta);
  return result;
}

// ---- AdaptivePrecisionSelector ---------------------------------------------------------------------

AdaptivePrecisionSelector::AdaptivePrecisionSelector(AdaptiveQuantConfig config) : config_(std::move(config)) {
  if (config_.precision_candidates.empty()) throw InvalidArgumentError("precision_candidates: empty");
  const double lo = config_.low_outlier_threshold, mid = config_.medium_outlier_threshold,
               hi = config_.high_outlier_threshold;
  if (!(lo > 0 && lo <= mid && mid <= hi))
    throw InvalidArgumentError("outlier thresholds: need 0 < low <= medium <= high, got low " + fmt(lo) +
                               ", medium " + fmt(mid) + ", high " + fmt(hi));
  if (config_.long_context_seq_len < 0)
    throw InvalidArgumentError("long_context_seq_len: must be >= 0, got " + std::to_string(config_.long_context_seq_len));
  by_bits_ = config_.precision_candidates;
  std::stable_sort(by_bits_.begin(), by_bits_.end(),
                   [](Precision a, Precision b) { return bits_per_element(a) < bits_per_element(b); });
  by_bits_.erase(std::unique(by_bits_.begin(), by_bits_.end()), by_bits_.end());
}

PrecisionSelection AdaptivePrecisionSelector::select(std::string_view operator_name, const ActivationStats& stats,
                                                     const SelectionContext& context) const {
  const double r = stats.outlier_ratio;
  const std::string who = std::string(operator_name) + ": outlier_ratio " + fmt(r);
  auto narrowest_with_bits = [&](int min_bits) -> std::optional<Precision> {
    for (Precision p : by_bits_) {
      if (format_info(p).element_bits >= min_bits) return p;
    }
    return std::nullopt;
  };
  const Precision widest = by_bits_.back();
  const Precision narrowest = by_bits_.front();
  // Rule 1: severe outliers: the widest candidate.
  if (r > config_.high_outlier_threshold)
    return {widest, who + " > high " + fmt(config_.high_outlier_threshold) + ": widest candidate"};
  // Rule 2: moderate outliers: the narrowest candidate of at least 8 bits.
  if (r > config_.medium_outlier_threshold) {
    const Precision p = narrowest_with_bits(8).value_or(widest);
    return {p, who + " > medium " + fmt(config_.medium_outlier_threshold) + ": narrowest 8-bit candidate"};
  }
  // Rule 3: mild outliers (the 4-bit format has lost up to one bit to them): 4-bit only where the bytes it
  // saves dominate the step: a decode GEMM (memory-bound, weight bytes dominate) or the KV cache from
  // long_context_seq_len tokens on; otherwise (a prefill GEMM is compute-bound; a short KV cache is a small
  // share of the traffic, and every later token reads its errors) the narrowest 8-bit candidate.
  if (r > config_.low_outlier_threshold) {
    const std::string band = who + " in (low " + fmt(config_.low_outlier_threshold) + ", medium " +
                             fmt(config_.medium_outlier_threshold) + "], ";
    if (context.is_kv_cache && context.seq_len >= config_.long_context_seq_len)
      return {narrowest, band + "KV cache at seq_len " + std::to_string(context.seq_len) +
                             " >= " + std::to_string(config_.long_context_seq_len) + ": narrowest candidate"};
    if (!context.is_kv_cache && context.phase == Phase::decode)
      return {narrowest, band + "decode GEMM: narrowest candidate"};
    const Precision p = narrowest_with_bits(8).value_or(widest);
    return {p, band + (context.is_kv_cache ? "KV cache at seq_len " + std::to_string(context.seq_len) + " < " +
                                                 std::to_string(config_.long_context_seq_len)
                                           : std::string("prefill GEMM")) +
                   ": narrowest 8-bit candidate"};
  }
  // Rule 4: Gaussian-like: the narrowest candidate.
  return {narrowest, who + " <= low " + fmt(config_.low_outlier_threshold) + ": narrowest candidate"};
}

Precision AdaptivePrecisionSelector::select_precision(std::string_view operator_name, const ActivationStats& stats,
                                                      const SelectionContext& context) const {
  return select(operator_name, stats, context).precision;
}

}  // namespace roofline
