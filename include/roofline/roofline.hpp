// Roofline: turns an operator's FLOPs and bytes into time on a GPU.
//   time = kernels × fixed_s + smooth_max(compute_s, memory_s)
//   (a follow-up kernel, FlashAttention-2's split-KV combine, pays the residual add's fixed_s instead)
//   compute_s: FLOPs (GEMMs: padded to tiles and quantised into waves over the SMs) / (peak × efficiency)
//   memory_s:  bytes / (bandwidth × efficiency × occupancy), occupancy < 1 when too few blocks run
// The efficiencies, fixed costs and the smoothness of the max are per (GPU, kernel class, math path):
// documented priors (../shared/reference/hardware.md ceilings) until calibration replaces them.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/operators.hpp"

namespace roofline {

enum class Bound : std::uint8_t { memory, compute, latency };
std::string_view to_string(Bound b);

/// The parameters of one (kernel class, math path) on one GPU.
struct KernelParams {
  double fixed_s = 3e-6;                     ///< GPU time per kernel launch beyond its roofline time
  double memory_efficiency_fraction = 0.9;   ///< of datasheet bandwidth, large transfers
  double compute_efficiency_fraction = 0.7;  ///< of datasheet dense peak, large problems
  double overlap_exponent = 4;               ///< p of (c^p + m^p)^(1/p): large p = max(compute, memory)
  double occupancy_fraction = 0.5;           ///< fraction of SMs with a block that saturates bandwidth
  /// GEMMs: each output tile costs its K loop plus this many K elements' worth of prologue and epilogue
  /// (pipeline fill, C store), which is what makes short-K products slow. Prior 128 (inferred).
  double tile_overhead_k_elements = 128;
  /// One step of a kernel's dependent loop (Op::serial_steps): an embedding gather's next id (an HBM round
  /// trip), a split-KV combine's next split. Prior 0.25 µs (inferred: an L2 round trip and its arithmetic;
  /// FlashAttention-2's combine measured 0.18 µs per split on the H200 with CUPTI).
  double serial_step_s = 0.25e-6;
  /// GEMMs timed alone (Load::burst) on a GPU with a measured sustained ceiling: the seconds a kernel runs at
  /// its burst rate before the power limit holds it to the sustained rate (a kernel doing W FLOPs at burst
  /// rate R_b > R_s takes max(W / R_b, W / R_s - burst_s (R_b - R_s) / R_s)). Prior 2 ms (inferred from our
  /// H100 ceilings records: the fp8 16384^3 GEMM is at its burst rate for about 1.9 ms, the bf16 one 5 ms).
  double burst_s = 2e-3;
  /// SIMT streaming kernels: the measured share of the time per byte that scales with the SM count, from the
  /// sm_partition suite (the kernel on all SMs and in a green-context partition with half of them:
  /// time(f) = a + b / f, share = b / time(1)); an input of the transfer rule, not fitted. -1: not measured.
  double sm_share = -1;
  /// Small streaming kernels inside a step read what the kernel before them just wrote, from L2: their
  /// measured time with L2-resident inputs over their time in the cold microbenchmark (the l2_warm suite's
  /// pairs, median over its sizes), applied to an operator marked Op::inputs_in_l2 whose kernels move at
  /// most l2_warm_max_bytes each (the largest size measured; beyond it HBM time dominates). 1: not
  /// measured. An input, not fitted.
  double l2_warm_ratio = 1;
  double l2_warm_max_bytes = 0;
  /// Relative prediction interval from held-out residuals (time × these), e.g. 0.9 and 1.1.
  double interval_low_fraction = 0.6;
  double interval_high_fraction = 1.6;
  Provenance provenance = Provenance::inferred;  ///< inferred (prior), measured (calibrated) or transferred
  std::int32_t records = 0;                      ///< measurements the parameters were fitted to
  double heldout_median_error_fraction = -1;     ///< median |error| on held-out records (-1: unknown)
  bool operator==(const KernelParams&) const = default;
};
std::ostream& operator<<(std::ostream& os, const KernelParams& p);

/// Which parameter set an operator uses: its kernel class and math path, and for attention classes the
/// attention kernel (FlashAttention-2 and an FA3-class kernel differ far more than any shape effect).
struct ParamKey {
  KernelClass kernel = KernelClass::gemm;
  MathPath math = MathPath::tc_16bit;
  AttentionKernel attention = AttentionKernel::fa2;  ///< ignored unless kernel is an attention class
  OperatorType op = OperatorType::Q_PROJ;             ///< ignored unless kernel is elementwise (rope, residual, ...)
  bool operator==(const ParamKey&) const = default;
};
ParamKey param_key(const Op& op);
/// The key whose fixed cost a follow-up kernel pays (Op::follow_up_kernels): the residual add, the smallest
/// elementwise kernel. calibrate() fits it first, so that every other key is fitted against its value.
inline constexpr ParamKey follow_up_kernel_key{KernelClass::elementwise, MathPath::simt_fp32, AttentionKernel::fa2,
                                               OperatorType::RESIDUAL};
/// "gemm/tc_16bit", "attention_decode/tc_16bit/fa2", "elementwise/simt_fp32/rope"
std::string to_string(const ParamKey& k);
/// Parses to_string's form; throws InvalidArgumentError.
ParamKey parse_param_key(std::string_view text);
/// Every distinct key (each attention class × attention kernel, elementwise × operator type, others once).
std::vector<ParamKey> all_param_keys();

/// A measured library kernel choice that the tile model cannot see in the shape: calibrate() keeps a fitted
/// GEMM record whose measured / predicted ratio lies beyond the square of its key's 90% held-out band
/// (on the H200, fp8 N 1024 K 4096 at M <= 4 runs cuBLASLt's 8x64-tile kernel at 1.4-1.8x the time the
/// model gives it; the H100 picks a 64x8 tile). Adjacent measured Ms of one (math path, N, K) flagged the
/// same way form one entry; a GEMM of that math path, N and K with M in [m.front(), m.back()] is scaled by
/// the ratio interpolated in log M. Measured on one GPU with one library version: never transferred.
struct GemmException {
  MathPath math = MathPath::tc_16bit;
  std::int64_t n = 0, k = 0;
  std::vector<std::int64_t> m;   ///< measured Ms, ascending
  std::vector<double> ratio;     ///< measured / predicted at each M
  std::string source;            ///< the records, file:line
  bool operator==(const GemmException&) const = default;
};

/// One algorithm cuBLASLt's heuristic offers for a GEMM on a calibrated GPU, timed there by the
/// gemm_candidates suite (rank 0: the heuristic's choice on that GPU, what PyTorch runs).
struct GemmCandidate {
  MathPath math = MathPath::tc_16bit;
  std::int64_t m = 0, n = 0, k = 0;
  int rank = 0;
  std::string algorithm;  ///< canonical configuration, gemm_algorithm_key()
  std::string kernel;     ///< the kernel CUPTI saw
  double time_s = 0;
  bool operator==(const GemmCandidate&) const = default;
};

/// The algorithm cuBLASLt's heuristic picks for a GEMM on one GPU: what cublasLtMatmulAlgoGetHeuristic
/// returns there, read from the `extra.algorithm` of that GPU's GEMM records (no time is read).
struct KernelChoice {
  MathPath math = MathPath::tc_16bit;
  std::int64_t m = 0, n = 0, k = 0;
  std::string algorithm;  ///< canonical configuration, gemm_algorithm_key()
  std::string kernel;
  bool operator==(const KernelChoice&) const = default;
};

/// Parameters for every parameter key of one GPU.
class Calibration {
 public:
  /// Documented priors for `hw` (no measurements): streaming at 90% of bandwidth, 16-bit GEMMs at 75%,
  /// fp8 at 65%, fp4 at 30% of peak (hardware.md, modeling.md), 3 µs per small kernel.
  static Calibration priors(const HardwareSpec& hw);

