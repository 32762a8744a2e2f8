// The integrated quantisation engine: searches mixed-precision strategies × attention kernels × KV-cache
// formats × activation scaling that a GPU supports, keeps the candidates that fit in memory and within a
// quality budget, and recommends one by objective (latency, throughput, memory), with the speedup over a
// 16-bit baseline, a prediction interval from the calibration, a confidence derived from what the
// calibration covers, per-operator bottlenecks, and the reasons every other candidate lost or was refused.
// Quality figures come only from cited evidence (strategies/*.yaml) and measured quantisation error.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/dynamic_quant.hpp"
#include "roofline/flash_attention.hpp"
#include "roofline/hardware.hpp"
#include "roofline/mixed_precision.hpp"
#include "roofline/model.hpp"
#include "roofline/operators.hpp"
#include "roofline/roofline.hpp"

namespace roofline {

// ---- fast step evaluation -------------------------------------------------------------------------

/// Time of one forward step (one instance of every operator, summed).
struct StepTime {
  double time_s = 0;
  double interval_low_s = 0;
  double interval_high_s = 0;
  bool operator==(const StepTime&) const = default;
};

/// predict_step's time for one (model, precision, attention kernel, phase) at any (batch, seq_len),
/// without rebuilding the step: every operator except attention has FLOPs, bytes and GEMM shape affine
/// in the token count T and the batch B (checked on sample builds), so the evaluator keeps the
/// coefficients and recomputes only the attention calls. When the operators are not affine (MoE routing)
/// or a self-check against predict_step fails, it falls back to predict_step. The model, hardware and
/// calibration must outlive the evaluator.
class StepEvaluator {
 public:
  /// `config`'s batch and seq_len are ignored; throws InvalidArgumentError for an invalid configuration.
  StepEvaluator(const ModelConfig& model, const StepConfig& config, const HardwareSpec& hw,
                const Calibration& calibration);

  /// The step at (batch, seq_len): equal to predict_step(...).time_s and its interval to 1e-9 relative.
  StepTime evaluate(std::int64_t batch, std::int64_t seq_len) const;
  /// evaluate(batch, s) for every s in `seq_lens`, into `out` (resized). In decode the operators other than
  /// attention depend on the batch only, so they are predicted once for the whole list.
  void evaluate_lengths(std::int64_t batch, const std::vector<std::int64_t>& seq_lens, std::vector<StepTime>& out) const;
  /// False when evaluate() runs predict_step (operators not affine in the token count).
  bool compiled() const { return compiled_; }

  /// Part of a step: its time and its interval's groups (IntervalSum), not yet combined.
  struct Partial {
    double time_s = 0;
    IntervalSum spread;
  };

 private:
  struct Affine {
    double base = 0, per_token = 0, per_batch = 0;
    double at(double t, double b) const { return base + per_token * t + per_batch * b; }
  };
  static constexpr int field_count = 14;
  struct Linear {
    Op op;
    Affine fields[field_count];
  };
  struct Attention {
    Op op;  ///< the template: its shape's heads, head_dim and window, its precisions and instances
  };
  Partial linear_part(std::int64_t batch, std::int64_t tokens) const;
  Partial attention_part(std::int64_t batch, std::int64_t seq_len) const;

  const ModelConfig* model_;
  StepConfig config_;
  const HardwareSpec* hw_;
  const Calibration* calibration_;
  bool compiled_ = false;
  std::vector<Linear> linear_;
  std::vector<Attention> attention_;
};

// ---- quality evidence --------------------------------------------------------------------------------

/// Measured quantisation error per format and granularity (dynamic_quant's measure_quant_error on
/// LLM-like synthetic tensors), looked up as signal-to-quantisation-noise ratios in dB.
class QuantErrorTable {
 public:
  QuantErrorTable() = default;
  explicit QuantErrorTable(std::vector<QuantErrorRow> rows) : rows_(std::move(rows)) {}
  /// measure_quant_error with absmax calibration only (the dynamic scaling the strategies use), computed
  /// once per process (about half a second).
  static const QuantErrorTable& measured();

