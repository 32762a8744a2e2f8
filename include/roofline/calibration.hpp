// Calibration: fits the roofline's per-(GPU, kernel class, math path) parameters — fixed cost per
// kernel, memory and compute efficiency, the smoothness of max(compute, memory), the occupancy ramp —
// to measurement records by regularised least squares on log time ratios (Levenberg–Marquardt), and
// states the error on records the fit never saw (k-fold over shapes, plus hold-out suites and whole
// model steps that are never fitted). Calibrated profiles are data (calibration/<gpu>.json) with their
// provenance; a GPU without one gets a documented transfer from a calibrated GPU of its architecture.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/roofline.hpp"
#include "roofline/workload.hpp"

namespace roofline {

// ---- measurement records (docs/measurement-records.md) -----------------------------------------------

struct DeviceRecord {
  std::string name;
  std::string hw_profile;
  std::string compute_capability;
  int sm_count = 0;
  double l2_bytes = 0;
  double memory_bytes = 0;
  double sm_clock_hz = 0;
  double mem_clock_hz = 0;
  std::string clock_note;
  std::string driver;
  std::string cuda_runtime;
  std::string torch;  ///< "" when not a PyTorch suite
  bool operator==(const DeviceRecord&) const = default;
};

struct MeasurementRecord {
  std::string file;
  int line = 0;
  std::string suite;
  std::string label;
  bool ok = true;
  std::string error;
  Workload workload;
  double median_s = 0;
  double min_s = 0;
  double max_s = 0;
  int count = 0;
  std::string timing_method;
  std::string l2;
  int kernels_per_call = 1;
  std::map<std::string, double> counters;
  std::optional<double> predicted_s;
  DeviceRecord device;
  std::string timestamp;
  std::string extra_json;  ///< the record's "extra" object as JSON text ("{}" when absent)
  bool operator==(const MeasurementRecord&) const = default;
};

/// Reads a JSON Lines file of records; blank lines are skipped. Throws ConfigError naming file:line and
/// the key path for a malformed line, a foreign schema, a missing or mistyped field.
std::vector<MeasurementRecord> load_records(const std::filesystem::path& file);
/// Every *.jsonl under `dir` (recursively), in path order.
std::vector<MeasurementRecord> load_record_directory(const std::filesystem::path& dir);

// ---- fitting -------------------------------------------------------------------------------------

struct FitOptions {
  int folds = 5;
  int min_records = 6;        ///< a parameter key with fewer ok records keeps its prior
  /// Levenberg–Marquardt iterations per start. 1000: H100 attention_prefill/tc_16bit/cudnn, with its per-tile
  /// overhead, meets the 1e-10 relative-improvement test only after 200 (same optimum, slow valley).
  int max_iterations = 1000;
  double ridge = 0.02;        ///< pull of each transformed parameter towards its prior
  /// Keep measured library kernel choices the model cannot see (GemmException) in the calibration.
  bool gemm_exceptions = true;
  /// Suites whose records are fitted; all other suites are evaluated only (never fitted).
  std::vector<std::string> fit_suites = {"gemm", "gemm_random", "sdpa", "sdpa_headdim", "sdpa_random", "torch_elementwise"};
  /// Fitted suites of random shapes, drawn like the hold-out ones: a key's interval is the wider of its
  /// k-fold band and theirs (20 or more of their residuals).
  std::vector<std::string> random_suites = {"gemm_random", "sdpa_random"};
  /// Suites of validate/'s own microbenchmarks (bandwidth, launch, its own elementwise kernels, counter
  /// runs, cuBLASLt's lower-ranked heuristic candidates, PyTorch's matmul path and its chains: gemm_chain):
  /// they measure ceilings and other implementations
  /// than the ones the model predicts, so they are neither fitted nor counted as model error
  /// (`roofline validate-report` shows them).
  std::vector<std::string> microbenchmark_suites = {"stream", "launch", "elementwise", "counters", "gemm_candidates",
                                                   "l2_warm", "gemm_chain"};
  /// Suites that re-run another suite's workloads in a later session (another lease of the same GPU model):
  /// {re-run, original}. Their paired times give the session band (Calibration::session_band_fraction).
  std::vector<std::pair<std::string, std::string>> session_pairs = {{"model_step_session2", "model_step"},
                                                                     {"model_step_session3", "model_step"}};
};

/// The spread of one GPU's speed between sessions, from workloads measured in two of them.
struct SessionBand {
  int pairs = 0;                  ///< workloads measured in a later session and the reference one
  int sessions = 0;               ///< sessions, the reference ones included
  double median_ratio = 1;        ///< median of later / earlier time over all pairs
  double p10_ratio = 1, p90_ratio = 1;
  /// 90% half-width of one session's speed: exp(1.645 s) − 1, s the sample standard deviation of the sessions'
  /// median log ratios to their reference (0 for the reference); two sessions: s = |ln ratio| / √2.
  double band_fraction = 0;
  std::string suites;             ///< "model_step_session2 / model_step"
  bool operator==(const SessionBand&) const = default;
};
/// Pairs the records of each FitOptions::session_pairs entry by workload (ok records on `hw`) and
/// estimates the band: each session's speed is one draw of a spread (SessionBand::band_fraction); none
/// (band 0, pairs 0) without pairs.
SessionBand session_band(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                         const FitOptions& options = {});

/// Errors of predictions against measurements: |predicted − measured| / measured.
struct ErrorStats {
  int count = 0;
  double mape = 0;    ///< mean
  double median = 0;
  double p90 = 0;
  double max = 0;
  bool operator==(const ErrorStats&) const = default;
};
ErrorStats error_stats(const std::vector<double>& predicted_s, const std::vector<double>& measured_s);

struct KeyFit {
  ParamKey key;
  int records = 0;
  bool fitted = false;       ///< false: too few records, prior kept
  bool converged = true;
  int iterations = 0;
  KernelParams params;
  ErrorStats datasheet;      ///< the plain datasheet roofline max(FLOPs/peak, bytes/bandwidth), same records
  ErrorStats prior_cv;       ///< priors, on the same records
  ErrorStats train;          ///< the final fit on its own records
  ErrorStats heldout_cv;     ///< k-fold over shapes: each fold predicted by a fit on the others
  std::string message;
  bool operator==(const KeyFit&) const = default;
};

/// Evaluation of records that were never fitted (hold-out suites, model steps), grouped by a label.
struct EvaluationGroup {
  std::string name;  ///< e.g. "gemm_holdout gemm/tc_fp8", "model_step decode fp8_e4m3"
  ErrorStats datasheet;  ///< the plain datasheet roofline (no efficiencies, no fixed costs)
  ErrorStats prior;
  ErrorStats calibrated;
  /// Records whose measured time lies inside the calibrated prediction's interval (interval_low_s ..
  /// interval_high_s: the key's 5th..95th k-fold percentiles, or its random suite's when wider: nominally 90%).
  int inside_interval = 0;
  bool operator==(const EvaluationGroup&) const = default;
};

/// Measured against predicted speedup of one pair of model steps (fp8 weights over bf16).
struct SpeedupCheck {
  std::string suite;     ///< the pair's suite (a session re-run pairs within itself)
  std::string workload;  ///< the bf16 step's workload JSON
  double measured_speedup = 0;
  double predicted_speedup = 0;
  double error_fraction = 0;  ///< |predicted − measured| / measured
  bool operator==(const SpeedupCheck&) const = default;
};

/// The suite whose records time a streaming kernel on all SMs and in a partition of them
/// (validate/torch/sm_partition.py): read for KernelParams::sm_share, neither fitted nor evaluated.
inline constexpr std::string_view sm_partition_suite = "sm_partition";
/// The suite whose records time a step's small kernels cold (rotating, as torch_elementwise) and with
/// L2-resident inputs, in pairs (validate/torch/l2_warm.py): read for KernelParams::l2_warm_ratio, neither
/// fitted nor evaluated.
inline constexpr std::string_view l2_warm_suite = "l2_warm";

/// One parameter key's measured in-step factor (the l2_warm suite).
struct L2Warm {
  double ratio = 1;      ///< median warm / cold time over the key's pairs
  double max_bytes = 0;  ///< the largest per-call bytes measured
  int pairs = 0;
  std::string source;    ///< file of the records
  bool operator==(const L2Warm&) const = default;
};

struct CalibrationResult {
  std::string gpu;
  Calibration calibration;
  std::vector<KeyFit> fits;
  std::vector<EvaluationGroup> evaluations;
  std::vector<SpeedupCheck> speedups;
  std::vector<std::string> record_files;
  int records_used = 0;     ///< fitted
  int records_skipped = 0;  ///< errors, other GPUs, unknown models
  std::vector<std::string> warnings;
  std::string created_utc;
  DeviceRecord device;      ///< of the first record (clocks, driver, CUDA)
  /// Sustained ceilings taken from the ceilings suite's `*_sustained` GEMM records (also in `calibration`):
  /// math path -> {FLOP/s, "file:line" of the record}. These records are inputs, not evaluated.
  std::map<MathPath, std::pair<double, std::string>> sustained;
  /// Measured SM shares (KernelParams::sm_share) from the sm_partition suite's record pairs: parameter key ->
  /// {share, "file:line" of the partition record}. Inputs, not evaluated.
  std::map<std::string, std::pair<double, std::string>> sm_shares;
  SessionBand session;  ///< the session band (also in `calibration`)
  /// Measured in-step factors (KernelParams::l2_warm_ratio) from the l2_warm suite: parameter key -> factor.
  std::map<std::string, L2Warm> l2_warm;
  bool all_converged() const;
};

/// Whether `suite` is one of `suites` (FitOptions' suite lists).
bool suite_listed(const std::vector<std::string>& suites, const std::string& suite);

/// The ceilings suite's back-to-back GEMMs measured after the power limit has set in (labels *_sustained):
/// inputs of the calibration that measured them (sustained ceilings), not evaluated.
bool is_sustained_ceiling(const MeasurementRecord& rec);

/// Fits `hw`'s parameters to the ok records measured on it (records of other GPUs are skipped and
/// counted). Throws InvalidArgumentError when no key has enough records.
CalibrationResult calibrate(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                            const ModelRegistry& models, const FitOptions& options = {});

/// The plain datasheet roofline of a workload: the sum over its operators of max(FLOPs / peak,
/// bytes / bandwidth), no efficiency and no fixed cost; the baseline every calibrated number is compared to.
double datasheet_roofline_s(const Workload& w, const HardwareSpec& hw, const ModelRegistry& models);

/// Predicts `records` with `calibration` and groups the errors (suite, key) as `calibrate` does for
/// its evaluation-only suites; used to check a transferred calibration on another GPU's records.
std::vector<EvaluationGroup> evaluate(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                                      const Calibration& calibration, const ModelRegistry& models);

// ---- calibrated profiles --------------------------------------------------------------------------

/// FP8-over-BF16 speedups of the model steps in `records` measured in pairs (the same step with bf16 and
/// fp8_e4m3 weights on `hw`), measured against predicted with `calibration`.
std::vector<SpeedupCheck> speedup_checks(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw,
                                         const Calibration& calibration, const ModelRegistry& models);

/// Writes calibration/<gpu>.json (atomically): parameters per key with residuals, records used, fit method.
void save_calibration(const CalibrationResult& result, const std::filesystem::path& file);
/// Loads a calibrated profile for `hw`; throws ConfigError (file, key path) for a corrupt file or one
/// made for another GPU.
Calibration load_calibration(const std::filesystem::path& file, const HardwareSpec& hw);

/// The transfer rule for a GPU without measurements: dimensionless efficiencies, the overlap exponent and
/// the occupancy ramp are copied from a calibrated GPU of the same architecture, except the memory
/// efficiency of SIMT streaming kernels (transfer_streaming_efficiency) and the occupancy fraction, which
/// keeps each block's streaming rate below saturation, bandwidth x efficiency / (SMs x fraction), scaled by
/// the clock (decode attention's fraction, a latency, stays); fixed costs scale with the boost-clock ratio
/// when both clocks are known; intervals widen by `transfer_interval_widening`. Measured library kernel
/// choices (GemmException) are not transferred.
/// Every parameter is marked Provenance::transferred.
/// With the target's kernel choices (`to_choices`: cuBLASLt's pick per GEMM shape on `to_hw`, no times), a
/// GEMM shape whose pick on the target differs from the source's and that the source timed among its
/// candidates (Calibration::gemm_candidates) becomes a GemmException on the target: the source's time of
/// the target's kernel over its time of its own pick, where that is 25% or more off (as measured exceptions).
Calibration transfer_calibration(const Calibration& from, const HardwareSpec& from_hw, const HardwareSpec& to_hw,
                                 const std::vector<KernelChoice>& to_choices = {});

/// Measured inputs that one GPU of an architecture has and another lacks: the session band and the in-step
/// L2 factors (KernelParams::l2_warm_ratio) of `other` fill `own`'s where it has none (a lease's speed and a
/// small kernel's L2 latency behave alike across one architecture); fitted parameters are untouched.
/// calibration_for applies it with the nearest calibrated GPU of the architecture; so does `roofline accuracy`.
void borrow_architecture_inputs(Calibration& own, const Calibration& other);

/// "algo 66 tile 7 stages 36 splitk 1 reduction 0 swizzle 0 cluster 0" from a record's extra.algorithm
/// object (cuBLASLt's configuration attributes; waves and workspace left out); "" when absent.
std::string gemm_algorithm_key(const std::string& extra_json);
/// The gemm_candidates records of `hw` as candidates (ok records, single products).
std::vector<GemmCandidate> gemm_candidates_of(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw);
/// cuBLASLt's pick per GEMM shape on `hw`, from the algorithm of its GEMM records other than the candidate
/// suite's (no time is read); the first record of a shape wins.
std::vector<KernelChoice> kernel_choices_of(const std::vector<MeasurementRecord>& records, const HardwareSpec& hw);
/// kernel_choices/<gpu>.json (atomically) and back; load throws ConfigError naming the key path.
void save_kernel_choices(const std::vector<KernelChoice>& choices, const std::string& gpu, const std::filesystem::path& file);
std::vector<KernelChoice> load_kernel_choices(const std::filesystem::path& file, const HardwareSpec& hw);
inline constexpr double transfer_interval_widening = 0.10;
/// SIMT streaming kernels (elementwise, norm, embedding), whose achieved bandwidth is what each SM keeps in
/// flight over the memory latency.
constexpr bool is_simt_streaming(KernelClass k) {
  return k == KernelClass::elementwise || k == KernelClass::norm || k == KernelClass::embedding;
}
/// A decode attention key whose kernel is the very binary of its prefill key, so its tiles run at the
/// prefill fit's compute efficiency: PyTorch's memory-efficient backend (our records name
/// fmha_cutlassF_bf16_aligned_64x128_rf_sm80 in both phases). A single query row in a 64-row tile makes
/// decode's executed FLOPs per byte one constant, so decode records alone cannot tell compute from memory
/// time; calibrate() holds the compute efficiency at the prefill key's fitted value.
constexpr bool shares_prefill_compute(const ParamKey& k) {
  return k.kernel == KernelClass::attention_decode && k.attention == AttentionKernel::mem_efficient;
}
/// The transfer of a SIMT streaming kernel's memory efficiency (Little's law): its time per byte is the
/// HBM's, 1 / (eta x bandwidth), plus an SM-side part, bytes in flight per SM over a latency that does not
/// change with the HBM. eta is the source GPU's best streaming efficiency (its kernel closest to the HBM);
/// the SM side scales by `sm_rate_ratio` (SMs x clock, target over source). Returns `efficiency` unchanged
/// when it is not below eta (the kernel is the HBM's) or an input is not positive.
/// `sm_share` (KernelParams::sm_share, -1 when not measured) is a second, measured bound: the share of the time
/// a faster HBM can shorten is at most min(efficiency / eta, 1 - sm_share).
double transfer_streaming_efficiency(double efficiency, double eta, double from_bw, double to_bw, double sm_rate_ratio,
                                     double sm_share = -1);

/// The calibration the library uses for `hw`: data_directory()/calibration/<name>.json if present; else
/// a transfer from a calibrated GPU of the same architecture in `registry`; else the priors.
Calibration calibration_for(const HardwareSpec& hw, const HardwareRegistry& registry);

}  // namespace roofline
