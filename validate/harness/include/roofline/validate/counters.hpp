// GPU performance counters through the CUPTI Range Profiler (cupti_range_profiler.h) and the Profiler
// Host API (cupti_profiler_host.h), the CUDA 13 replacements of the removed Event and Metric APIs.
// Auto ranges (one range per kernel) with kernel replay: CUPTI replays each kernel, saving and restoring
// device memory, until every pass of the metric set is collected; values are then combined over the
// call's kernels (".sum" metrics add, ".max" take the maximum, ".min" the minimum). Counter runs are
// separate from timing runs (replay and serialisation perturb time). Metric names can be checked for a
// chip ("GH100") without a GPU through the host API.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace roofline::validate {

/// A metric name as the host API knows it for one chip.
struct MetricInfo {
  std::string name;
  bool supported = false;
  std::string description;  ///< e.g. "# of bytes read from DRAM"
  std::string hw_unit;      ///< e.g. "dram"
  std::string dim_unit;     ///< e.g. "byte"
  std::string error;        ///< why it is not supported
};

/// DRAM read/write bytes, L2 (lts) bytes, kernel duration, tensor-pipe instructions, cycles and math ops
/// by source type, and FP32/FP16 FMA/ADD/MUL thread instructions (names valid on GH100; other chips
/// reject some, which is recorded, not fatal).
std::vector<std::string> default_metrics();

/// Chips the installed CUPTI's host API can evaluate ("GA100", "GH100", "GB100", ...). No GPU needed.
std::vector<std::string> profiler_supported_chips();

/// Looks up every metric for `chip` through the host API (no GPU needed). Throws CuptiError when the
/// host API cannot be initialised for that chip.
std::vector<MetricInfo> check_metrics(const std::string& chip, const std::vector<std::string>& metrics);

/// How values of one metric combine over several kernels: "sum", "max", "min", or "" when they cannot
/// (averages, ratios, rates): then only single-kernel calls get a value.
std::string combine_rule(const std::string& metric);

/// The result of one counter run.
struct CounterResult {
  std::map<std::string, double> values;       ///< metric → value combined over the call's kernels
  std::map<std::string, std::string> errors;  ///< metric → why it has no value
  int kernels = 0;                            ///< profiled ranges (kernels) in the call
  int passes = 0;                             ///< replay passes the metric set needed
  std::size_t dropped_ranges = 0;
  nlohmann::json values_json() const;   ///< {"dram__bytes_read.sum": 3.3e7, ...}
  nlohmann::json errors_json() const;   ///< {"sm__ops_path_tensor_src_fp8.sum": "not supported on GA100", ...}
};

/// RAII, move-only: a Range Profiler configured for one device and metric set. One at a time per process;
/// do not combine with a CuptiActivitySession.
class CounterSession {
 public:
  /// Initialises the profiler for `device` (creating its primary context), checks each metric (unsupported
  /// ones are dropped and listed by rejected()), builds the config and counter-data images. Throws
  /// CuptiError: permission_denied() when counters are restricted to administrators, unsupported() for
  /// devices CUPTI cannot profile (MIG slices, vGPU, ...).
  CounterSession(int device, const std::vector<std::string>& metrics, int max_kernels_per_call = 64);
  ~CounterSession();
  CounterSession(CounterSession&&) noexcept;
  CounterSession& operator=(CounterSession&&) noexcept;
  CounterSession(const CounterSession&) = delete;
  CounterSession& operator=(const CounterSession&) = delete;

  const std::string& chip() const;
  const std::vector<std::string>& metrics() const;              ///< the metrics being collected
  const std::map<std::string, std::string>& rejected() const;   ///< requested but unsupported, with reason
  int passes() const;

  /// Runs launch(stream) under the profiler (direct launches, not a graph: kernel replay needs them),
  /// replaying until all passes are collected, and returns the combined values. Throws CudaError /
  /// CuptiError on failure; rejected metrics appear in the result's errors.
  CounterResult measure(const std::function<void(cudaStream_t)>& launch, cudaStream_t stream);

  /// True when a session can be opened on `device` (GPU present, profiling permitted); never throws.
  static bool available(int device, std::string* why_not = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace roofline::validate