  const KernelParams& params(const ParamKey& k) const { return table_[index(k)]; }
  void set(const ParamKey& k, const KernelParams& p) { table_[index(k)] = p; }
  const std::string& gpu() const { return gpu_; }
  /// "prior", "calibrated" or "transferred from <gpu>"; with the source file when loaded.
  const std::string& status() const { return status_; }
  void set_status(std::string s) { status_ = std::move(s); }
  const std::string& source_file() const { return source_file_; }
  void set_source_file(std::string f) { source_file_ = std::move(f); }
  /// Measured throughput of back-to-back saturating GEMMs of a math path after the power limit has pulled
  /// the clocks down (the ceilings suite's `*_sustained` records; 0: not measured). Whole steps are
  /// predicted under it (Load::sustained): a long prefill cannot run its GEMMs at the burst rate.
  double sustained_flop_per_s(MathPath m) const { return sustained_[static_cast<std::size_t>(m)]; }
  void set_sustained_flop_per_s(MathPath m, double v) { sustained_[static_cast<std::size_t>(m)] = v; }
  /// Half-width (fraction of the time) of the 90% band of one GPU unit's or session's speed around the
  /// measured one: the same whole steps re-run on another lease of the same GPU model ran a few percent
  /// apart (FitOptions::session_pairs). Every workload's interval adds it in quadrature, as one term
  /// common to all its operators; 0: not measured.
  double session_band_fraction() const { return session_band_; }
  void set_session_band_fraction(double f) { session_band_ = f; }
  const std::vector<GemmException>& gemm_exceptions() const { return gemm_exceptions_; }
  void set_gemm_exceptions(std::vector<GemmException> e) { gemm_exceptions_ = std::move(e); }
  /// cuBLASLt's candidate algorithms timed on this GPU (the gemm_candidates suite): what a transfer prices
  /// another GPU's different kernel choice with.
  const std::vector<GemmCandidate>& gemm_candidates() const { return gemm_candidates_; }
  void set_gemm_candidates(std::vector<GemmCandidate> c) { gemm_candidates_ = std::move(c); }
  /// The measured factor for a GEMM of `math` and shape `g` (GemmException); 1 when none applies.
  double gemm_exception_factor(MathPath math, const GemmShape& g) const;
  bool operator==(const Calibration&) const = default;

