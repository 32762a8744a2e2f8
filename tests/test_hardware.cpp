#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include "roofline/errors.hpp"
#include "roofline/hardware.hpp"
#include "test_support.hpp"

using namespace roofline;
using roofline::test::bad;
using roofline::test::hardware;

TEST_CASE("every shipped hardware profile loads, with the six GPUs of the brief") {
  const auto names = hardware().names();
  CHECK(names == std::vector<std::string>{"a100_sxm_80gb", "b200", "gb10", "h100_pcie", "h100_sxm", "h200_sxm"});
  for (const auto& [name, hw] : hardware().all()) {
    CAPTURE(name);
    CHECK(hw.bandwidth_bytes_per_s() > 0);
    CHECK(hw.capacity_bytes() > 0);
    CHECK(hw.sms() > 0);
    CHECK(hw.peak(MathPath::tc_16bit).supported);
    CHECK_FALSE(hw.memory_bandwidth_bytes_per_s.source.empty());
  }
}

TEST_CASE("sparse datasheet peaks are halved to dense") {
  // H100 SXM datasheet: BF16 1979 TFLOP/s with sparsity -> 989.5 dense; FP8 3958 -> 1979.
  const HardwareSpec& h = hardware().get("h100_sxm");
  CHECK(h.peak_flop_per_s(MathPath::tc_16bit) == ROOFLINE_APPROX(989.5e12));
  CHECK(h.peak(MathPath::tc_16bit).datasheet_sparse);
  CHECK(h.peak_flop_per_s(MathPath::tc_fp8) == ROOFLINE_APPROX(1979e12));
  CHECK(h.bandwidth_bytes_per_s() == ROOFLINE_APPROX(3.35e12));
  // Critical intensity of 16-bit tensor cores: 989.5e12 / 3.35e12 = 295.4 FLOP/B.
  CHECK(critical_intensity(h, MathPath::tc_16bit) == ROOFLINE_APPROX(295.4).epsilon(1e-3));
  // GB10: FP4 1 PFLOP with sparsity (product page) -> 500 TFLOP/s dense; 16-bit inferred, flagged so.
  const HardwareSpec& g = hardware().get("gb10");
  CHECK(g.peak_flop_per_s(MathPath::tc_fp4) == ROOFLINE_APPROX(500e12));
  CHECK(g.peak(MathPath::tc_16bit).dense_flop_per_s.provenance == Provenance::inferred);
  CHECK_FALSE(g.l2_bytes.has_value());
}

TEST_CASE("capabilities gate the precision paths") {
  const HardwareSpec& a100 = hardware().get("a100_sxm_80gb");
  const HardwareSpec& h100 = hardware().get("h100_sxm");
  const HardwareSpec& b200 = hardware().get("b200");
  const HardwareSpec& gb10 = hardware().get("gb10");
  // No FP8 tensor cores on A100: W8A8 fp8 runs dequantised on 16-bit tensor cores.
  const MatmulPath a = matmul_path(a100, Precision::fp8_e4m3, Precision::fp8_e4m3);
  CHECK(a.math == MathPath::tc_16bit);
  CHECK(a.support == Support::emulated);
  CHECK(matmul_path(h100, Precision::fp8_e4m3, Precision::fp8_e4m3).math == MathPath::tc_fp8);
  // NVFP4 compute only on Blackwell; on H100 the operands go through fp8.
  CHECK(matmul_path(b200, Precision::nvfp4, Precision::nvfp4).support == Support::native);
  CHECK(matmul_path(gb10, Precision::nvfp4, Precision::nvfp4).math == MathPath::tc_fp4);
  CHECK(matmul_path(h100, Precision::nvfp4, Precision::nvfp4).support == Support::emulated);
  // W4A16 is weight-only everywhere: 16-bit math.
  const MatmulPath w4 = matmul_path(h100, Precision::int4, Precision::bf16);
  CHECK(w4.math == MathPath::tc_16bit);
  CHECK(w4.support == Support::emulated);
  CHECK(format_support(h100, Precision::int4) == Support::emulated);
  CHECK(format_support(a100, Precision::fp8_e4m3) == Support::emulated);
  CHECK(format_support(b200, Precision::mxfp4) == Support::native);
  // INT4 tensor cores exist on A100 only.
  CHECK(matmul_path(a100, Precision::int4, Precision::int4).math == MathPath::tc_int4);
  CHECK(matmul_path(h100, Precision::int4, Precision::int4).math == MathPath::tc_16bit);
  CHECK(h100.capabilities.wgmma);
  CHECK_FALSE(b200.capabilities.wgmma);
  CHECK(b200.capabilities.tcgen05);
}

