// roofline-validate: runs measurement suites on the GPU and writes measurement records (JSONL, schema
// roofline.measurement.v1) to <out-dir>/<suite>.jsonl. Exit status: 0 when the suites ran (failed cases are
// error records, not failures), 2 for a usage error, 3 when no GPU is usable (nothing measured).
#include <CLI/CLI.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "roofline/errors.hpp"
#include "roofline/calibration.hpp"
#include "roofline/hardware.hpp"
#include "roofline/validate/cuda_check.hpp"
#include "roofline/validate/device_info.hpp"
#include "runner/runner.hpp"
#include "runner/summary.hpp"

namespace rv = roofline::validate;
namespace rr = roofline::validate::runner;

namespace {

constexpr int kUsageError = 2;
constexpr int kNoGpu = 3;

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"roofline-validate: measure GPU ceilings, GEMM surfaces and kernel fixed costs as JSONL records "
               "(docs/validate-harness.md)"};
  std::vector<std::string> suites;
  std::string hw;
  std::string out_dir;
  bool quick = false, smoke = false, counters = false, no_cupti = false, replace = false, quiet = false, list = false;
  int device = 0;
  bool print_hw = false;
  std::string summary_dir;
  app.add_option("suites", suites, "suites to run: " + joined(rr::suite_names()) + ", or all");
  app.add_option("--hw", hw, "hw profile name (default: derived from the device name)");
  app.add_option("--out-dir", out_dir, "where <suite>.jsonl files go (default: validate/data/<hw>)");
  app.add_flag("--quick", quick, "fewer shapes and sizes (minutes → tens of seconds)");
  app.add_flag("--smoke", smoke, "a few tiny cases per suite (for compute-sanitizer)");
  app.add_flag("--counters", counters, "add hardware counters to every record (slow: a kernel-replay run per record)");
  app.add_flag("--no-cupti", no_cupti, "never open a CUPTI activity session (e.g. under compute-sanitizer)");
  app.add_flag("--replace", replace, "truncate each suite's file first instead of appending");
  app.add_flag("--quiet", quiet, "no progress output");
  app.add_flag("--list", list, "list the suites and exit");
  app.add_flag("--print-hw", print_hw, "print the hw profile name of the device and exit");
  app.add_option("--summary", summary_dir, "print a summary of the records in DIR (strictly parsed) and exit");
  app.add_option("--device", device, "CUDA device ordinal")->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsageError;
  }
  if (list) {
    for (const auto& s : rr::suite_names()) std::cout << s << "\n";
    return 0;
  }
  if (!summary_dir.empty()) return rr::print_summary(summary_dir, std::cout) == 0 ? 0 : 1;
  if (suites.empty() && !print_hw) {
    std::cerr << "roofline-validate: no suite given; known: " << joined(rr::suite_names()) << ", all\n";
    return kUsageError;
  }
  std::vector<std::string> run;
  const std::vector<std::string> known = rr::suite_names();
  for (const std::string& s : suites) {
    if (s == "all") {
      run.insert(run.end(), known.begin(), known.end());
    } else if (std::find(known.begin(), known.end(), s) != known.end()) {
      run.push_back(s);
    } else {
      std::cerr << "roofline-validate: unknown suite '" << s << "'; known: " << joined(rr::suite_names()) << ", all\n";
      return kUsageError;
    }
  }
  if (quick && smoke) {
    std::cerr << "roofline-validate: --quick and --smoke exclude each other\n";
    return kUsageError;
  }

  std::string why;
  if (!rv::gpu_available(&why)) {
    std::cerr << "roofline-validate: skipped, nothing measured: " << why << "\n";
    return kNoGpu;
  }
  rr::RunOptions options;
  options.scale = smoke ? rr::Scale::smoke : quick ? rr::Scale::quick : rr::Scale::full;
  options.counters = counters;
  options.cupti = !no_cupti;
  options.replace = replace;
  options.quiet = quiet;
  options.device = device;
  rv::DeviceInfo info;
  try {
    ROOFLINE_CUDA_CHECK(cudaSetDevice(device));
    info = rv::query_device_info(device, "");
  } catch (const std::exception& e) {
    std::cerr << "roofline-validate: cannot use device " << device << ": " << e.what() << "\n";
    return kNoGpu;
  }

  // The hw profile: --hw (checked against the shipped profiles), else the device name.
  std::optional<roofline::HardwareRegistry> registry;
  try {
    registry = roofline::HardwareRegistry::load_default();
  } catch (const std::exception& e) {
    std::cerr << "roofline-validate: warning: cannot load hw_profiles (" << e.what() << ")\n";
  }
  if (!hw.empty()) {
    if (registry) {
      try {
        registry->get(hw);
      } catch (const roofline::UnknownNameError& e) {
        std::cerr << "roofline-validate: --hw: " << e.what() << "\n";
        return kUsageError;
      }
    }
  } else {
    if (registry) {
      if (const roofline::HardwareSpec* spec = registry->match_device_name(info.name)) hw = spec->name;
    }
    if (hw.empty()) hw = rv::hw_profile_for_device_name(info.name);
    if (hw.empty()) {
      std::cerr << "roofline-validate: unknown GPU '" << info.name << "': pass --hw NAME"
                << (registry ? " (known: " + joined(registry->names()) + ")" : std::string()) << "\n";
      return kUsageError;
    }
  }
  info.hw_profile = hw;
  if (print_hw) {
    std::cout << hw << "\n";
    return 0;
  }
  if (registry) {
    if (const roofline::HardwareSpec* spec = registry->find(hw)) options.theoretical_bytes_per_s = spec->bandwidth_bytes_per_s();
  }
  options.hw = hw;
  options.out_dir = out_dir.empty() ? std::filesystem::path("validate/data") / hw : std::filesystem::path(out_dir);
  if (!quiet) {
    std::cerr << "roofline-validate: " << info.name << " (" << hw << ", sm_" << info.compute_capability << ", "
              << info.sm_count << " SMs, L2 " << info.l2_bytes << " B), driver " << info.driver << ", CUDA runtime "
              << info.cuda_runtime << "; clocks: " << info.clock_note << "\n";
  }

  rr::Runner runner(options, info);
  if (registry) {
    if (const roofline::HardwareSpec* spec = registry->find(hw)) {
      try {
        runner.set_predictor(*spec, roofline::calibration_for(*spec, *registry), roofline::ModelRegistry::load_default());
      } catch (const std::exception& e) {
        std::cerr << "roofline-validate: warning: no predictions (predicted_s stays null): " << e.what() << "\n";
      }
    }
  }
  for (const std::string& s : run) {
    try {
      if (s == "stream") rr::run_stream_suite(runner);
      if (s == "launch") rr::run_launch_suite(runner);
      if (s == "elementwise") rr::run_elementwise_suite(runner);
      if (s == "gemm") rr::run_gemm_suite(runner);
      if (s == "gemm_holdout") rr::run_gemm_holdout_suite(runner);
      if (s == "gemm_random") rr::run_gemm_random_suite(runner);
      if (s == "gemm_fresh") rr::run_gemm_fresh_suite(runner);
      if (s == "gemm_candidates") rr::run_gemm_candidates_suite(runner);
      if (s == "ceilings") rr::run_ceilings_suite(runner);
      if (s == "counters") rr::run_counters_suite(runner);
    } catch (const std::exception& e) {
      // Suites record their own failures; anything escaping is reported and the next suite runs.
      std::cerr << "roofline-validate: suite " << s << " stopped: " << e.what() << "\n";
      runner.end_suite();
    }
  }
  std::cerr << "roofline-validate: " << runner.records_written() << " records written to " << options.out_dir.string()
            << " (" << runner.errors_written() << " error records)\n";
  return 0;
}