  /// SQNR of the output of a linear layer with `weights` and `activations` (16-bit activations: the
  /// weight's own SQNR, weight-only), activation scales per `scaling` (fp4 formats: their blocks); nullopt
  /// when not measured. 16-bit weights and activations: +inf.
  std::optional<double> linear_sqnr_db(Precision weights, Precision activations, ActivationScaling scaling) const;
  /// SQNR of a KV cache stored in `kv` (per-tensor scales; fp4: per block); +inf for 16-bit.
  std::optional<double> kv_sqnr_db(Precision kv) const;
  const std::vector<QuantErrorRow>& rows() const { return rows_; }

 private:
  const QuantErrorRow* find(Precision p, Granularity g) const;
  std::vector<QuantErrorRow> rows_;
};

/// The largest relative quality loss, in percent, a strategy's numeric evidence reports: (baseline −
/// quantized) / baseline for accuracies (quantized − baseline for perplexities), 100 − recovery_percent;
/// nullopt when no evidence entry carries numbers. `source` receives the entry behind the figure.
std::optional<double> cited_loss_percent(const QualityInfo& quality, const QualityEvidence** source = nullptr);

// ---- the engine ----------------------------------------------------------------------------------------

enum class Objective : std::uint8_t {
  latency,     ///< the shortest step at the given batch
  throughput,  ///< the most tokens per second at the largest batch (power of two) that fits
  memory,      ///< the smallest footprint, never slower than the baseline
};
std::string_view to_string(Objective o);
Objective parse_objective(std::string_view s);  ///< "latency", "throughput", "memory"; throws UnknownNameError

/// The attention kernel a GPU runs by default: FlashAttention-3 on Hopper (vLLM's and the FlashAttention
/// project's Hopper kernel), FlashAttention-4 on sm_100 (the project's kernel there), FlashAttention-2 on
/// everything else (sm_80, sm_89, sm_12x).
AttentionKernel default_attention_kernel(const HardwareSpec& hw);

/// The seed's IntegratedQuantConfig: what to run.
struct IntegratedQuantConfig {
  std::string strategy_name;
  bool adaptive_fallback = false;  ///< linear-layer activations kept in 16-bit (weights as the strategy)
  Precision kv_cache_precision = Precision::bf16;
  ActivationScaling activation_scaling = ActivationScaling::static_per_tensor;
  AttentionKernel attention_kernel = AttentionKernel::fa2;
  Phase phase = Phase::decode;
  std::int64_t seq_len = 1;
  std::int64_t batch = 1;  ///< the batch the recommendation is for (throughput: the largest that fits)
  bool operator==(const IntegratedQuantConfig&) const = default;
};
std::ostream& operator<<(std::ostream& os, const IntegratedQuantConfig& c);

/// What the engine knows about a candidate's quality.
struct QualityAssessment {
  bool within_budget = true;
  std::optional<double> cited_loss_percent;  ///< from the strategy's own evidence, when it applies to this candidate
  std::string cited_source;
  double measured_sqnr_db = 0;  ///< the lowest SQNR among its quantised tensors (+inf: nothing quantised)
  std::string text;             ///< expected_quality_loss
  bool operator==(const QualityAssessment&) const = default;
};

/// One candidate the engine looked at.
struct CandidateEvaluation {
  IntegratedQuantConfig config;
  std::string status;  ///< "selected", "admissible", "refused", "over memory", "over quality budget", "slower than baseline"
  std::string reason;  ///< why refused or rejected
  double time_s = 0;   ///< step time at the requested batch (0 when refused)
  double tokens_per_s = 0;
  double memory_bytes = 0;
  QualityAssessment quality;
  bool operator==(const CandidateEvaluation&) const = default;
};

/// One operator of the recommended step.
struct OperatorBottleneck {
  std::string op;  ///< op_label: "ffn_down[0-31]"
  OperatorType type = OperatorType::Q_PROJ;
  Bound bound = Bound::memory;
  double time_s = 0;           ///< all instances
  double time_share_fraction = 0;
  double intensity_flop_per_byte = 0;
  double ridge_flop_per_byte = 0;  ///< peak / bandwidth of its math path
  bool operator==(const OperatorBottleneck&) const = default;
};

/// The seed's QuantizationRecommendation, with a prediction interval, the confidence's derivation and every
/// rejected candidate's reason.
struct QuantizationRecommendation {
  bool feasible = true;           ///< false: nothing fits (reason says why)
  IntegratedQuantConfig config;
  MixedPrecisionConfig mixed_precision;  ///< the strategy with the recommended KV format and scaling
  FlashAttentionConfig fa_config;        ///< the FlashAttention generation of the kernel (cudnn: FA3 class on sm_90+)
  double predicted_speedup = 1;          ///< baseline_time_us / predicted_time_us, at the requested batch
  double predicted_time_us = 0;          ///< one step at the requested batch
  double interval_low_us = 0;            ///< calibration's prediction interval of that time
  double interval_high_us = 0;
  double baseline_time_us = 0;           ///< fp16 strategy, 16-bit KV cache, the GPU's default attention kernel
  double tokens_per_s = 0;               ///< at config.batch
  double memory_bytes = 0;               ///< footprint at the requested batch
  double baseline_memory_bytes = 0;
  double memory_savings_pct = 0;
  std::int64_t kv_cache_bytes = 0;
  std::string expected_quality_loss;
  QualityAssessment quality;
  std::string confidence;         ///< "high", "medium", "low"
  std::string confidence_reason;  ///< the calibration coverage it derives from
  std::string reason;             ///< a paragraph: the dominant bottleneck and why the winner wins
  std::string dominant_bottleneck;
  std::vector<OperatorBottleneck> bottleneck_analysis;
  std::vector<CandidateEvaluation> candidates;  ///< every candidate, refused and rejected ones with their reason
  std::string calibration_status;
};

/// Confidence of a step prediction from the calibration parameters its operators use, weighted by their
/// share of the predicted time: "high" when >= 80% runs on parameters measured on this GPU with a held-out
/// median error <= 10%; "medium" when >= 50% runs on measured or transferred parameters with a weighted
/// held-out error <= 25%; "low" otherwise (priors). `reason` states the shares and errors.
std::string prediction_confidence(const StepPrediction& step, const Calibration& calibration, std::string* reason);

/// The seed's IntegratedQuantizationEngine for one GPU.
class IntegratedQuantizationEngine {
 public:
  /// The shipped strategies, calibration_for(hw) over the shipped profiles, the measured error table.
  explicit IntegratedQuantizationEngine(const HardwareSpec& hw);
  IntegratedQuantizationEngine(const HardwareSpec& hw, Calibration calibration, StrategyRegistry strategies,
                               QuantErrorTable errors);

