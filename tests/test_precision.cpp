#include <doctest/doctest.h>

#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

using namespace roofline;

TEST_CASE("bits per element include block scales") {
  // NVFP4: 4-bit E2M1 + one 8-bit E4M3 scale per 16 elements = 4 + 8/16 = 4.5 bits = 0.5625 B.
  CHECK(bits_per_element(Precision::nvfp4) == doctest::Approx(4.5));
  CHECK(bytes_per_element(Precision::nvfp4) == doctest::Approx(0.5625));
  // MXFP4: 4 + 8/32 = 4.25 bits = 0.53125 B.
  CHECK(bits_per_element(Precision::mxfp4) == doctest::Approx(4.25));
  CHECK(bytes_per_element(Precision::mxfp4) == doctest::Approx(0.53125));
  // INT4 group 128 with an fp16 scale: 4 + 16/128 = 4.125.
  CHECK(bits_per_element(Precision::int4) == doctest::Approx(4.125));
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
