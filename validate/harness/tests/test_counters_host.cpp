// Metric-name validation through the CUPTI Profiler Host API, which evaluates names for a chip without a GPU.
#include <doctest/doctest.h>

#include <algorithm>

#include "roofline/validate/counters.hpp"
#include "roofline/validate/cuda_check.hpp"

using namespace roofline::validate;

namespace {
bool host_api_works(std::string* why) {
  try {
    profiler_supported_chips();
    return true;
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
}
}  // namespace

TEST_CASE("the host API lists the chips of the GPUs we profile") {
  std::string why;
  if (!host_api_works(&why)) {
    MESSAGE("SKIPPED: the CUPTI Profiler Host API does not work here: " << why);
    return;
  }
  const auto chips = profiler_supported_chips();
  for (const char* chip : {"GA100", "GH100", "GB100"}) {
    INFO(chip);
    CHECK(std::find(chips.begin(), chips.end(), chip) != chips.end());
  }
}

TEST_CASE("every default metric is a valid GH100 (H100/H200) metric; a bogus name is rejected") {
  std::string why;
  if (!host_api_works(&why)) {
    MESSAGE("SKIPPED: the CUPTI Profiler Host API does not work here: " << why);
    return;
  }
  std::vector<std::string> names = default_metrics();
  names.push_back("dram__bytes_red.sum");  // misspelt
  const std::vector<MetricInfo> infos = check_metrics("GH100", names);
  REQUIRE(infos.size() == names.size());
  for (std::size_t i = 0; i + 1 < infos.size(); ++i) {
    INFO(infos[i].name << ": " << infos[i].error);
    CHECK(infos[i].supported);
  }
  CHECK_FALSE(infos.back().supported);
  CHECK(infos.back().error.find("not a metric of this chip") != std::string::npos);
  // Units as the host API reports them: bytes for DRAM, nanoseconds for the duration.
  const auto find = [&](const std::string& n) {
    return *std::find_if(infos.begin(), infos.end(), [&](const MetricInfo& m) { return m.name == n; });
  };
  CHECK(find("dram__bytes_read.sum").dim_unit == "byte");
  CHECK(find("dram__bytes_read.sum").hw_unit == "dram");
  CHECK(find("gpu__time_duration.sum").dim_unit == "nanosecond");
}

TEST_CASE("Ampere has no FP8 tensor path: the fp8 metric is rejected on GA100, recorded rather than fatal") {
  std::string why;
  if (!host_api_works(&why)) {
    MESSAGE("SKIPPED: the CUPTI Profiler Host API does not work here: " << why);
    return;
  }
  const auto infos = check_metrics("GA100", {"dram__bytes_read.sum", "sm__ops_path_tensor_src_fp8.sum"});
  CHECK(infos[0].supported);
  CHECK_FALSE(infos[1].supported);
}

TEST_CASE("an unknown chip name fails with a CuptiError, not a crash") {
  std::string why;
  if (!host_api_works(&why)) {
    MESSAGE("SKIPPED: the CUPTI Profiler Host API does not work here: " << why);
    return;
  }
  CHECK_THROWS_AS(check_metrics("ZZ999", {"dram__bytes_read.sum"}), CuptiError);
}

TEST_CASE("counter values combine over kernels by their rollup") {
  CHECK(combine_rule("dram__bytes_read.sum") == "sum");
  CHECK(combine_rule("gpc__cycles_elapsed.max") == "max");
  CHECK(combine_rule("sm__cycles_active.min") == "min");
  CHECK(combine_rule("sm__throughput.avg.pct_of_peak_sustained_elapsed") == "");
  CHECK(combine_rule("dram__bytes_read.sum.per_second") == "");
}
