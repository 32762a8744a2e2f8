// The measuring loop of roofline-validate: each case is timed (time_gpu), its clocks are sampled during
// the timed run, counters are added from a separate counter run when asked, predicted_s is attached in
// one place, and the record is appended to <out_dir>/<suite>.jsonl at once. Any failure of a case (CUDA,
// cuBLASLt, CUPTI, bad shape) becomes an error record and the run goes on; a sticky CUDA error resets the
// device first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/roofline.hpp"
#include "roofline/validate/device_info.hpp"
#include "roofline/validate/record.hpp"
#include "roofline/validate/timing.hpp"

namespace roofline::validate::runner {

enum class Scale { full, quick, smoke };  ///< smoke: a few tiny cases (compute-sanitizer runs)

struct RunOptions {
  std::string hw;                   ///< hw profile name
  std::filesystem::path out_dir;    ///< records go to out_dir / "<suite>.jsonl"
  Scale scale = Scale::full;
  bool counters = false;            ///< add counters to every record (slow: kernel replay per record)
  bool cupti = true;                ///< allow CUPTI activity probes (off under compute-sanitizer)
  bool replace = false;             ///< truncate each suite's file before writing
  bool quiet = false;
  int device = 0;
  double theoretical_bytes_per_s = 0;  ///< from the hw profile, for achieved-fraction notes (0: unknown)
};

/// One measurement to take.
struct Case {
  std::string label;
  nlohmann::json workload;
  std::function<void(cudaStream_t, int)> launch;  ///< one call on input set `rotation`
  TimingOptions timing;
  std::string l2 = "warm";        ///< the record's timing.l2
  int kernels_per_call = 0;       ///< 0: unknown (the CUPTI probe fills it in)
  double bytes = 0;               ///< bytes one call moves by the workload definition (0: not stated)
  double flops = 0;               ///< FLOPs (or integer ops) of one call (0: not stated)
  double time_divisor = 1;        ///< time_s = measured per-call time / divisor (stream: passes per kernel)
  bool cupti_probe = false;       ///< after timing, one CUPTI-activity replay for kernel count and names
  bool counters = false;          ///< always take counters (the counters suite)
  nlohmann::json extra = nlohmann::json::object();
};

class Runner {
 public:
  Runner(RunOptions options, DeviceInfo device);

  /// Opens <out_dir>/<suite>.jsonl (truncated first with --replace) and announces `planned` records.
  void begin_suite(const std::string& suite, int planned);
  void end_suite();

  /// Times `c` and writes its record (an error record when anything fails). Returns the written record.
  nlohmann::json measure(const Case& c);

  /// Runs `body` (setup that may fail, e.g. allocation); on an exception writes an error record for
  /// (label, workload) and returns false.
  bool guard(const std::string& label, const nlohmann::json& workload, const std::function<void()>& body);

  /// Writes an error record directly (a case that cannot run, e.g. a failed correctness check).
  void write_error(const std::string& label, const nlohmann::json& workload, const std::string& error);

  /// Writes a fully built record (custom measurements); predicted_s is attached here too.
  void write(nlohmann::json record);

  /// Enables predicted_s: every ok record gets roofline::predict_workload(workload, hw, calibration, models).
  void set_predictor(HardwareSpec hw, Calibration calibration, ModelRegistry models);

  /// Counts a planned case that is deliberately not measured (over the memory cap), for the progress line.
  void skip(const std::string& why);

  const RunOptions& options() const { return options_; }
  DeviceInfo& device() { return device_; }
  const std::string& suite() const { return suite_; }
  int records_written() const { return written_; }
  /// Incremented whenever a sticky error forced a device reset: device memory and handles made before are gone.
  int device_epoch() const { return epoch_; }
  int errors_written() const { return errors_; }

 private:
  void attach_prediction(nlohmann::json& record) const;
  void write_record(nlohmann::json& record);
  std::string handle_failure(const std::exception& e);
  void progress(const nlohmann::json& record, const Case* c);

  RunOptions options_;
  DeviceInfo device_;
  std::string suite_;
  std::optional<RecordWriter> writer_;
  int planned_ = 0;
  int done_ = 0;
  int written_ = 0;
  int errors_ = 0;
  int epoch_ = 0;
  bool tty_ = false;
  struct Predictor {
    HardwareSpec hw;
    Calibration calibration;
    ModelRegistry models;
  };
  std::optional<Predictor> predictor_;
};

/// A compact "k=v" rendering of a workload for progress lines: "m=1 n=4096 k=4096 bf16".
std::string describe_workload(const nlohmann::json& workload);

/// Samples NVML clocks and power every `period_s` on a background thread while alive.
class ClockSampler {
 public:
  ClockSampler(const DeviceInfo& device, double period_s);
  ~ClockSampler();
  ClockSampler(const ClockSampler&) = delete;
  ClockSampler& operator=(const ClockSampler&) = delete;
  /// Stops sampling and returns {t_s, sample} pairs (t from construction).
  std::vector<std::pair<double, ClockSample>> stop();

 private:
  struct Impl;
  Impl* impl_;
};

// Suites (suite_*.cpp). Each plans its cases, measures them through the runner and never throws.
void run_stream_suite(Runner& r);
void run_launch_suite(Runner& r);
void run_elementwise_suite(Runner& r);
void run_gemm_suite(Runner& r);
void run_gemm_holdout_suite(Runner& r);
void run_gemm_random_suite(Runner& r);
void run_gemm_fresh_suite(Runner& r);
void run_gemm_candidates_suite(Runner& r);
void run_ceilings_suite(Runner& r);
void run_counters_suite(Runner& r);

/// The suites in run order; "all" expands to these.
std::vector<std::string> suite_names();

}  // namespace roofline::validate::runner
