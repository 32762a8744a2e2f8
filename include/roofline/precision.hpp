// Precision catalog: every numeric format the model knows, in one constexpr table indexed by an enum.
// Storage cost per element includes block scales (NVFP4 4.5 bits, MXFP4 4.25, INT4 group-128 4.125).
// Sources: OCP Microscaling Formats (MX) v1.0 spec (MXFP4, E8M0 scales); NVIDIA Blackwell architecture
// technical brief (NVFP4: E2M1 + E4M3 scale per 16 + FP32 per-tensor scale); Micikevicius et al.,
// "FP8 Formats for Deep Learning", arXiv:2209.05433 (E4M3 max 448, E5M2 max 57344).
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace roofline {

enum class Precision : std::uint8_t {
  fp32,
  bf16,
  fp16,
  fp8_e4m3,
  fp8_e5m2,
  int8,
  int4,   ///< group-wise weight-only INT4 (group 128, one fp16 scale per group)
  nvfp4,  ///< E2M1 values, one E4M3 scale per 16 elements, one FP32 scale per tensor
  mxfp4,  ///< E2M1 values, one E8M0 scale per 32 elements
};
inline constexpr std::size_t precision_count = 9;

/// The unit that performs the matrix arithmetic of an operator.
enum class MathPath : std::uint8_t {
  simt_fp32,  ///< CUDA cores, fp32 FMA
  tc_16bit,   ///< tensor cores, fp16/bf16 inputs, fp32 accumulate
  tc_fp8,     ///< tensor cores, fp8 inputs (sm_89+)
  tc_int8,    ///< tensor cores, int8 inputs, int32 accumulate
  tc_fp4,     ///< tensor cores, nvfp4/mxfp4 block-scaled inputs (sm_100+, sm_120+)
  tc_int4,    ///< tensor cores, int4 inputs (sm_80/sm_86 only; removed on Hopper)
};
inline constexpr std::size_t math_path_count = 6;

struct FormatInfo {
  Precision precision;
  std::string_view name;          ///< canonical lowercase spelling, e.g. "fp8_e4m3"
  int element_bits;               ///< bits of one stored value
  int block_elements;             ///< elements sharing one block scale; 0 = no block scale
  int block_scale_bits;           ///< bits of the block scale (E4M3 8, E8M0 8, fp16 16)
  bool is_float;                  ///< floating-point values (false: integer codes)
  int exponent_bits;              ///< 0 for integers
  int mantissa_bits;              ///< stored mantissa bits; integers: value bits without sign
  double max_finite;              ///< largest finite magnitude of one element (before scaling)
  MathPath native_path;           ///< the tensor-core path that computes this format natively
  bool weight_only_by_design;     ///< int4: activations stay 16-bit even where an int4 unit exists
};

/// The format table, indexed by static_cast<size_t>(Precision).
inline constexpr std::array<FormatInfo, precision_count> format_table{{
    {Precision::fp32, "fp32", 32, 0, 0, true, 8, 23, 3.4028234663852886e38, MathPath::simt_fp32, false},
    {Precision::bf16, "bf16", 16, 0, 0, true, 8, 7, 3.3895313892515355e38, MathPath::tc_16bit, false},
    {Precision::fp16, "fp16", 16, 0, 0, true, 5, 10, 65504.0, MathPath::tc_16bit, false},
    {Precision::fp8_e4m3, "fp8_e4m3", 8, 0, 0, true, 4, 3, 448.0, MathPath::tc_fp8, false},
    {Precision::fp8_e5m2, "fp8_e5m2", 8, 0, 0, true, 5, 2, 57344.0, MathPath::tc_fp8, false},
    {Precision::int8, "int8", 8, 0, 0, false, 0, 7, 127.0, MathPath::tc_int8, false},
    {Precision::int4, "int4", 4, 128, 16, false, 0, 3, 7.0, MathPath::tc_int4, true},
    {Precision::nvfp4, "nvfp4", 4, 16, 8, true, 2, 1, 6.0, MathPath::tc_fp4, false},
    {Precision::mxfp4, "mxfp4", 4, 32, 8, true, 2, 1, 6.0, MathPath::tc_fp4, false},
}};

/// The row of the format table for p.
constexpr const FormatInfo& format_info(Precision p) { return format_table[static_cast<std::size_t>(p)]; }

/// Stored bits per element including block scales: element_bits + block_scale_bits / block_elements
/// (NVFP4 4 + 8/16 = 4.5; MXFP4 4 + 8/32 = 4.25; INT4 g128 4 + 16/128 = 4.125). Per-tensor and
/// per-channel scales are amortised over whole rows and are not included.
constexpr double bits_per_element(Precision p) {
  const FormatInfo& f = format_info(p);
  return f.block_elements == 0 ? double(f.element_bits)
                               : double(f.element_bits) + double(f.block_scale_bits) / f.block_elements;
}
/// Stored bytes per element including block scales (bits_per_element / 8; NVFP4 0.5625).
constexpr double bytes_per_element(Precision p) { return bits_per_element(p) / 8.0; }

/// Canonical name, e.g. "fp8_e4m3".
std::string_view to_string(Precision p);
std::string_view to_string(MathPath m);
/// The math path of a canonical name ("tc_16bit"); throws UnknownNameError listing the known names.
MathPath parse_math_path(std::string_view name);
std::ostream& operator<<(std::ostream& os, Precision p);
std::ostream& operator<<(std::ostream& os, MathPath m);

/// Parses a canonical name or one of the seeds' spellings ("FP8_E4M3", "FP16", "NVFP4", "NVFP4_KV",
/// "MXFP4", "INT4", "W4A16"...), case-insensitively; throws UnknownNameError listing the known names.
Precision parse_precision(std::string_view text);
/// Like parse_precision but returns false instead of throwing.
bool try_parse_precision(std::string_view text, Precision& out);
/// Every canonical name, in table order.
std::vector<std::string> precision_names();

// ---- scalar codecs (bit-exact; used by the quantisers and by validate/'s CPU references) -------------

/// What a value beyond the largest finite magnitude becomes.
enum class Overflow : std::uint8_t {
  saturate,   ///< clamp to ±max_finite (the hardware's .satfinite conversion)
  propagate,  ///< E5M2: ±inf; E4M3 (no inf): NaN. NaN inputs always stay NaN.
};

/// FP8 E4M3 (OCP "fn": bias 7, no infinities, NaN = S.1111.111, max 448, min subnormal 2^-9),
/// rounded to nearest even.
std::uint8_t encode_fp8_e4m3(float x, Overflow overflow = Overflow::saturate);
float decode_fp8_e4m3(std::uint8_t code);
/// FP8 E5M2 (IEEE-like: bias 15, ±inf = S.11111.00, NaN, max 57344, min subnormal 2^-16), RNE.
std::uint8_t encode_fp8_e5m2(float x, Overflow overflow = Overflow::saturate);
float decode_fp8_e5m2(std::uint8_t code);
/// FP4 E2M1 (OCP MX: bias 1, values 0, 0.5, 1, 1.5, 2, 3, 4, 6; no inf/NaN: always saturates), RNE;
/// the 4-bit code is in the low nibble. NaN encodes as +6 (there is no NaN code).
std::uint8_t encode_fp4_e2m1(float x);
float decode_fp4_e2m1(std::uint8_t code);
/// E8M0 scale (OCP MX): 2^(code-127), code 0xFF is NaN. Encodes the power of two floor(log2(x)),
/// clamped to [2^-127, 2^127]; x must be > 0.
std::uint8_t encode_e8m0(float x);
float decode_e8m0(std::uint8_t code);
/// Rounds a float to the nearest bf16 / fp16 value (RNE), returned as float; fp16 overflows to inf.
float round_to_bf16(float x);
float round_to_fp16(float x);

}  // namespace roofline
