// Host decoders for the device formats the CPU references read back: bf16 and fp8 e4m3 bit patterns.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace roofline::validate::microbench {

/// bf16 is the upper half of an IEEE float32: 0x3F80 → 1.0f.
inline float bf16_bits_to_float(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// fp16 (IEEE binary16): 0x3C00 → 1.0f.
inline float fp16_bits_to_float(std::uint16_t bits) {
  const int sign = bits >> 15, exp = (bits >> 10) & 0x1F, man = bits & 0x3FF;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -24);
  } else if (exp == 31) {
    v = man ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::ldexp(static_cast<float>(man + 1024), exp - 25);
  }
  return sign ? -v : v;
}

/// OCP fp8 E4M3 (bias 7, no infinities, S.1111.111 is NaN, max 448): 0x38 → 1.0f, 0x7E → 448.
inline float fp8_e4m3_bits_to_float(std::uint8_t bits) {
  const int sign = bits >> 7, exp = (bits >> 3) & 0xF, man = bits & 0x7;
  if (exp == 15 && man == 7) return std::numeric_limits<float>::quiet_NaN();
  const float v = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(static_cast<float>(man + 8), exp - 10);
  return sign ? -v : v;
}

}  // namespace roofline::validate::microbench
