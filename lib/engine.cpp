#include "roofline/engine.hpp"

#include <algorithm>
#include <cmath>

#include "roofline/errors.hpp"

namespace roofline {

// ---- StepEvaluator -----------------------------------------------------------------------------------

namespace {
// The numeric fields of an operator that depend on the shape of the step.
double field(const Op& op, int i) {
  switch (i) {
    case 0: return op.flops;
    case 1: return op.executed_flops;
    case 2: return op.critical_path_flops;
    case 3: return op.bytes.weights_bytes;
    case 4: return op.bytes.activations_read_bytes;
    case 5: return op.bytes.activations_written_bytes;
    case 6: return op.bytes.kv_read_bytes;
    case 7: return op.bytes.kv_written_bytes;
    case 8: return op.bytes.scales_bytes;
    case 9: return double(op.gemm.m);
    case 10: return double(op.gemm.n);
    case 11: return double(op.gemm.k);
    case 12: return double(op.gemm.groups);
    default: return double(op.parallel_ctas);
  }
}

void set_field(Op& op, int i, double v) {
  switch (i) {
    case 0: op.flops = v; break;
    case 1: op.executed_flops = v; break;
    case 2: op.critical_path_flops = v; break;
    case 3: op.bytes.weights_bytes = v; break;
    case 4: op.bytes.activations_read_bytes = v; break;
    case 5: op.bytes.activations_written_bytes = v; break;
    case 6: op.bytes.kv_read_bytes = v; break;
    case 7: op.bytes.kv_written_bytes = v; break;
    case 8: op.bytes.scales_bytes = v; break;
    case 9: op.gemm.m = std::int64_t(v + 0.5); break;
    case 10: op.gemm.n = std::int64_t(v + 0.5); break;
    case 11: op.gemm.k = std::int64_t(v + 0.5); break;
    case 12: op.gemm.groups = std::int64_t(v + 0.5); break;
    default: op.parallel_ctas = std::int64_t(v + 0.5); break;  // non-negative integers
  }
}

bool same_structure(const Op& a, const Op& b) {
  return a.type == b.type && a.first_layer == b.first_layer && a.instances == b.instances && a.kernel == b.kernel &&
         a.kernels_per_instance == b.kernels_per_instance && a.math == b.math && a.support == b.support &&
         a.weight_precision == b.weight_precision && a.activation_precision == b.activation_precision &&
         a.attention_kernel == b.attention_kernel;
}

bool close(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)}); }

void accumulate(StepTime& t, const Prediction& p, double instances) {
  t.time_s += p.time_s * instances;
  t.interval_low_s += p.interval_low_s * instances;
  t.interval_high_s += p.interval_high_s * instances;
}
}  // namespace

StepEvaluator::StepEvaluator(const ModelConfig& model, const StepConfig& config, const HardwareSpec& hw,
                             const Calibration& calibration)
    : model_(&model), config_(config), hw_(&hw), calibration_(&calibration) {
  // Sample builds in prefill: (batch, seq_len) -> T = batch · seq_len tokens, B = batch rows of the LM head.
  // Three samples fix base + per_token · T + per_batch · B; the fourth checks it.
  struct Sample {
    std::int64_t batch, seq_len;
  };
  constexpr Sample samples[4] = {{1, 64}, {1, 192}, {2, 64}, {3, 100}};
  std::vector<Op> ops[4];
  for (int i = 0; i < 4; ++i) {
    StepConfig c = config;
    c.phase = Phase::prefill;
    c.batch = samples[i].batch;
    c.seq_len = samples[i].seq_len;
    ops[i] = build_step(model, c, hw);  // throws for an invalid configuration
  }
  for (int i = 1; i < 4; ++i) {
    if (ops[i].size() != ops[0].size()) return;  // structure changes with T (MoE): predict_step
    for (std::size_t j = 0; j < ops[0].size(); ++j)
      if (!same_structure(ops[0][j], ops[i][j])) return;
  }
  const double t1 = 64, t2 = 192, t4 = 300, b4 = 3;
  for (std::size_t j = 0; j < ops[0].size(); ++j) {
    Op tmpl = ops[0][j];
    tmpl.note.clear();  // copies on the hot path stay allocation-free
    if (tmpl.type == OperatorType::ATTENTION) {
      attention_.push_back({tmpl});
      continue;
    }
    Linear l{tmpl, {}};
    for (int f = 0; f < field_count; ++f) {
      const double f1 = field(ops[0][j], f), f2 = field(ops[1][j], f), f3 = field(ops[2][j], f);
      Affine a;
      a.per_token = (f2 - f1) / (t2 - t1);
      a.per_batch = f3 - f1 - t1 * a.per_token;  // sample 3: T = 128 = 2 · t1, B = 2
      a.base = f1 - t1 * a.per_token - a.per_batch;
      if (!close(a.at(t4, b4), field(ops[3][j], f))) return;
      l.fields[f] = a;
    }
    // Operators that differ only in their layers (the two RMSNorms and residual adds of a layer, the final
    // norm) are predicted once, with their instances summed.
    bool merged = false;
    for (Linear& other : linear_) {
      Op a = other.op, b = l.op;
      a.instances = b.instances = 0;
      a.first_layer = b.first_layer = 0;
      bool same = a == b;
      for (int f = 0; same && f < field_count; ++f)
        same = other.fields[f].base == l.fields[f].base && other.fields[f].per_token == l.fields[f].per_token &&
               other.fields[f].per_batch == l.fields[f].per_batch;
      if (same) {
        other.op.instances += l.op.instances;
        merged = true;
        break;
      }
    }
    if (!merged) linear_.push_back(std::move(l));
  }
  compiled_ = true;
  // Self-check against the full prediction in the configured phase.
  for (const Sample s : {Sample{1, 100}, Sample{3, 777}}) {
    StepConfig c = config;
    c.batch = s.batch;
    c.seq_len = s.seq_len;
    const StepPrediction reference = predict_step(model, c, hw, calibration);
    const StepTime mine = evaluate(s.batch, s.seq_len);
    if (!close(mine.time_s, reference.time_s) || !close(mine.interval_low_s, reference.interval_low_s) ||
        !close(mine.interval_high_s, reference.interval_high_s)) {
      compiled_ = false;
      linear_.clear();
      attention_.clear();
      return;
    }
  }
}