 private:
  static constexpr std::size_t variant_count =
      attention_kernel_count > operator_type_count ? attention_kernel_count : operator_type_count;
  static std::size_t index(const ParamKey& k) {
    const bool attention = k.kernel == KernelClass::attention_prefill || k.kernel == KernelClass::attention_decode;
    const std::size_t variant = attention ? static_cast<std::size_t>(k.attention)
                                : k.kernel == KernelClass::elementwise ? static_cast<std::size_t>(k.op)
                                                                       : 0;
    return (static_cast<std::size_t>(k.kernel) * math_path_count + static_cast<std::size_t>(k.math)) * variant_count +
           variant;
  }
  std::string gpu_;
  std::string status_ = "prior";
  std::string source_file_;
  std::array<KernelParams, kernel_class_count * math_path_count * variant_count> table_{};
  std::array<double, math_path_count> sustained_{};
  double session_band_ = 0;
  std::vector<GemmException> gemm_exceptions_;
  std::vector<GemmCandidate> gemm_candidates_;
};

/// Whether an operator runs alone (burst: clocks at boost, what a single-kernel benchmark measures) or
/// inside a long stream of work (sustained: compute capped by the measured power-limited ceilings).
enum class Load { burst, sustained };

struct Prediction {
  double time_s = 0;            ///< one instance
  double compute_s = 0;         ///< compute term (after efficiency)
  double memory_s = 0;          ///< memory term (after efficiency)
  double fixed_s = 0;           ///< fixed per-kernel cost
  Bound bound = Bound::memory;
  double flops = 0;
  double bytes = 0;
  double intensity_flop_per_byte = 0;
  double critical_intensity_flop_per_byte = 0;  ///< peak / bandwidth of the op's math path
  double interval_low_s = 0;
  double interval_high_s = 0;
  double exception_factor = 1;  ///< a measured library kernel choice applied (GemmException); 1: none
  bool prior = false;           ///< its parameters are priors (Provenance::inferred), not fitted or transferred
  bool operator==(const Prediction&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Prediction& p);

/// The calibrated time of one instance of `op`. Load::sustained caps its tensor-core throughput at the
/// calibration's sustained ceiling of its math path (whole steps use it).
Prediction predict(const Op& op, const HardwareSpec& hw, const Calibration& calibration, Load load = Load::burst);

/// The datasheet floor of one instance: max(FLOPs / peak, bytes / bandwidth); nothing runs faster.
double datasheet_floor_s(const Op& op, const HardwareSpec& hw);

/// Compute time of a GEMM on tensor cores: the best of a few tile shapes and split-K factors up to
/// `max_split`, padded to whole tiles and quantised into waves over the SMs, at `flop_per_s` × `efficiency`.
double gemm_compute_s(const GemmShape& g, double flop_per_s, double efficiency, int sm_count, int max_split = 8,
                      double tile_overhead_k_elements = 0);

/// Whether two operators run the same kernel on the same shape: equal but for their type, layers,
/// instances and note (a layer's two RMSNorms, k_proj and v_proj, gate and up).
bool same_kernel_and_shape(const Op& a, const Op& b);

/// The interval of a sum of operator predictions (a whole step). Its terms are groups: the operators that
/// run one kernel on one shape, with all their instances, err together and add linearly within a group.
/// Groups add in quadrature: each operator's interval is a spread of held-out residuals over independently
/// drawn shapes (k-fold over shapes, random-shape suites), so distinct shapes and kernels do not err in step.
/// Operators whose parameters are still priors share one guess: together they are one more group.
/// The session band (Calibration::session_band_fraction) is one more term, common to every operator:
/// session_fraction × the total time.
struct IntervalSum {
  double below_sq = 0, above_sq = 0;        ///< Σ over groups of fitted or transferred parameters, squared
  double prior_below = 0, prior_above = 0;  ///< the prior-parameter group, linear
  double session_fraction = 0;              ///< Calibration::session_band_fraction
  /// One group: its total deviations below and above its predicted time.
  void add_group(double below_s, double above_s, bool prior);
  /// One group of a single prediction's `instances` (its interval's deviations times them).
  void add(const Prediction& p, double instances);
  void merge(const IntervalSum& o);
  double low_s(double time_s) const;   ///< time − √(Σ below² + prior_below² + (session × time)²), ≥ 0
  double high_s(double time_s) const;  ///< time + √(Σ above² + prior_above² + (session × time)²)
  bool operator==(const IntervalSum&) const = default;
};

struct OpPrediction {
  Op op;
  Prediction prediction;  ///< per instance
  double total_s() const { return prediction.time_s * op.instances; }
  bool operator==(const OpPrediction&) const = default;
};

/// The IntervalSum of a step's operator predictions: rows that run the same kernel on the same shape
/// (same_kernel_and_shape) are one group with their instances; `session_fraction` as in IntervalSum.
IntervalSum step_interval(const std::vector<OpPrediction>& ops, double session_fraction);

struct StepPrediction {
  std::vector<OpPrediction> ops;
  double time_s = 0;
  double interval_low_s = 0;
  double interval_high_s = 0;
  double flops = 0;
  double bytes = 0;
  double tokens_per_s = 0;  ///< decode: batch / time; prefill: batch × seq_len / time
  MemoryFootprint memory;
  double memory_capacity_bytes = 0;
  bool fits = true;
  std::string infeasible_reason;  ///< "weights of 140e9 bytes exceed memory of 80e9 bytes"
  std::string calibration_status;
  bool operator==(const StepPrediction&) const = default;
};

/// Predicts a whole step. Never throws for a step that does not fit: `fits` is false with a reason.
StepPrediction predict_step(const ModelConfig& model, const StepConfig& config, const HardwareSpec& hw,
                            const Calibration& calibration);

}  // namespace roofline