  /// The best configuration for one workload. quality_budget_percent: the largest relative accuracy loss
  /// accepted (cited evidence, or measured SQNR at least that of a cited configuration within the budget).
  /// Throws InvalidArgumentError for a bad workload (batch or seq_len < 1, negative budget).
  QuantizationRecommendation recommend(const ModelConfig& model, Phase phase, std::int64_t seq_len,
                                       std::int64_t batch = 1, bool enable_dynamic = true,
                                       bool enable_adaptive = false, Objective objective = Objective::latency,
                                       double quality_budget_percent = 1.0) const;
  /// The seed's inline model form {"H","L","nh","nkv","dh","dff"[, "V", "E", "topk"]}.
  QuantizationRecommendation recommend(const std::map<std::string, std::int64_t>& inline_model, Phase phase,
                                       std::int64_t seq_len, std::int64_t batch = 1, bool enable_dynamic = true,
                                       bool enable_adaptive = false, Objective objective = Objective::latency,
                                       double quality_budget_percent = 1.0) const;

  const HardwareSpec& hardware() const { return hw_; }
  const Calibration& calibration() const { return calibration_; }
  const StrategyRegistry& strategies() const { return strategies_; }

 private:
  /// Whether a strategy runs as designed on this GPU (check_strategy with a 16-bit KV cache: recommend()
  /// searches the KV format itself), for the strategy and its adaptive variant; computed once.
  struct DesignCheck {
    bool feasible = true;
    std::string reason;
  };
  void check_designs();

  HardwareSpec hw_;
  Calibration calibration_;
  StrategyRegistry strategies_;
  QuantErrorTable errors_;
  std::map<std::string, std::array<DesignCheck, 2>, std::less<>> designs_;  ///< by strategy name; [adaptive]
};

}  // namespace roofline