StepTime StepEvaluator::linear_part(std::int64_t batch, std::int64_t tokens) const {
  StepTime t;
  const double T = double(tokens), B = double(batch);
  for (const Linear& l : linear_) {
    Op op = l.op;
    for (int f = 0; f < field_count; ++f) set_field(op, f, l.fields[f].at(T, B));
    accumulate(t, predict(op, *hw_, *calibration_), double(op.instances));
  }
  return t;
}

StepTime StepEvaluator::attention_part(std::int64_t batch, std::int64_t seq_len) const {
  StepTime t;
  AttentionOptions o;
  o.skip_fraction = config_.attention_skip_fraction;
  o.describe = false;
  for (const Attention& a : attention_) {
    AttentionShape s = a.op.attention;
    s.batch = batch;
    if (config_.phase == Phase::decode) {
      s.q_len = 1;
      s.kv_len = seq_len + 1;  // the new token attends to the cache and itself
      s.causal = false;
    } else {
      s.q_len = seq_len;
      s.kv_len = seq_len;
      s.causal = true;
    }
    const Op op = attention_op(s, config_.attention, a.op.activation_precision, a.op.weight_precision, *hw_, o);
    accumulate(t, predict(op, *hw_, *calibration_), double(a.op.instances));
  }
  return t;
}

StepTime StepEvaluator::evaluate(std::int64_t batch, std::int64_t seq_len) const {
  if (batch < 1) throw InvalidArgumentError("batch: must be >= 1, got " + std::to_string(batch));
  if (seq_len < 1) throw InvalidArgumentError("seq_len: must be >= 1, got " + std::to_string(seq_len));
  if (!compiled_) {
    StepConfig c = config_;
    c.batch = batch;
    c.seq_len = seq_len;
    const StepPrediction p = predict_step(*model_, c, *hw_, *calibration_);
    return {p.time_s, p.interval_low_s, p.interval_high_s};
  }
  const std::int64_t tokens = config_.phase == Phase::decode ? batch : batch * seq_len;
  StepTime t = linear_part(batch, tokens);
  const StepTime a = attention_part(batch, seq_len);
  t.time_s += a.time_s;
  t.interval_low_s += a.interval_low_s;
  t.interval_high_s += a.interval_high_s;
  return t;
}

void StepEvaluator::evaluate_lengths(std::int64_t batch, const std::vector<std::int64_t>& seq_lens,
                                     std::vector<StepTime>& out) const {
  out.resize(seq_lens.size());
  if (!compiled_ || config_.phase == Phase::prefill) {
    for (std::size_t i = 0; i < seq_lens.size(); ++i) out[i] = evaluate(batch, seq_lens[i]);
    return;
  }
  if (batch < 1) throw InvalidArgumentError("batch: must be >= 1, got " + std::to_string(batch));
  const StepTime fixed = linear_part(batch, batch);
  for (std::size_t i = 0; i < seq_lens.size(); ++i) {
    if (seq_lens[i] < 1) throw InvalidArgumentError("seq_len: must be >= 1, got " + std::to_string(seq_lens[i]));
    const StepTime a = attention_part(batch, seq_lens[i]);
    out[i] = {fixed.time_s + a.time_s, fixed.interval_low_s + a.interval_low_s, fixed.interval_high_s + a.interval_high_s};
  }
}

}  // namespace roofline
