// The runner's record path on the CPU: predicted_s attached in one place, error records without it.
#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <unistd.h>

#include "roofline/calibration.hpp"
#include "roofline/validate/record.hpp"
#include "runner/runner.hpp"

using nlohmann::json;
using namespace roofline::validate;
using namespace roofline::validate::runner;

namespace {
DeviceInfo h100() {
  DeviceInfo d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.hw_profile = "h100_sxm";
  d.compute_capability = "9.0";
  d.sm_count = 132;
  d.l2_bytes = 52428800;
  d.memory_bytes = 85520809984;
  d.sm_clock_hz = 1.98e9;
  d.mem_clock_hz = 2.619e9;
  d.clock_note = "test";
  d.driver = "test";
  d.cuda_runtime = "13.0";
  return d;
}
}  // namespace

TEST_CASE("the runner attaches the library's prediction to ok records and leaves error records null") {
  const auto dir = std::filesystem::temp_directory_path() / ("roofline_runner_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  RunOptions o;
  o.out_dir = dir;
  o.quiet = true;
  Runner r(o, h100());
  const roofline::HardwareRegistry registry = roofline::HardwareRegistry::load_default();
  const roofline::HardwareSpec& hw = registry.get("h100_sxm");
  r.set_predictor(hw, roofline::calibration_for(hw, registry), roofline::ModelRegistry::load_default());
  r.begin_suite("gemm", 2);
  TimeStats t;
  t.median_s = t.min_s = t.max_s = 2e-4;
  t.count = 5;
  const json w = {{"op", "gemm"}, {"m", 4096}, {"n", 4096}, {"k", 4096}, {"dtype", "bf16"}};
  r.write(make_record("gemm", "cublaslt_bf16", w, t, "cuda_graph_events", "cold_rotating", 1, h100()));
  r.write_error("cublaslt_bf16", w, "boom");
  r.end_suite();
  const auto records = read_records(dir / "gemm.jsonl");
  REQUIRE(records.size() == 2);
  REQUIRE(records[0]["predicted_s"].is_number());
  // Never below the datasheet floor: 2·4096³ FLOP / 989.4e12 FLOP/s (H100 SXM dense bf16) = 1.39e-4 s.
  const double floor_s = 2.0 * 4096.0 * 4096.0 * 4096.0 / hw.peak_flop_per_s(roofline::MathPath::tc_16bit);
  CHECK(floor_s == ROOFLINE_APPROX(1.389e-4).epsilon(0.01));
  CHECK(records[0]["predicted_s"].get<double>() >= floor_s);
  CHECK(records[0]["extra"].contains("prediction_calibration"));
  CHECK(records[1]["predicted_s"].is_null());
  CHECK(r.records_written() == 2);
  CHECK(r.errors_written() == 1);
  std::filesystem::remove_all(dir);
}
