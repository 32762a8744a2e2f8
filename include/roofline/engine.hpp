// The integrated quantisation engine: searches mixed-precision strategies × attention kernels × KV-cache
// formats × activation scaling that a GPU supports, keeps the candidates that fit in memory and within a
// quality budget, and recommends one by objective (latency, throughput, memory), with the speedup over a
// 16-bit baseline, a prediction interval from the calibration, a confidence derived from what the
// calibration covers, per-operator bottlenecks, and the reasons every other candidate lost or was refused.
// Quality figures come only from cited evidence (strategies/*.yaml) and measured quantisation error.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/flash_attention.hpp"
#include "roofline/hardware.hpp"
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
  StepTime linear_part(std::int64_t batch, std::int64_t tokens) const;
  StepTime attention_part(std::int64_t batch, std::int64_t seq_len) const;

  const ModelConfig* model_;
  StepConfig config_;
  const HardwareSpec* hw_;
  const Calibration* calibration_;
  bool compiled_ = false;
  std::vector<Linear> linear_;
  std::vector<Attention> attention_;
};

}  // namespace roofline
