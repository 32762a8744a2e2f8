#include "roofline/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <numeric>

#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"
#include "roofline/units.hpp"

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
  // Attention is rebuilt from its shape at every evaluation (attention_part): its kernel count may change
  // with the length (FlashAttention-2's split-KV combine at some lengths and not others).
  const bool rebuilt = a.type == OperatorType::ATTENTION;
  return a.type == b.type && a.first_layer == b.first_layer && a.instances == b.instances && a.kernel == b.kernel &&
         (rebuilt || a.kernels_per_instance == b.kernels_per_instance) && a.math == b.math && a.support == b.support &&
         a.weight_precision == b.weight_precision && a.activation_precision == b.activation_precision &&
         a.attention_kernel == b.attention_kernel;
}

bool close(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)}); }

// One group of IntervalSum: an operator row (rows of one kernel and shape merged) with its instances.
void accumulate(StepEvaluator::Partial& t, const Prediction& p, double instances) {
  t.time_s += p.time_s * instances;
  t.spread.add(p, instances);
}

StepTime finish(const StepEvaluator::Partial& a, const StepEvaluator::Partial& b, double session_fraction) {
  IntervalSum s = a.spread;
  s.merge(b.spread);
  s.session_fraction = session_fraction;
  const double t = a.time_s + b.time_s;
  return {t, s.low_s(t), s.high_s(t)};
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
  constexpr Sample samples[4] = {{1, 100}, {1, 300}, {2, 100}, {3, 150}};
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
  const double t1 = 100, t2 = 300, t4 = 450, b4 = 3;
  for (std::size_t j = 0; j < ops[0].size(); ++j) {
    Op tmpl = ops[0][j];
    tmpl.note.clear();  // copies on the hot path stay allocation-free
    if (tmpl.type == OperatorType::ATTENTION) {
      // Rows of one attention kernel and shape are one interval group, as in predict_step.
      const auto same = std::find_if(attention_.begin(), attention_.end(),
                                     [&](const Attention& a) { return same_kernel_and_shape(a.op, tmpl); });
      if (same != attention_.end()) same->op.instances += tmpl.instances;
      else attention_.push_back({tmpl});
      continue;
    }
    Linear l{tmpl, {}};
    for (int f = 0; f < field_count; ++f) {
      const double f1 = field(ops[0][j], f), f2 = field(ops[1][j], f), f3 = field(ops[2][j], f);
      Affine a;
      a.per_token = (f2 - f1) / (t2 - t1);
      a.per_batch = f3 - f1 - t1 * a.per_token;  // sample 3: T = 200 = 2 · t1, B = 2
      a.base = f1 - t1 * a.per_token - a.per_batch;
      if (!close(a.at(t4, b4), field(ops[3][j], f))) return;
      l.fields[f] = a;
    }
    // Operators that differ only in their type and layers (the two RMSNorms and residual adds of a layer, the
    // final norm, k_proj and v_proj, equal-shaped q_proj and o_proj, gate and up) predict the same time
    // (predict() does not look at the type): predicted once, with their instances summed.
    bool merged = false;
    for (Linear& other : linear_) {
      Op a = other.op, b = l.op;
      a.instances = b.instances = 0;
      a.first_layer = b.first_layer = 0;
      a.type = b.type;
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
  for (const Sample s : {Sample{1, 100}, Sample{3, 777}, Sample{1, 1}, Sample{16, 9}}) {
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

StepEvaluator::Partial StepEvaluator::linear_part(std::int64_t batch, std::int64_t tokens) const {
  Partial t;
  const double T = double(tokens), B = double(batch);
  for (const Linear& l : linear_) {
    Op op = l.op;
    for (int f = 0; f < field_count; ++f) set_field(op, f, l.fields[f].at(T, B));
    // Not affine in the tokens: set per call.
    if (op.type == OperatorType::EMBEDDINGS) op.serial_steps = embedding_serial_steps(tokens);
    if (op.type == OperatorType::RMSNORM) op.serial_steps = rmsnorm_serial_steps(tokens, model_->hidden_size, hw_->sms());
    accumulate(t, predict(op, *hw_, *calibration_, Load::sustained), double(op.instances));
  }
  return t;
}

StepEvaluator::Partial StepEvaluator::attention_part(std::int64_t batch, std::int64_t seq_len) const {
  Partial t;
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
    accumulate(t, predict(op, *hw_, *calibration_, Load::sustained), double(a.op.instances));
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
  return finish(linear_part(batch, tokens), attention_part(batch, seq_len), calibration_->session_band_fraction());
}

void StepEvaluator::evaluate_lengths(std::int64_t batch, const std::vector<std::int64_t>& seq_lens,
                                     std::vector<StepTime>& out) const {
  out.resize(seq_lens.size());
  if (!compiled_ || config_.phase == Phase::prefill) {
    for (std::size_t i = 0; i < seq_lens.size(); ++i) out[i] = evaluate(batch, seq_lens[i]);
    return;
  }
  if (batch < 1) throw InvalidArgumentError("batch: must be >= 1, got " + std::to_string(batch));
  const Partial fixed = linear_part(batch, batch);
  for (std::size_t i = 0; i < seq_lens.size(); ++i) {
    if (seq_lens[i] < 1) throw InvalidArgumentError("seq_len: must be >= 1, got " + std::to_string(seq_lens[i]));
    out[i] = finish(fixed, attention_part(batch, seq_lens[i]), calibration_->session_band_fraction());
  }
}

// ---- quality evidence --------------------------------------------------------------------------------

namespace {
bool wide(Precision p) { return p == Precision::bf16 || p == Precision::fp16 || p == Precision::fp32; }
bool fp4(Precision p) { return p == Precision::nvfp4 || p == Precision::mxfp4; }
constexpr double infinite_sqnr = std::numeric_limits<double>::infinity();
double sqnr_of_rel_rmse(double rel) { return rel > 0 ? -20.0 * std::log10(rel) : infinite_sqnr; }

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
}  // namespace

const QuantErrorTable& QuantErrorTable::measured() {
  static const QuantErrorTable table = [] {
    QuantErrorOptions o;
    o.calibration_modes = {CalibrationMode::absmax};
    return QuantErrorTable(measure_quant_error(o));
  }();
  return table;
}

const QuantErrorRow* QuantErrorTable::find(Precision p, Granularity g) const {
  const QuantErrorRow* any = nullptr;
  for (const QuantErrorRow& r : rows_) {
    if (r.precision != p || r.granularity != g) continue;
    if (r.calibration_mode == CalibrationMode::absmax) return &r;
    if (!any) any = &r;
  }
  return any;
}

std::optional<double> QuantErrorTable::linear_sqnr_db(Precision w, Precision a, ActivationScaling scaling) const {
  auto weight_only = [&](Precision p) -> std::optional<double> {
    if (wide(p)) return infinite_sqnr;
    // Weights: per block for the block formats (int4 group 128, fp4), per output channel otherwise (the
    // rows measured with per-token activations carry per-channel weights).
    const QuantErrorRow* r = find(p, (fp4(p) || p == Precision::int4) ? Granularity::per_block : Granularity::per_token);
    if (!r) return std::nullopt;
    return r->weight_sqnr_db;
  };
  if (wide(a)) return weight_only(w);
  const Granularity g = fp4(a) ? Granularity::per_block
                               : (scaling == ActivationScaling::dynamic_per_token ? Granularity::per_token
                                                                                  : Granularity::per_tensor);
  const QuantErrorRow* r = find(a, g);
  if (!r) return std::nullopt;
  if (w == a) return sqnr_of_rel_rmse(r->matmul_rel_rmse);
  const std::optional<double> ws = weight_only(w);
  if (!ws) return std::nullopt;
  return std::min(r->activation_sqnr_db, *ws);
}

std::optional<double> QuantErrorTable::kv_sqnr_db(Precision kv) const {
  if (wide(kv)) return infinite_sqnr;
  const QuantErrorRow* r = find(kv, fp4(kv) ? Granularity::per_block : Granularity::per_tensor);
  if (!r) return std::nullopt;
  return r->activation_sqnr_db;
}

std::optional<double> cited_loss_percent(const QualityInfo& quality, const QualityEvidence** source) {
  std::optional<double> worst;
  for (const QualityEvidence& e : quality.evidence) {
    std::optional<double> loss;
    if (e.baseline && e.quantized && *e.baseline != 0) {
      const bool lower_is_better = e.metric.find("perplexity") != std::string::npos;
      loss = (lower_is_better ? *e.quantized - *e.baseline : *e.baseline - *e.quantized) / std::fabs(*e.baseline) * 100.0;
    } else if (e.recovery_percent) {
      loss = 100.0 - *e.recovery_percent;
    }
    if (loss && (!worst || *loss > *worst)) {
      worst = loss;
      if (source) *source = &e;
    }
  }
  return worst;
}

// ---- confidence --------------------------------------------------------------------------------------

std::string prediction_confidence(const StepPrediction& step, const Calibration& calibration, std::string* reason) {
  double measured = 0, transferred = 0, prior = 0, error_sum = 0, error_known = 0;
  for (const OpPrediction& o : step.ops) {
    const double share = step.time_s > 0 ? o.total_s() / step.time_s : 0.0;
    const KernelParams& p = calibration.params(param_key(o.op));
    if (p.provenance == Provenance::measured) measured += share;
    else if (p.provenance == Provenance::transferred) transferred += share;
    else prior += share;
    if ((p.provenance == Provenance::measured || p.provenance == Provenance::transferred) &&
        p.heldout_median_error_fraction >= 0) {
      error_sum += share * p.heldout_median_error_fraction;
      error_known += share;
    }
  }
  const double error = error_known > 0 ? error_sum / error_known : -1;
  std::string level = "low";
  if (measured >= 0.8 && error >= 0 && error <= 0.10 && error_known >= 0.8) level = "high";
  else if (measured + transferred >= 0.5 && error >= 0 && error <= 0.25 && error_known >= 0.5) level = "medium";
  if (reason) {
    *reason = fixed(measured * 100, 0) + "% of the predicted time runs on parameters measured on " + calibration.gpu() +
              ", " + fixed(transferred * 100, 0) + "% on parameters transferred from another GPU, " +
              fixed(prior * 100, 0) + "% on documented priors";
    if (error >= 0) *reason += "; held-out median error " + fixed(error * 100, 0) + "% (time-weighted)";
    else *reason += "; no held-out error measured";
    *reason += " (calibration: " + calibration.status() + ")";
  }
  return level;
}

// ---- the engine ----------------------------------------------------------------------------------------

std::string_view to_string(Objective o) {
  switch (o) {
    case Objective::latency: return "latency";
    case Objective::throughput: return "throughput";
    case Objective::memory: return "memory";
  }
  return "?";
}

Objective parse_objective(std::string_view s) {
  for (Objective o : {Objective::latency, Objective::throughput, Objective::memory})
    if (to_string(o) == s) return o;
  throw UnknownNameError("objective", std::string(s), {"latency", "memory", "throughput"});
}

AttentionKernel default_attention_kernel(const HardwareSpec& hw) {
  if (hw.capabilities.wgmma) return AttentionKernel::fa3;
  if (hw.capabilities.tcgen05) return AttentionKernel::fa4;
  return AttentionKernel::fa2;
}

std::ostream& operator<<(std::ostream& os, const IntegratedQuantConfig& c) {
  return os << "IntegratedQuantConfig{" << c.strategy_name << (c.adaptive_fallback ? " (adaptive: 16-bit activations)" : "")
            << ", kv " << to_string(c.kv_cache_precision) << ", " << to_string(c.activation_scaling) << ", "
            << to_string(c.attention_kernel) << ", " << to_string(c.phase) << " seq " << c.seq_len << " batch " << c.batch
            << "}";
}

IntegratedQuantizationEngine::IntegratedQuantizationEngine(const HardwareSpec& hw)
    : hw_(hw),
      calibration_(calibration_for(hw, HardwareRegistry::load_default())),
      strategies_(StrategyRegistry::load_default()),
      errors_(QuantErrorTable::measured()) {
  check_designs();
}

IntegratedQuantizationEngine::IntegratedQuantizationEngine(const HardwareSpec& hw, Calibration calibration,
                                                           StrategyRegistry strategies, QuantErrorTable errors)
    : hw_(hw), calibration_(std::move(calibration)), strategies_(std::move(strategies)), errors_(std::move(errors)) {
  check_designs();
}

QuantizationRecommendation IntegratedQuantizationEngine::recommend(const std::map<std::string, std::int64_t>& inline_model,
                                                                   Phase phase, std::int64_t seq_len, std::int64_t batch,
                                                                   bool enable_dynamic, bool enable_adaptive,
                                                                   Objective objective, double quality_budget_percent) const {
  return recommend(model_from_inline(inline_model), phase, seq_len, batch, enable_dynamic, enable_adaptive, objective,
                   quality_budget_percent);
}

namespace {

// The measured SQNR of an assignment: the weakest quantised linear layer and the KV cache.
struct Sqnr {
  double db = infinite_sqnr;
  std::string weakest;  ///< "ffn_down nvfp4/nvfp4", "kv_cache nvfp4"
  bool measured = true;
};

Sqnr assignment_sqnr(const PrecisionAssignment& a, const QuantErrorTable& t) {
  Sqnr s;
  // The weakest tensor so far (the last unmeasured one, or the lowest SQNR); its text is built once, at the end.
  enum class Weakest { none, linear, kv_cache } weakest = Weakest::none;
  OperatorType weakest_op = OperatorType::Q_PROJ;
  OpPrecision weakest_precision;
  bool unmeasured = false;
  auto consider = [&](const OpPrecision& p, OperatorType op) {
    const std::optional<double> v = t.linear_sqnr_db(p.weight, p.activation, a.activation_scaling);
    if (!v) s.measured = false;
    if (!v || *v < s.db) {
      if (v) s.db = *v;
      weakest = Weakest::linear;
      weakest_op = op;
      weakest_precision = p;
      unmeasured = !v;
    }
  };
  for (OperatorType op : strategy_linear_operators) {
    consider(a.by_op[std::size_t(op)], op);
    for (const auto& b : a.bands) consider(b.by_op[std::size_t(op)], op);
  }
  const std::optional<double> kv = t.kv_sqnr_db(a.kv_cache);
  if (!kv) s.measured = false;
  if (!kv || *kv < s.db) {
    if (kv) s.db = *kv;
    weakest = Weakest::kv_cache;
    unmeasured = !kv;
  }
  const std::string not_measured = unmeasured ? " (not measured)" : "";
  if (weakest == Weakest::linear)
    s.weakest = std::string(to_string(weakest_op)) + " " + std::string(to_string(weakest_precision.weight)) + "/" +
                std::string(to_string(weakest_precision.activation)) + not_measured;
  else if (weakest == Weakest::kv_cache)
    s.weakest = "kv_cache " + std::string(to_string(a.kv_cache)) + not_measured;
  return s;
}

std::string sqnr_text(double db) { return std::isinf(db) ? std::string("lossless") : fixed(db, 1) + " dB"; }

// A strategy's literal configuration within the budget on cited evidence: the SQNR floor others must reach.
struct Floor {
  double db = infinite_sqnr;
  std::string strategy;
  double cited = 0;
};

Floor quality_floor(const StrategyRegistry& strategies, const ModelConfig& model, const QuantErrorTable& t, double budget) {
  Floor f;
  for (const auto& [name, s] : strategies.all()) {
    const std::optional<double> loss = cited_loss_percent(s.quality);
    if (!loss || *loss > budget) continue;
    const Sqnr q = assignment_sqnr(to_assignment(s, model), t);
    if (!q.measured || std::isinf(q.db)) continue;
    if (q.db < f.db) f = {q.db, name, *loss};
  }
  return f;
}

MixedPrecisionConfig adaptive_variant(MixedPrecisionConfig s) {
  s.default_activation_precision = Precision::bf16;
  for (auto& [op, spec] : s.operator_precisions)
    if (op != OperatorType::ATTENTION) spec.activation = Precision::bf16;
  for (StrategyBand& b : s.bands) {
    b.default_activation_precision = Precision::bf16;
    for (auto& [op, spec] : b.operator_precisions)
      if (op != OperatorType::ATTENTION) spec.activation = Precision::bf16;
  }
  return s;
}

bool has_quantised_activations(const PrecisionAssignment& a) {
  for (OperatorType op : strategy_linear_operators) {
    if (!wide(a.by_op[std::size_t(op)].activation)) return true;
    for (const auto& b : a.bands)
      if (!wide(b.by_op[std::size_t(op)].activation)) return true;
  }
  return false;
}

QualityAssessment assess(const MixedPrecisionConfig& strategy, const IntegratedQuantConfig& cfg, const PrecisionAssignment& a,
                         const QuantErrorTable& t, const Floor& floor, double budget) {
  QualityAssessment q;
  const Sqnr s = assignment_sqnr(a, t);
  q.measured_sqnr_db = s.db;
  if (s.measured && std::isinf(s.db)) {
    q.text = "none: every tensor stays 16-bit (the reference)";
    return q;
  }
  const QualityEvidence* e = nullptr;
  const std::optional<double> cited = cited_loss_percent(strategy.quality, &e);
  const bool applies = cited && !cfg.adaptive_fallback && cfg.activation_scaling == strategy.activation_scaling &&
                       bits_per_element(cfg.kv_cache_precision) >= bits_per_element(strategy.kv_cache_precision);
  if (applies) {
    q.cited_loss_percent = cited;
    q.cited_source = e->source;
    q.within_budget = *cited <= budget;
    q.text = fixed(*cited, 1) + "% relative loss cited (" + e->metric + " of " + e->model + "; " + e->locator + ", " +
             e->source + "; scheme measured: " + e->scheme + "); measured output SQNR " + sqnr_text(s.db);
    return q;
  }
  if (!s.measured) {
    q.within_budget = false;
    q.text = "no published figure for this configuration and no measured error for " + s.weakest;
    return q;
  }
  q.within_budget = s.db >= floor.db;
  q.text = "no published figure for this configuration; measured quantisation SQNR " + sqnr_text(s.db) + " (weakest: " +
           s.weakest + ")";
  if (std::isinf(floor.db)) q.text += ", and no cited configuration within the budget to compare it with";
  else
    q.text += (q.within_budget ? " >= " : " < ") + sqnr_text(floor.db) + " of " + floor.strategy + " (cited " +
              fixed(floor.cited, 1) + "% loss)";
  return q;
}

FlashAttentionVersion version_class(AttentionKernel k, const HardwareSpec& hw) {
  switch (k) {
    case AttentionKernel::fa1: return FlashAttentionVersion::FA1;
    case AttentionKernel::fa3: return FlashAttentionVersion::FA3;
    case AttentionKernel::fa4: return FlashAttentionVersion::FA4;
    case AttentionKernel::cudnn:
      return (hw.capabilities.wgmma || hw.capabilities.tcgen05) ? FlashAttentionVersion::FA3 : FlashAttentionVersion::FA2;
    default: return FlashAttentionVersion::FA2;
  }
}

// One evaluated (strategy, KV format, scaling) configuration with the baseline attention kernel. Its step
// lives in recommend()'s list of steps: configurations that run as the same assignment share it.
struct Evaluated {
  const MixedPrecisionConfig* strategy = nullptr;
  PrecisionAssignment assignment;
  IntegratedQuantConfig config;
  std::size_t step = 0;  ///< index into the steps
  QualityAssessment quality;
};

// Another attention kernel's prediction for the attention operators of the evaluated steps. Candidates that
// differ only in their linear layers share their attention operators, so each (shape, kernel, Q/K/V
// precision, KV precision) is built and predicted once per recommend() (about 56 of them instead of 140).
class AttentionMemo {
 public:
  struct Entry {
    AttentionShape shape;
    AttentionKernel kernel = AttentionKernel::fa2;
    Precision qkv = Precision::bf16, kv = Precision::bf16;
    bool supported = true;
    std::string reason;  ///< why the kernel cannot run (attention_cost's reason), when !supported
    Prediction prediction;
  };
  AttentionMemo(const HardwareSpec& hw, const Calibration& cal) : hw_(hw), cal_(cal) {}

  /// The prediction of `kernel` for the shape and precisions of the attention operator `att`.
  const Entry& get(const Op& att, AttentionKernel kernel) {
    for (const Entry& e : entries_)
      if (e.kernel == kernel && e.qkv == att.activation_precision && e.kv == att.weight_precision && e.shape == att.attention)
        return e;
    AttentionOptions o;
    o.describe = false;
    const Op op = attention_op(att.attention, kernel, att.activation_precision, att.weight_precision, hw_, o);
    Entry e;
    e.shape = att.attention;
    e.kernel = kernel;
    e.qkv = att.activation_precision;
    e.kv = att.weight_precision;
    e.supported = op.support != Support::unsupported;
    if (e.supported) e.prediction = predict(op, hw_, cal_, Load::sustained);
    else e.reason = op.note;  // an unsupported operator's note is the refusal's reason
    entries_.push_back(std::move(e));
    return entries_.back();
  }

 private:
  const HardwareSpec& hw_;
  const Calibration& cal_;
  std::deque<Entry> entries_;  // stable references
};

// The attention time of `step` (all instances) with `kernel` instead of the kernel it was predicted with,
// and the same for its interval ends (added to `low` and `high`); `supported` false with the reason when
// the kernel cannot run one of its attention operators.
double attention_time(const StepPrediction& step, AttentionKernel kernel, AttentionMemo& memo, bool& supported,
                      std::string& reason, double& low, double& high) {
  double t = 0;
  for (const OpPrediction& p : step.ops) {
    if (p.op.type != OperatorType::ATTENTION) continue;
    if (p.op.attention_kernel == kernel) {
      t += p.total_s();
      low += p.prediction.interval_low_s * p.op.instances;
      high += p.prediction.interval_high_s * p.op.instances;
      continue;
    }
    const AttentionMemo::Entry& e = memo.get(p.op, kernel);
    if (!e.supported) {
      supported = false;
      reason = e.reason;
      return 0;
    }
    t += e.prediction.time_s * p.op.instances;
    low += e.prediction.interval_low_s * p.op.instances;
    high += e.prediction.interval_high_s * p.op.instances;
  }
  return t;
}

// The strategy as the engine ran it: the adaptive variant when chosen, with the KV format and scaling.
MixedPrecisionConfig effective_strategy(const MixedPrecisionConfig& strategy, const IntegratedQuantConfig& c) {
  MixedPrecisionConfig s = c.adaptive_fallback ? adaptive_variant(strategy) : strategy;
  s.kv_cache_precision = c.kv_cache_precision;
  s.activation_scaling = c.activation_scaling;
  return s;
}

std::string percent_text(double fraction) { return fixed(fraction * 100, 0) + "%"; }

}  // namespace

void IntegratedQuantizationEngine::check_designs() {
  for (const auto& [name, strategy] : strategies_.all()) {
    for (bool adaptive : {false, true}) {
      MixedPrecisionConfig check = adaptive ? adaptive_variant(strategy) : strategy;
      check.kv_cache_precision = Precision::bf16;
      const StrategyFeasibility f = check_strategy(check, hw_, FeasibilityPolicy::refuse);
      designs_[name][adaptive ? 1 : 0] = {f.feasible, f.reason};
    }
  }
}

QuantizationRecommendation IntegratedQuantizationEngine::recommend(const ModelConfig& model, Phase phase,
                                                                   std::int64_t seq_len, std::int64_t batch,
                                                                   bool enable_dynamic, bool enable_adaptive,
                                                                   Objective objective,
                                                                   double quality_budget_percent) const {
  if (seq_len < 1) throw InvalidArgumentError("seq_len: must be >= 1, got " + std::to_string(seq_len));
  if (batch < 1) throw InvalidArgumentError("batch: must be >= 1, got " + std::to_string(batch));
  if (!(quality_budget_percent >= 0) || !std::isfinite(quality_budget_percent))
    throw InvalidArgumentError("quality_budget: must be a percentage >= 0, got " + std::to_string(quality_budget_percent));
  validate_model(model);
  QuantizationRecommendation rec;
  rec.calibration_status = calibration_.status();
  const AttentionKernel base_kernel = default_attention_kernel(hw_);

  // The baseline: every tensor 16-bit, the GPU's default attention kernel.
  const MixedPrecisionConfig fp16 = create_fp16_baseline();
  StepConfig base_cfg;
  base_cfg.phase = phase;
  base_cfg.batch = batch;
  base_cfg.seq_len = seq_len;
  base_cfg.precision = to_assignment(fp16, model);
  base_cfg.attention = base_kernel;
  const StepPrediction baseline = predict_step(model, base_cfg, hw_, calibration_);
  rec.baseline_time_us = baseline.time_s * 1e6;
  rec.baseline_memory_bytes = baseline.memory.total_bytes();

  const std::vector<AttentionKernel> kernels =
      phase == Phase::decode
          ? std::vector<AttentionKernel>{AttentionKernel::fa2, AttentionKernel::fa3, AttentionKernel::fa4, AttentionKernel::cudnn,
                                         AttentionKernel::splitkv_bf16, AttentionKernel::fa1, AttentionKernel::unfused}
          : std::vector<AttentionKernel>{AttentionKernel::fa2, AttentionKernel::fa3, AttentionKernel::fa4,
                                         AttentionKernel::cudnn, AttentionKernel::fa1, AttentionKernel::unfused};
  const Floor floor = quality_floor(strategies_, model, errors_, quality_budget_percent);

  // Evaluate every feasible (strategy, variant, KV format, scaling) with the baseline kernel.
  std::vector<Evaluated> evaluated;
  std::vector<CandidateEvaluation>& rows = rec.candidates;
  auto refuse = [&](IntegratedQuantConfig c, const std::string& reason) {
    CandidateEvaluation r;
    r.config = std::move(c);
    r.status = "refused";
    r.reason = reason;
    rows.push_back(std::move(r));
  };
  std::vector<StepPrediction> steps;  // one per distinct assignment
  for (const auto& [name, strategy] : strategies_.all()) {
    for (bool adaptive : {false, true}) {
      if (adaptive && (!enable_adaptive || !has_quantised_activations(to_assignment(strategy, model)))) continue;
      const MixedPrecisionConfig variant = adaptive ? adaptive_variant(strategy) : MixedPrecisionConfig{};
      const MixedPrecisionConfig& s = adaptive ? variant : strategy;
      IntegratedQuantConfig c;
      c.strategy_name = name;
      c.adaptive_fallback = adaptive;
      c.phase = phase;
      c.seq_len = seq_len;
      c.batch = batch;
      c.attention_kernel = base_kernel;
      c.kv_cache_precision = s.kv_cache_precision;
      c.activation_scaling = s.activation_scaling;
      // Feasible as designed (no fallbacks); the KV format is searched separately: every format can be
      // stored and dequantised on load.
      const DesignCheck& design = designs_.find(name)->second[adaptive ? 1 : 0];
      if (!design.feasible) {
        refuse(c, name + " as designed: " + design.reason);
        continue;
      }
      const PrecisionAssignment literal = to_assignment(s, model);
      std::vector<Precision> kvs = {s.kv_cache_precision, Precision::bf16, Precision::fp8_e4m3, Precision::nvfp4};
      if (wide(s.kv_cache_precision)) kvs[1] = s.kv_cache_precision;  // fp16 strategy: its own 16-bit format
      std::vector<ActivationScaling> scalings = {s.activation_scaling};
      if (has_quantised_activations(literal)) {
        if (!enable_dynamic) scalings = {ActivationScaling::static_per_tensor};
        else if (s.activation_scaling != ActivationScaling::dynamic_per_token)
          scalings.push_back(ActivationScaling::dynamic_per_token);
      }
      std::vector<Precision> seen_kv;
      for (Precision kv : kvs) {
        if (std::find(seen_kv.begin(), seen_kv.end(), kv) != seen_kv.end()) continue;
        seen_kv.push_back(kv);
        for (ActivationScaling sc : scalings) {
          if (s.quantize_fusion == QuantizeFusion::fused_into_producer && sc == ActivationScaling::dynamic_per_tensor) continue;
          Evaluated e;
          e.strategy = &strategy;
          e.assignment = literal;
          e.assignment.kv_cache = kv;
          e.assignment.activation_scaling = sc;
          e.config = c;
          e.config.kv_cache_precision = kv;
          e.config.activation_scaling = sc;
          // Strategies that run as the same assignment (hybrid_long_context with an fp8 cache is fp8_balanced)
          // share one prediction.
          const Evaluated* same = nullptr;
          for (const Evaluated& other : evaluated)
            if (other.assignment.by_op == e.assignment.by_op && other.assignment.bands == e.assignment.bands &&
                other.assignment.kv_cache == e.assignment.kv_cache &&
                other.assignment.activation_scaling == e.assignment.activation_scaling &&
                other.assignment.quantize_fusion == e.assignment.quantize_fusion)
              same = &other;
          if (same) {
            e.step = same->step;
          } else {
            StepConfig cfg = base_cfg;
            cfg.precision = e.assignment;
            e.step = steps.size();
            steps.push_back(predict_step(model, cfg, hw_, calibration_));
          }
          e.quality = assess(strategy, e.config, e.assignment, errors_, floor, quality_budget_percent);
          evaluated.push_back(std::move(e));
        }
      }
    }
  }

  // Every kernel for every evaluated configuration.
  struct Choice {
    std::size_t evaluated;
    AttentionKernel kernel;
    double time_s, low_s, high_s;
  };
  std::vector<Choice> admissible;
  std::vector<std::string> refused_kernels;  // "kernel: reason", each reported once
  const double limit = baseline.time_s * (1 + 1e-12);
  AttentionMemo memo(hw_, calibration_);
  for (std::size_t i = 0; i < evaluated.size(); ++i) {
    const Evaluated& e = evaluated[i];
    const StepPrediction& step = steps[e.step];
    double base_low = 0, base_high = 0;
    bool ok = true;
    std::string none;
    const double base_att = attention_time(step, base_kernel, memo, ok, none, base_low, base_high);
    for (AttentionKernel k : kernels) {
      bool supported = true;
      std::string why;
      double low = 0, high = 0;
      const double att = attention_time(step, k, memo, supported, why, low, high);
      IntegratedQuantConfig c = e.config;
      c.attention_kernel = k;
      if (!supported) {
        const std::string what = "attention " + std::string(to_string(k)) + ": " + why;
        if (std::find(refused_kernels.begin(), refused_kernels.end(), what) == refused_kernels.end()) {
          refused_kernels.push_back(what);
          IntegratedQuantConfig any = c;
          any.strategy_name = "(any strategy with " +
                              std::string(to_string(e.assignment.by_op[std::size_t(OperatorType::ATTENTION)].activation)) +
                              " attention)";
          refuse(any, what);
        }
        continue;
      }
      CandidateEvaluation r;
      r.config = c;
      r.time_s = step.time_s - base_att + att;
      const double low_s = step.interval_low_s - base_low + low, high_s = step.interval_high_s - base_high + high;
      const double tokens = phase == Phase::decode ? double(batch) : double(batch) * double(seq_len);
      r.tokens_per_s = r.time_s > 0 ? tokens / r.time_s : 0;
      r.memory_bytes = step.memory.total_bytes();
      r.quality = e.quality;
      if (!step.fits) {
        r.status = "over memory";
        r.reason = step.infeasible_reason;
      } else if (!e.quality.within_budget) {
        r.status = "over quality budget";
        r.reason = e.quality.text;
      } else if (r.time_s > limit) {
        r.status = "slower than baseline";
        r.reason = "predicted " + format_time_s(r.time_s) + " vs the baseline's " + format_time_s(baseline.time_s);
      } else {
        r.status = "admissible";
        admissible.push_back({i, k, r.time_s, low_s, high_s});
      }
      rows.push_back(std::move(r));
    }
  }

  if (admissible.empty()) {
    rec.feasible = false;
    rec.reason = baseline.fits ? "no candidate is admissible (see candidates)"
                               : "nothing fits on " + hw_.name + ": " + baseline.infeasible_reason +
                                     ", and no strategy within the quality budget fits either (see candidates)";
    rec.confidence = "low";
    return rec;
  }

  // Choose by objective.
  auto memory_of = [&](const Choice& c) { return steps[evaluated[c.evaluated].step].memory.total_bytes(); };
  const Choice* best = &admissible.front();
  std::int64_t best_batch = batch;
  double best_tokens = 0;
  if (objective == Objective::throughput) {
    // The largest power-of-two batch (<= 1024) that fits, from the footprint's linear dependence on batch.
    for (const Choice& c : admissible) {
      const Evaluated& e = evaluated[c.evaluated];
      StepConfig cfg = base_cfg;
      cfg.precision = e.assignment;
      cfg.attention = c.kernel;
      cfg.batch = 1;
      const double m1 = memory_footprint(model, cfg).total_bytes();
      cfg.batch = 2;
      const double per_sequence = memory_footprint(model, cfg).total_bytes() - m1;
      const double fixed_bytes = m1 - per_sequence;
      std::int64_t b = batch;
      while (b * 2 <= 1024 && fixed_bytes + double(b * 2) * per_sequence <= hw_.capacity_bytes()) b *= 2;
      cfg.batch = b;
      const StepPrediction p = predict_step(model, cfg, hw_, calibration_);
      if (p.fits && p.tokens_per_s > best_tokens) {
        best_tokens = p.tokens_per_s;
        best = &c;
        best_batch = b;
      }
    }
  } else {
    for (const Choice& c : admissible) {
      const bool better = objective == Objective::latency
                              ? (c.time_s < best->time_s || (c.time_s == best->time_s && memory_of(c) < memory_of(*best)))
                              : (memory_of(c) < memory_of(*best) || (memory_of(c) == memory_of(*best) && c.time_s < best->time_s));
      if (better) best = &c;
    }
  }
  const Evaluated& win = evaluated[best->evaluated];

  // The winner's own step, for its operators and confidence.
  StepConfig wcfg = base_cfg;
  wcfg.precision = win.assignment;
  wcfg.attention = best->kernel;
  const StepPrediction step = predict_step(model, wcfg, hw_, calibration_);
  rec.config = win.config;
  rec.config.attention_kernel = best->kernel;
  rec.config.batch = objective == Objective::throughput ? best_batch : batch;
  rec.mixed_precision = effective_strategy(*win.strategy, win.config);
  rec.fa_config.version = version_class(best->kernel, hw_);
  rec.fa_config.qkv_precision = win.assignment.by_op[std::size_t(OperatorType::ATTENTION)].activation;
  rec.fa_config.kv_cache_precision = win.assignment.kv_cache;
  rec.fa_config.use_native_fp8 = rec.fa_config.qkv_precision == Precision::fp8_e4m3 ||
                                 rec.fa_config.qkv_precision == Precision::fp8_e5m2;
  rec.predicted_time_us = step.time_s * 1e6;
  rec.interval_low_us = step.interval_low_s * 1e6;
  rec.interval_high_us = step.interval_high_s * 1e6;
  rec.predicted_speedup = baseline.time_s / step.time_s;
  rec.tokens_per_s = objective == Objective::throughput ? best_tokens : step.tokens_per_s;
  rec.memory_bytes = step.memory.total_bytes();
  rec.memory_savings_pct = rec.baseline_memory_bytes > 0
                               ? (rec.baseline_memory_bytes - rec.memory_bytes) / rec.baseline_memory_bytes * 100.0
                               : 0.0;
  rec.kv_cache_bytes = std::int64_t(std::llround(step.memory.kv_cache_bytes));
  rec.quality = win.quality;
  rec.expected_quality_loss = win.quality.text;
  rec.confidence = prediction_confidence(step, calibration_, &rec.confidence_reason);
  IntegratedQuantConfig chosen = win.config;
  chosen.attention_kernel = best->kernel;
  for (CandidateEvaluation& r : rows)
    if (r.config == chosen && r.status == "admissible") {
      r.status = "selected";
      r.config.batch = rec.config.batch;
    }

  // Per-operator bottlenecks and the dominant one (by operator family).
  std::map<std::string, double> family_time;
  std::map<std::string, const OpPrediction*> family_largest;
  for (const OpPrediction& o : step.ops) {
    OperatorBottleneck b;
    b.op = op_label(o.op);
    b.type = o.op.type;
    b.bound = o.prediction.bound;
    b.time_s = o.total_s();
    b.time_share_fraction = step.time_s > 0 ? b.time_s / step.time_s : 0;
    b.intensity_flop_per_byte = o.prediction.intensity_flop_per_byte;
    b.ridge_flop_per_byte = o.prediction.critical_intensity_flop_per_byte;
    rec.bottleneck_analysis.push_back(b);
    const std::string family = o.op.kernel == KernelClass::gemm ? "linear layers"
                               : o.op.type == OperatorType::ATTENTION ? "attention"
                                                                      : "elementwise, norm and quantise kernels";
    family_time[family] += b.time_s;
    if (!family_largest[family] || o.total_s() > family_largest[family]->total_s()) family_largest[family] = &o;
  }
  std::string dominant;
  for (const auto& [f, t] : family_time)
    if (dominant.empty() || t > family_time[dominant]) dominant = f;
  const OpPrediction& top = *family_largest[dominant];
  const double share = family_time[dominant] / step.time_s;
  rec.dominant_bottleneck = dominant + " (" + std::string(to_string(top.prediction.bound)) + "-bound)";

  // The reason paragraph.
  std::string r = std::string(to_string(phase)) + " of " + model.name + " at " + std::to_string(seq_len) +
                  " tokens, batch " + std::to_string(batch) + " on " + hw_.name + ": the " + dominant + " take " +
                  percent_text(share) + " of the step and are " + std::string(to_string(top.prediction.bound)) +
                  "-bound (the largest, " + op_label(top.op) + ", at " + fixed(top.prediction.intensity_flop_per_byte, 1) +
                  " FLOP/B against a ridge of " + fixed(top.prediction.critical_intensity_flop_per_byte, 0) + " FLOP/B). ";
  r += rec.config.strategy_name + (rec.config.adaptive_fallback ? " (adaptive: 16-bit activations)" : "") + " with a " +
       std::string(to_string(rec.config.kv_cache_precision)) + " KV cache and " +
       std::string(to_string(rec.config.attention_kernel)) + " attention is predicted at " + format_time_s(step.time_s) +
       " against " + format_time_s(baseline.time_s) + " for the 16-bit baseline with " +
       std::string(to_string(base_kernel)) + " (" + fixed(rec.predicted_speedup, 2) + "x)";
  const double bytes_ratio = step.bytes > 0 ? baseline.bytes / step.bytes : 1;
  if (top.prediction.bound == Bound::memory && bytes_ratio > 1.01)
    r += " because it moves " + fixed(bytes_ratio, 2) + "x fewer bytes per step";
  else if (top.prediction.bound == Bound::compute && top.op.math != MathPath::tc_16bit)
    r += " because its matrix products run on " + std::string(to_string(top.op.math)) + " tensor cores";
  if (objective == Objective::memory)
    r += "; it needs " + format_bytes(rec.memory_bytes) + " (" + fixed(rec.memory_savings_pct, 0) + "% less than the baseline)";
  if (objective == Objective::throughput)
    r += "; at batch " + std::to_string(best_batch) + ", the largest power of two that fits, it reaches " +
         fixed(best_tokens, 0) + " tokens/s";
  r += ". Quality: " + win.quality.text + ".";
  int refused = 0, over_quality = 0, over_memory = 0;
  std::string refused_example, quality_example;
  for (const CandidateEvaluation& c : rows) {
    if (c.status == "refused") {
      ++refused;
      if (refused_example.empty()) refused_example = c.reason;
    } else if (c.status == "over quality budget") {
      ++over_quality;
      if (quality_example.empty()) quality_example = c.config.strategy_name + " with a " +
                                                     std::string(to_string(c.config.kv_cache_precision)) + " KV cache";
    } else if (c.status == "over memory") {
      ++over_memory;
    }
  }
  if (refused) r += " " + std::to_string(refused) + " refused on this GPU (e.g. " + refused_example + ").";
  if (over_quality)
    r += " " + std::to_string(over_quality) + " over the " + fixed(quality_budget_percent, 1) +
         "% quality budget (e.g. " + quality_example + ").";
  if (over_memory) r += " " + std::to_string(over_memory) + " do not fit in memory.";
  rec.reason = r;

  // Candidates: the selected one first, then admissible ones by the objective's order, then the rejected.
  // Sorted as indices with each row's rank computed once (the rows themselves are moved once).
  auto rank = [](const std::string& status) {
    if (status == "selected") return 0;
    if (status == "admissible") return 1;
    if (status == "slower than baseline") return 2;
    if (status == "over quality budget") return 3;
    if (status == "over memory") return 4;
    return 5;
  };
  std::vector<int> ranks(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) ranks[i] = rank(rows[i].status);
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (ranks[a] != ranks[b]) return ranks[a] < ranks[b];
    if (objective == Objective::memory && rows[a].memory_bytes != rows[b].memory_bytes)
      return rows[a].memory_bytes < rows[b].memory_bytes;
    return rows[a].time_s < rows[b].time_s;
  });
  std::vector<CandidateEvaluation> sorted;
  sorted.reserve(rows.size());
  for (std::size_t i : order) sorted.push_back(std::move(rows[i]));
  rows = std::move(sorted);
  return rec;
}

}  // namespace roofline
