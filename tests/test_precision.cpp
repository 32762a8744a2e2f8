#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

#include <cmath>
#include <limits>

using namespace roofline;

TEST_CASE("bits per element include block scales") {
  // NVFP4: 4-bit E2M1 + one 8-bit E4M3 scale per 16 elements = 4 + 8/16 = 4.5 bits = 0.5625 B.
  CHECK(bits_per_element(Precision::nvfp4) == ROOFLINE_APPROX(4.5));
  CHECK(bytes_per_element(Precision::nvfp4) == ROOFLINE_APPROX(0.5625));
  // MXFP4: 4 + 8/32 = 4.25 bits = 0.53125 B.
  CHECK(bits_per_element(Precision::mxfp4) == ROOFLINE_APPROX(4.25));
  CHECK(bytes_per_element(Precision::mxfp4) == ROOFLINE_APPROX(0.53125));
  // INT4 group 128 with an fp16 scale: 4 + 16/128 = 4.125.
  CHECK(bits_per_element(Precision::int4) == ROOFLINE_APPROX(4.125));
  CHECK(bits_per_element(Precision::bf16) == 16);
  CHECK(bits_per_element(Precision::fp8_e4m3) == 8);
  CHECK(bits_per_element(Precision::fp32) == 32);
}

TEST_CASE("the format table is indexed by its enum") {
  for (std::size_t i = 0; i < precision_count; ++i) CHECK(static_cast<std::size_t>(format_table[i].precision) == i);
}

TEST_CASE("seed spellings map to one canonical name") {
  CHECK(parse_precision("FP8_E4M3") == Precision::fp8_e4m3);
  CHECK(parse_precision("fp8_e4m3") == Precision::fp8_e4m3);
  CHECK(parse_precision("NVFP4_KV") == Precision::nvfp4);
  CHECK(parse_precision("NVFP4") == Precision::nvfp4);
  CHECK(parse_precision("FP16") == Precision::fp16);
  CHECK(parse_precision("MXFP4") == Precision::mxfp4);
  CHECK(parse_precision("W4A16") == Precision::int4);
  CHECK(to_string(parse_precision("BFLOAT16")) == "bf16");
}

TEST_CASE("an unknown precision lists the known names") {
  CHECK_THROWS_WITH_AS(parse_precision("fp6"),
                       "unknown precision 'fp6'; known: fp32, bf16, fp16, fp8_e4m3, fp8_e5m2, int8, int4, nvfp4, mxfp4",
                       UnknownNameError);
}

TEST_CASE("format maxima match the format definitions") {
  // E4M3 (OCP FP8): S.1111.110 = 2^8 * 1.75 = 448; E5M2: 2^15 * 1.75 = 57344; E2M1: 2^2 * 1.5 = 6.
  CHECK(format_info(Precision::fp8_e4m3).max_finite == 448.0);
  CHECK(format_info(Precision::fp8_e5m2).max_finite == 57344.0);
  CHECK(format_info(Precision::nvfp4).max_finite == 6.0);
  CHECK(format_info(Precision::fp16).max_finite == 65504.0);
}

TEST_CASE("fp8 e4m3 encodes exact values, subnormals and saturates") {
  // Worked by hand from the OCP FP8 spec: 1.0 = 0.0111.000 = 0x38; 448 = 0.1111.110 = 0x7E;
  // min subnormal 2^-9 = 0.0000.001 = 0x01; 0.5*2^-9 rounds half-to-even to 0.
  CHECK(encode_fp8_e4m3(1.0f) == 0x38);
  CHECK(encode_fp8_e4m3(-2.0f) == 0xC0);
  CHECK(encode_fp8_e4m3(448.0f) == 0x7E);
  CHECK(encode_fp8_e4m3(1e6f) == 0x7E);
  CHECK(encode_fp8_e4m3(1e6f, Overflow::propagate) == 0x7F);
  CHECK(encode_fp8_e4m3(0.001953125f) == 0x01);
  CHECK(encode_fp8_e4m3(0.0009765625f) == 0x00);
  CHECK(encode_fp8_e4m3(0.0029296875f) == 0x02);  // 1.5 * 2^-9 ties to even -> 2 * 2^-9
  CHECK(decode_fp8_e4m3(0x01) == 0.001953125f);
  CHECK(std::isnan(decode_fp8_e4m3(0x7F)));
  for (int c = 0; c < 256; ++c) {  // every finite code round-trips
    const float v = decode_fp8_e4m3(std::uint8_t(c));
    if (!std::isnan(v) && v != 0.0f) CHECK(encode_fp8_e4m3(v) == c);
  }
}

TEST_CASE("fp8 e5m2 has infinities and rounds to nearest even") {
  CHECK(encode_fp8_e5m2(1.0f) == 0x3C);
  CHECK(encode_fp8_e5m2(57344.0f) == 0x7B);
  CHECK(encode_fp8_e5m2(1e9f) == 0x7B);
  CHECK(encode_fp8_e5m2(1e9f, Overflow::propagate) == 0x7C);
  CHECK(std::isinf(decode_fp8_e5m2(0x7C)));
  CHECK(encode_fp8_e5m2(1.125f) == 0x3C);  // halfway between 1.0 and 1.25: ties to even (1.0)
  CHECK(encode_fp8_e5m2(1.375f) == 0x3E);  // halfway between 1.25 and 1.5: ties to even (1.5)
  for (int c = 0; c < 256; ++c) {
    const float v = decode_fp8_e5m2(std::uint8_t(c));
    if (std::isfinite(v) && v != 0.0f) CHECK(encode_fp8_e5m2(v) == c);
  }
}

TEST_CASE("fp4 e2m1 and e8m0 codecs") {
  const float grid[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int c = 0; c < 8; ++c) {
    CHECK(decode_fp4_e2m1(std::uint8_t(c)) == grid[c]);
    CHECK(encode_fp4_e2m1(grid[c]) == c);
  }
  CHECK(encode_fp4_e2m1(5.0f) == 0x6);   // 5 is halfway 4..6: ties to even mantissa (4)
  CHECK(encode_fp4_e2m1(100.0f) == 0x7);  // saturates at 6
  CHECK(decode_e8m0(encode_e8m0(0.75f)) == 0.5f);
  CHECK(decode_e8m0(127) == 1.0f);
}

TEST_CASE("bf16 and fp16 rounding") {
  CHECK(round_to_bf16(1.0f + 1.0f / 256.0f) == 1.0f);  // halfway between 1 and 1+2^-7: even
  CHECK(round_to_fp16(65520.0f) == std::numeric_limits<float>::infinity());
  CHECK(round_to_fp16(1.0f + 1.0f / 4096.0f) == 1.0f);
}
