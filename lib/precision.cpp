#include "roofline/precision.hpp"

#include <algorithm>
#include <cctype>
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

std::ostream& operator<<(std::ostream& os, Precision p) { return os << to_string(p); }
std::ostream& operator<<(std::ostream& os, MathPath m) { return os << to_string(m); }

bool try_parse_precision(std::string_view text, Precision& out) {
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