TEST_CASE("device names map to profiles") {
  CHECK(hardware().match_device_name("NVIDIA H100 80GB HBM3")->name == "h100_sxm");
  CHECK(hardware().match_device_name("NVIDIA H200")->name == "h200_sxm");
  CHECK(hardware().match_device_name("Tesla V100") == nullptr);
}

TEST_CASE("an unknown GPU name lists the known ones") {
  CHECK_THROWS_WITH_AS(hardware().get("h900"),
                       "unknown GPU 'h900'; known: a100_sxm_80gb, b200, gb10, h100_pcie, h100_sxm, h200_sxm",
                       UnknownNameError);
}

namespace {
std::string error_of(const std::string& file) {
  try {
    load_hardware_file(bad(file));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
std::string rel(const std::string& file) { return bad(file).string(); }
}  // namespace

TEST_CASE("every bad hardware profile fails with a message naming file, line, column and key") {
  CHECK(error_of("hw_syntax_error.yaml") == rel("hw_syntax_error.yaml") + ":16:8: YAML syntax error: end of sequence flow not found");
  CHECK(error_of("empty.yaml") == rel("empty.yaml") + ": empty file");
  CHECK(error_of("binary.yaml") == rel("binary.yaml") + ": not a text YAML file (contains NUL bytes)");
  CHECK(error_of("hw_missing_bandwidth.yaml") == rel("hw_missing_bandwidth.yaml") +
                                                     ":24:3: memory: missing required key 'bandwidth_bytes_per_s'");
  CHECK(error_of("hw_unknown_key.yaml") ==
        rel("hw_unknown_key.yaml") +
            ":19:3: capabilities.tensor_memory_accelerator: unknown key (allowed: compute_capability, int4_tensor, "
            "mma_sync, native_fp4, native_fp8, tcgen05, tma, unified_memory, wgmma)");
  CHECK(error_of("hw_negative_bandwidth.yaml") ==
        rel("hw_negative_bandwidth.yaml") + ":26:34: memory.bandwidth_bytes_per_s.value: must be > 0, got -1");
  CHECK(error_of("hw_zero_sms.yaml") == rel("hw_zero_sms.yaml") + ":35:21: chip.sm_count.value: must be >= 1, got 0");
  CHECK(error_of("hw_string_number.yaml") ==
        rel("hw_string_number.yaml") + ":29:26: compute.tc_16bit.flop_per_s: must be a number, got 'fast'");
  CHECK(error_of("hw_unknown_source.yaml") ==
        rel("hw_unknown_source.yaml") +
            ":40:56: chip.power_w.source: 'spec_sheet' is not a key of the top-level 'sources' map (known: cuda_guide, "
            "datasheet, device_query, whitepaper)");
  CHECK(error_of("hw_fp8_on_ampere.yaml") ==
        rel("hw_fp8_on_ampere.yaml") + ":19:15: capabilities.native_fp8: fp8 tensor cores need compute capability >= 8.9");
  CHECK(error_of("hw_bad_schema_version.yaml") ==
        rel("hw_bad_schema_version.yaml") + ":3:17: schema_version: unsupported schema version 7 (this library reads 1)");
  CHECK(error_of("hw_duplicate_key.yaml") == rel("hw_duplicate_key.yaml") + ":19:3: capabilities.tma: duplicate key");
  CHECK(error_of("hw_bad_sparsity.yaml") ==
        rel("hw_bad_sparsity.yaml") + ":30:43: compute.tc_fp8.sparsity: must be one of dense, sparse, got 'structured'");
}

TEST_CASE("a user file with a name already in the registry is refused") {
  HardwareRegistry r = HardwareRegistry::load_directory(roofline::test::source_dir() / "hw_profiles");
  CHECK_THROWS_AS(r.add_file(roofline::test::source_dir() / "hw_profiles" / "h100_sxm.yaml"), ConfigError);
}
