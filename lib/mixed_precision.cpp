#include "roofline/mixed_precision.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>

#include "detail/yaml_reader.hpp"
#include "roofline/errors.hpp"

namespace roofline {

namespace {

bool is_wide(Precision p) { return p == Precision::bf16 || p == Precision::fp16 || p == Precision::fp32; }
bool is_fp8(Precision p) { return p == Precision::fp8_e4m3 || p == Precision::fp8_e5m2; }

bool is_linear(OperatorType t) {
  return std::find(strategy_linear_operators.begin(), strategy_linear_operators.end(), t) !=
         strategy_linear_operators.end();
}

std::string sm_name(const HardwareSpec& hw) {
  return "sm_" + std::to_string(hw.capabilities.compute_capability_major) +
         std::to_string(hw.capabilities.compute_capability_minor);
}

std::string fraction_text(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", f);
  return buf;
}

std::string linear_operator_names() {
  std::string s;
  for (OperatorType t : strategy_linear_operators) s += (s.empty() ? "" : ", ") + std::string(to_string(t));
  return s;
}
std::string assignable_operator_names() { return linear_operator_names() + ", attention"; }

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// ceil(x) where x within 1e-9 of an integer counts as that integer (products of decimal fractions).
std::int64_t ceil_tolerant(double x) {
  const double r = std::round(x);
  if (std::fabs(x - r) < 1e-9) return std::int64_t(r);
  return std::int64_t(std::ceil(x));
}

std::string scope_text(const LayerRange& r) {
  if (!r.fractional) return "layers " + std::to_string(r.first_layer) + "-" + std::to_string(r.last_layer);
  return "fraction " + fraction_text(r.start_fraction) + "-" + fraction_text(r.end_fraction) + " of depth";
}

// The resolved precision of a linear layer or attention at the strategy level or inside `band`.
OpPrecision resolve_op(const MixedPrecisionConfig& c, OperatorType op, const StrategyBand* band) {
  if (op == OperatorType::KV_CACHE) return {c.kv_cache_precision, c.kv_cache_precision};
  if (!is_linear(op) && op != OperatorType::ATTENTION) return {Precision::bf16, Precision::bf16};
  OperatorPrecisionSpec top;
  if (auto it = c.operator_precisions.find(op); it != c.operator_precisions.end()) top = it->second;
  if (op == OperatorType::ATTENTION) {
    Precision a = top.activation.value_or(Precision::bf16);
    if (band) {
      if (auto it = band->operator_precisions.find(op); it != band->operator_precisions.end() && it->second.activation)
        a = *it->second.activation;
    }
    return {Precision::bf16, a};
  }
  OpPrecision p{top.weight.value_or(Precision::bf16), top.activation.value_or(c.default_activation_precision)};
  if (band && op != OperatorType::LM_HEAD) {
    const auto it = band->operator_precisions.find(op);
    const bool listed = it != band->operator_precisions.end();
    if (listed && it->second.weight) p.weight = *it->second.weight;
    if (listed && it->second.activation) p.activation = *it->second.activation;
    else if (band->default_activation_precision) p.activation = *band->default_activation_precision;
  }
  return p;
}

}  // namespace

// ---- layer ranges and precision lookup --------------------------------------------------------------

std::optional<std::pair<std::int64_t, std::int64_t>> LayerRange::resolve(std::int64_t num_layers) const {
  if (num_layers < 1) throw InvalidArgumentError("num_layers: must be >= 1, got " + std::to_string(num_layers));
  std::int64_t first = first_layer, last = last_layer;
  if (fractional) {
    first = ceil_tolerant(start_fraction * double(num_layers));
    last = ceil_tolerant(end_fraction * double(num_layers)) - 1;
  }
  last = std::min(last, num_layers - 1);
  if (last < first) return std::nullopt;
  return std::make_pair(first, last);
}

std::ostream& operator<<(std::ostream& os, const LayerRange& r) { return os << scope_text(r); }

OpPrecision MixedPrecisionConfig::get_precision(OperatorType op) const { return resolve_op(*this, op, nullptr); }

OpPrecision MixedPrecisionConfig::get_precision(OperatorType op, std::int64_t layer) const {
  for (const StrategyBand& b : bands) {
    if (b.layers.fractional)
      throw InvalidArgumentError("strategy '" + name + "' has bands given as fractions of depth: call get_precision(op, "
                                 "layer, num_layers)");
  }
  for (const StrategyBand& b : bands)
    if (layer >= b.layers.first_layer && layer <= b.layers.last_layer) return resolve_op(*this, op, &b);
  return resolve_op(*this, op, nullptr);
}

OpPrecision MixedPrecisionConfig::get_precision(OperatorType op, std::int64_t layer, std::int64_t num_layers) const {
  if (layer < 0 || layer >= num_layers)
    throw InvalidArgumentError("layer " + std::to_string(layer) + " is outside [0, " + std::to_string(num_layers) + ")");
  for (const StrategyBand& b : bands) {
    const auto r = b.layers.resolve(num_layers);
    if (r && layer >= r->first && layer <= r->second) return resolve_op(*this, op, &b);
  }
  return resolve_op(*this, op, nullptr);
}

std::ostream& operator<<(std::ostream& os, const MixedPrecisionConfig& c) {
  os << "MixedPrecisionConfig{" << c.name << ":";
  for (const auto& [op, spec] : c.operator_precisions) {
    os << " " << to_string(op) << "=" << (spec.weight ? std::string(to_string(*spec.weight)) : "-") << "/"
       << (spec.activation ? std::string(to_string(*spec.activation)) : "-");
  }
  os << ", default activation " << to_string(c.default_activation_precision) << ", kv " << to_string(c.kv_cache_precision)
     << ", " << to_string(c.activation_scaling) << ", " << to_string(c.quantize_fusion);
  for (const StrategyBand& b : c.bands) {
    os << ", band " << b.layers << " {";
    if (b.default_activation_precision) os << "default activation " << to_string(*b.default_activation_precision);
    for (const auto& [op, spec] : b.operator_precisions)
      os << " " << to_string(op) << "=" << (spec.weight ? std::string(to_string(*spec.weight)) : "-") << "/"
         << (spec.activation ? std::string(to_string(*spec.activation)) : "-");
    os << "}";
  }
  return os << ", " << c.quality.evidence.size() << " quality sources}";
}

// ---- validation and assignment ----------------------------------------------------------------------

namespace {

// The reasons a strategy is inconsistent, shared by the code validator and the YAML loader (which
// reports them at the offending key). Empty when fine.
std::string operator_problem(OperatorType op, const OperatorPrecisionSpec& spec, bool in_band) {
  if (op == OperatorType::KV_CACHE) return "the KV-cache format is the strategy's kv_cache_precision, not an operator";
  if (!is_linear(op) && op != OperatorType::ATTENTION)
    return std::string(to_string(op)) + " has no precision of its own in the cost model (16-bit); strategies assign " +
           assignable_operator_names();
  if (in_band && op == OperatorType::LM_HEAD) return "lm_head is not a per-layer operator; set it at the top level";
  if (op == OperatorType::ATTENTION) {
    if (spec.weight) return "attention has no weight; give only its activation (the Q/K/V precision)";
    if (spec.activation && !is_wide(*spec.activation) && !is_fp8(*spec.activation))
      return "attention activation must be a 16-bit or fp8 format (the attention kernels the model knows), got " +
             std::string(to_string(*spec.activation));
  }
  return "";
}

std::string fusion_problem(ActivationScaling s, QuantizeFusion f) {
  if (f == QuantizeFusion::fused_into_producer && s == ActivationScaling::dynamic_per_tensor)
    return "fused_into_producer cannot be combined with activation_scaling dynamic_per_tensor: the whole tensor's amax "
           "must be known before any element is cast";
  return "";
}

std::string fraction_problem(double start, double end) {
  if (!(start >= 0 && start < 1)) return "start_fraction must be in [0, 1), got " + fraction_text(start);
  if (!(end > start && end <= 1)) return "end_fraction must be in (start_fraction, 1], got " + fraction_text(end);
  return "";
}

// Whether two bands share a layer; both fractional or both explicit (checked before).
bool overlaps(const LayerRange& a, const LayerRange& b) {
  if (a.fractional) return a.start_fraction < b.end_fraction && b.start_fraction < a.end_fraction;
  return a.first_layer <= b.last_layer && b.first_layer <= a.last_layer;
}

bool quantizes_anything(const MixedPrecisionConfig& c) {
  if (!is_wide(c.kv_cache_precision)) return true;
  auto any = [](const std::map<OperatorType, OperatorPrecisionSpec>& m) {
    for (const auto& [op, s] : m)
      if ((s.weight && !is_wide(*s.weight)) || (s.activation && !is_wide(*s.activation))) return true;
    return false;
  };
  if (any(c.operator_precisions)) return true;
  for (const StrategyBand& b : c.bands) {
    if (any(b.operator_precisions)) return true;
    if (b.default_activation_precision && !is_wide(*b.default_activation_precision)) return true;
  }
  // The default activation matters only for a linear layer that does not set its own.
  for (OperatorType t : strategy_linear_operators) {
    auto it = c.operator_precisions.find(t);
    if ((it == c.operator_precisions.end() || !it->second.activation) && !is_wide(c.default_activation_precision))
      return true;
  }
  return false;
}

}  // namespace

void validate_strategy(const MixedPrecisionConfig& c) {
  const std::string who = "strategy '" + c.name + "': ";
  if (c.name.empty()) throw InvalidArgumentError("strategy: name must not be empty");
  for (const auto& [op, spec] : c.operator_precisions)
    if (std::string p = operator_problem(op, spec, false); !p.empty()) throw InvalidArgumentError(who + p);
  if (std::string p = fusion_problem(c.activation_scaling, c.quantize_fusion); !p.empty())
    throw InvalidArgumentError(who + p);
  for (std::size_t i = 0; i < c.bands.size(); ++i) {
    const StrategyBand& b = c.bands[i];
    const std::string at = who + "bands[" + std::to_string(i) + "]: ";
    if (b.layers.fractional != c.bands.front().layers.fractional)
      throw InvalidArgumentError(at + "bands must all be fractions of depth or all explicit layers");
    if (b.layers.fractional) {
      if (std::string p = fraction_problem(b.layers.start_fraction, b.layers.end_fraction); !p.empty())
        throw InvalidArgumentError(at + p);
    } else if (b.layers.first_layer < 0 || b.layers.last_layer < b.layers.first_layer) {
      throw InvalidArgumentError(at + "layers " + std::to_string(b.layers.first_layer) + "-" +
                                 std::to_string(b.layers.last_layer) + " are empty or negative");
    }
    if (b.operator_precisions.empty()) throw InvalidArgumentError(at + "a band must override at least one operator");
    for (const auto& [op, spec] : b.operator_precisions)
      if (std::string p = operator_problem(op, spec, true); !p.empty()) throw InvalidArgumentError(at + p);
    for (std::size_t j = 0; j < i; ++j)
      if (overlaps(c.bands[j].layers, b.layers))
        throw InvalidArgumentError(at + scope_text(b.layers) + " overlaps bands[" + std::to_string(j) + "] (" +
                                   scope_text(c.bands[j].layers) + ")");
  }
}

PrecisionAssignment to_assignment(const MixedPrecisionConfig& c, const ModelConfig& model) {
  validate_strategy(c);
  PrecisionAssignment a;
  a.name = c.name;
  for (std::size_t i = 0; i < operator_type_count; ++i) {
    const auto t = OperatorType(i);
    a.by_op[i] = t == OperatorType::KV_CACHE ? OpPrecision{} : resolve_op(c, t, nullptr);
  }
  a.kv_cache = c.kv_cache_precision;
  a.activation_scaling = c.activation_scaling;
  a.quantize_fusion = c.quantize_fusion;
  for (const StrategyBand& b : c.bands) {
    if (!b.layers.fractional && b.layers.last_layer >= model.num_layers)
      throw InvalidArgumentError("strategy '" + c.name + "': band " + scope_text(b.layers) + " lies beyond the " +
                                 std::to_string(model.num_layers) + " layers of " + model.name);
    const auto r = b.layers.resolve(model.num_layers);
    if (!r) continue;  // a fraction of a shallow model that holds no whole layer
    PrecisionAssignment::LayerBand lb;
    lb.first_layer = r->first;
    lb.last_layer = r->second;
    lb.by_op = a.by_op;
    for (std::size_t i = 0; i < operator_type_count; ++i) {
      const auto t = OperatorType(i);
      if ((is_linear(t) && t != OperatorType::LM_HEAD) || t == OperatorType::ATTENTION) lb.by_op[i] = resolve_op(c, t, &b);
    }
    a.bands.push_back(lb);
  }
  return a;
}

// ---- feasibility ------------------------------------------------------------------------------------

std::string_view to_string(FeasibilityPolicy p) { return p == FeasibilityPolicy::emulate ? "emulate" : "refuse"; }
FeasibilityPolicy parse_feasibility_policy(std::string_view s) {
  if (s == "emulate") return FeasibilityPolicy::emulate;
  if (s == "refuse") return FeasibilityPolicy::refuse;
  throw UnknownNameError("feasibility policy", std::string(s), {"emulate", "refuse"});
}

std::string_view to_string(StrategySupport s) {
  switch (s) {
    case StrategySupport::native: return "native";
    case StrategySupport::dequantized: return "dequantized";
    case StrategySupport::emulated: return "emulated";
    case StrategySupport::refused: return "refused";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const OperatorFeasibility& f) {
  return os << "OperatorFeasibility{" << to_string(f.op) << " (" << f.scope << "): " << to_string(f.requested.weight) << "/"
            << to_string(f.requested.activation) << " -> " << to_string(f.effective.weight) << "/"
            << to_string(f.effective.activation) << " on " << to_string(f.math) << ", " << to_string(f.support) << ": "
            << f.reason << "}";
}

const OperatorFeasibility* StrategyFeasibility::find(OperatorType op, std::string_view scope) const {
  for (const OperatorFeasibility& f : operators)
    if (f.op == op && f.scope == scope) return &f;
  return nullptr;
}

bool StrategyFeasibility::any_emulated() const {
  for (const OperatorFeasibility& f : operators)
    if (f.support == StrategySupport::emulated || f.support == StrategySupport::refused) return true;
  return false;
}

namespace {

struct Decision {
  OpPrecision effective;
  MathPath math = MathPath::tc_16bit;
  StrategySupport support = StrategySupport::native;
  std::string reason;
};

Decision decide_linear(const HardwareSpec& hw, OpPrecision req, FeasibilityPolicy policy) {
  const MatmulPath mp = matmul_path(hw, req.weight, req.activation);
  if (is_wide(req.activation)) {
    const bool weight_only = !is_wide(req.weight);
    return {req, mp.math, weight_only ? StrategySupport::dequantized : StrategySupport::native, mp.reason};
  }
  if (mp.support == Support::native) return {req, mp.math, StrategySupport::native, mp.reason};
  // Mixed input that keeps the requested activation path (int4 or fp4 weights dequantised to fp8, W4A8).
  const MathPath wanted = format_info(req.activation).native_path;
  if (mp.math == wanted && hw.peak(wanted).supported) return {req, mp.math, StrategySupport::dequantized, mp.reason};
  const std::string lack = std::string(to_string(req.weight)) + " weights with " + std::string(to_string(req.activation)) +
                           " activations need " + std::string(to_string(wanted)) + " tensor cores, which " + hw.name +
                           " (" + sm_name(hw) + ") lacks";
  if (policy == FeasibilityPolicy::refuse) return {req, mp.math, StrategySupport::refused, lack};
  const OpPrecision fallback{req.weight, Precision::bf16};
  const MatmulPath fb = matmul_path(hw, fallback.weight, fallback.activation);
  const std::string how = is_wide(req.weight)
                              ? "runs in 16-bit"
                              : "runs weight-only: " + std::string(to_string(req.weight)) +
                                    " weights dequantised to 16-bit in the main loop, 16-bit activations, 16-bit "
                                    "tensor cores";
  return {fallback, fb.math, StrategySupport::emulated, lack + "; " + how};
}

Decision decide_attention(const HardwareSpec& hw, Precision qkv, FeasibilityPolicy policy) {
  const OpPrecision req{Precision::bf16, qkv};
  if (is_wide(qkv)) return {req, MathPath::tc_16bit, StrategySupport::native, "16-bit attention"};
  if (hw.capabilities.native_fp8)
    return {req, MathPath::tc_fp8, StrategySupport::native, "fp8 attention on fp8 tensor cores (FA3-class kernels)"};
  const std::string lack = "fp8 attention needs fp8 tensor cores (sm_89+), which " + hw.name + " (" + sm_name(hw) + ") lacks";
  if (policy == FeasibilityPolicy::refuse) return {req, MathPath::tc_16bit, StrategySupport::refused, lack};
  return {{Precision::bf16, Precision::bf16}, MathPath::tc_16bit, StrategySupport::emulated,
          lack + "; runs 16-bit attention"};
}

Decision decide_kv(const HardwareSpec& hw, Precision kv, const Decision& attention, FeasibilityPolicy policy) {
  const OpPrecision req{kv, attention.effective.activation};
  const MathPath math = attention.math;
  char bytes[32];
  std::snprintf(bytes, sizeof bytes, "%g", bytes_per_element(kv));
  const std::string stored = "stored as " + std::string(to_string(kv)) + " (" + bytes + " B/element with scales)";
  if (is_wide(kv)) return {req, math, StrategySupport::native, "16-bit KV cache"};
  if (format_support(hw, kv) == Support::native) {
    const bool consumed = (is_fp8(kv) && math == MathPath::tc_fp8);
    return {req, math, StrategySupport::native,
            stored + (consumed ? ", consumed by fp8 tensor cores"
                               : "; " + std::string(to_string(kv)) + " tensor cores exist on " + sm_name(hw) +
                                     ", with 16-bit Q the kernel converts K/V to 16-bit after loading")};
  }
  if (format_info(kv).weight_only_by_design)
    return {req, math, StrategySupport::dequantized, stored + ", dequantised to 16-bit inside the attention kernel"};
  const std::string lack = "no tensor-core path consumes " + std::string(to_string(kv)) + " on " + hw.name + " (" +
                           sm_name(hw) + ")";
  if (policy == FeasibilityPolicy::refuse) return {req, math, StrategySupport::refused, lack};
  return {req, math, StrategySupport::emulated,
          lack + "; " + stored + " and dequantised to 16-bit inside the attention kernel (bytes as stored, 16-bit math)"};
}

OperatorFeasibility entry(OperatorType op, std::string scope, OpPrecision requested, const Decision& d) {
  return {op, std::move(scope), requested, d.effective, d.math, d.support, d.reason};
}

}  // namespace

StrategyFeasibility check_strategy(const MixedPrecisionConfig& c, const HardwareSpec& hw, FeasibilityPolicy policy) {
  validate_strategy(c);
  StrategyFeasibility f;
  f.strategy = c.name;
  f.gpu = hw.name;
  f.policy = policy;
  auto scope_entries = [&](const StrategyBand* band, const std::string& scope) {
    for (OperatorType t : strategy_linear_operators) {
      if (band && t == OperatorType::LM_HEAD) continue;
      const OpPrecision req = resolve_op(c, t, band);
      f.operators.push_back(entry(t, scope, req, decide_linear(hw, req, policy)));
    }
    const OpPrecision att = resolve_op(c, OperatorType::ATTENTION, band);
    const Decision ad = decide_attention(hw, att.activation, policy);
    f.operators.push_back(entry(OperatorType::ATTENTION, scope, att, ad));
    if (!band) {
      const Decision kd = decide_kv(hw, c.kv_cache_precision, ad, policy);
      f.operators.push_back(entry(OperatorType::KV_CACHE, scope, {c.kv_cache_precision, att.activation}, kd));
    }
  };
  scope_entries(nullptr, "all layers");
  for (const StrategyBand& b : c.bands) scope_entries(&b, scope_text(b.layers));
  for (const OperatorFeasibility& o : f.operators) {
    if (o.support == StrategySupport::refused) {
      f.feasible = false;
      f.reason = std::string(to_string(o.op)) + " (" + o.scope + "): " + o.reason;
      break;
    }
  }
  return f;
}

PrecisionAssignment to_assignment(const MixedPrecisionConfig& c, const ModelConfig& model, const HardwareSpec& hw,
                                  FeasibilityPolicy policy) {
  PrecisionAssignment a = to_assignment(c, model);
  if (policy == FeasibilityPolicy::refuse) return a;
  // Apply each fallback to the table it came from: the strategy-level one or the band's.
  auto apply = [&](std::array<OpPrecision, operator_type_count>& by_op, const StrategyBand* band) {
    for (OperatorType t : strategy_linear_operators) {
      if (band && t == OperatorType::LM_HEAD) continue;
      by_op[std::size_t(t)] = decide_linear(hw, resolve_op(c, t, band), policy).effective;
    }
    const OpPrecision att = resolve_op(c, OperatorType::ATTENTION, band);
    by_op[std::size_t(OperatorType::ATTENTION)] = decide_attention(hw, att.activation, policy).effective;
  };
  apply(a.by_op, nullptr);
  std::size_t next = 0;
  for (const StrategyBand& b : c.bands) {
    if (!b.layers.resolve(model.num_layers)) continue;  // skipped by to_assignment as well
    apply(a.bands[next++].by_op, &b);
  }
  return a;
}

// ---- loading ----------------------------------------------------------------------------------------

namespace {
using detail::YamlMap;

constexpr int strategy_schema_version = 1;

Precision read_precision(const YamlMap& m, const std::string& key) {
  const std::string s = m.string(key);
  Precision p{};
  if (!try_parse_precision(s, p)) m.fail(key, "unknown precision '" + s + "' (known: " + joined(precision_names()) + ")");
  return p;
}

OperatorPrecisionSpec read_operator(const YamlMap& m, OperatorType op, bool in_band) {
  m.allow_only({"weight", "activation"});
  OperatorPrecisionSpec spec;
  if (m.has("weight")) spec.weight = read_precision(m, "weight");
  if (m.has("activation")) spec.activation = read_precision(m, "activation");
  if (std::string p = operator_problem(op, spec, in_band); !p.empty()) {
    if (op == OperatorType::ATTENTION && spec.weight) m.fail("weight", p);
    if (op == OperatorType::ATTENTION) m.fail("activation", p);
    m.fail_here(p);
  }
  // Top-level linear layers need their weight written; a band may override only the activation.
  if (!in_band && is_linear(op) && !spec.weight) m.fail_here("missing required key 'weight'");
  if (in_band && !spec.weight && !spec.activation) m.fail_here("give a weight or an activation precision to override");
  return spec;
}

std::map<OperatorType, OperatorPrecisionSpec> read_operators(const YamlMap& m, bool in_band) {
  std::map<OperatorType, OperatorPrecisionSpec> out;
  for (auto it = m.node().begin(); it != m.node().end(); ++it) {
    const std::string key = it->first.as<std::string>();
    std::optional<OperatorType> op;
    for (std::size_t i = 0; i < operator_type_count; ++i)
      if (to_string(OperatorType(i)) == key) op = OperatorType(i);
    // A key that names no assignable operator is reported at the key, like any unknown key.
    auto fail_at_key = [&](const std::string& problem) {
      throw ConfigError(detail::location_of(it->first, m.file()), m.child_path(key), problem);
    };
    if (!op) fail_at_key("unknown operator (strategies assign " + assignable_operator_names() + ")");
    if (*op == OperatorType::KV_CACHE || (!is_linear(*op) && *op != OperatorType::ATTENTION) ||
        (in_band && *op == OperatorType::LM_HEAD))
      fail_at_key(operator_problem(*op, {}, in_band));
    out[*op] = read_operator(m.map(key), *op, in_band);
  }
  if (!in_band) {
    for (OperatorType t : strategy_linear_operators)
      if (!out.count(t))
        m.fail_here("missing linear layer '" + std::string(to_string(t)) + "' (a strategy lists every one of " +
                    linear_operator_names() + ")");
  } else if (out.empty()) {
    m.fail_here("a band must override at least one operator");
  }
  return out;
}

LayerRange read_layers(const YamlMap& m) {
  const bool fractions = m.has("start_fraction") || m.has("end_fraction");
  const bool explicit_layers = m.has("first") || m.has("last");
  if (fractions == explicit_layers)
    m.fail_here("give either start_fraction and end_fraction (fractions of depth) or first and last (layers)");
  if (fractions) {
    m.allow_only({"start_fraction", "end_fraction"});
    const double start = m.number("start_fraction");
    const double end = m.number("end_fraction");
    if (!(start >= 0 && start < 1)) m.fail("start_fraction", "must be in [0, 1), got " + fraction_text(start));
    if (!(end > start && end <= 1)) m.fail("end_fraction", "must be in (start_fraction, 1], got " + fraction_text(end));
    return LayerRange::fractions(start, end);
  }
  m.allow_only({"first", "last"});
  const std::int64_t first = m.integer("first");
  const std::int64_t last = m.integer("last");
  if (first < 0) m.fail("first", "must be >= 0, got " + std::to_string(first));
  if (last < first) m.fail("last", "must be >= first (" + std::to_string(first) + "), got " + std::to_string(last));
  return LayerRange::layers(first, last);
}

QualityInfo read_quality(const YamlMap& q) {
  q.allow_only({"summary", "evidence"});
  QualityInfo info;
  info.summary = q.string("summary");
  const YAML::Node list = q.child("evidence");
  if (!list.IsSequence()) q.fail("evidence", "must be a list of cited results (may be empty)");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YamlMap e(list[i], q.file(), q.child_path("evidence") + "[" + std::to_string(i) + "]");
    e.allow_only({"source", "locator", "model", "scheme", "metric", "baseline", "quantized", "recovery_percent", "finding"});
    QualityEvidence ev;
    ev.source = e.string("source");
    ev.locator = e.string("locator");
    ev.model = e.string("model");
    ev.scheme = e.string("scheme");
    ev.metric = e.string("metric");
    if (e.has("baseline") != e.has("quantized")) e.fail_here("give baseline and quantized together, or neither");
    if (e.has("baseline")) {
      ev.baseline = e.number("baseline");
      ev.quantized = e.number("quantized");
    }
    if (e.has("recovery_percent")) ev.recovery_percent = e.positive("recovery_percent");
    ev.finding = e.string("finding");
    info.evidence.push_back(std::move(ev));
  }
  return info;
}

MixedPrecisionConfig parse_strategy(const YAML::Node& doc, const std::string& file) {
  const YamlMap root = detail::root_map(doc, file);
  root.allow_only({"schema_version", "name", "description", "default_activation_precision", "kv_cache_precision",
                   "activation_scaling", "quantize_fusion", "operators", "bands", "quality"});
  const std::int64_t version = root.integer("schema_version");
  if (version != strategy_schema_version)
    root.fail("schema_version", "unsupported schema version " + std::to_string(version) + " (this library reads 1)");
  MixedPrecisionConfig c;
  c.file = file;
  c.name = root.string("name");
  c.description = root.string("description");
  c.default_activation_precision = read_precision(root, "default_activation_precision");
  c.kv_cache_precision = read_precision(root, "kv_cache_precision");
  c.activation_scaling = parse_activation_scaling(
      root.choice("activation_scaling", {"dynamic_per_tensor", "dynamic_per_token", "static_per_tensor"}));
  c.quantize_fusion = parse_quantize_fusion(root.choice("quantize_fusion", {"fused_into_producer", "separate"}));
  if (std::string p = fusion_problem(c.activation_scaling, c.quantize_fusion); !p.empty()) root.fail("quantize_fusion", p);
  c.operator_precisions = read_operators(root.map("operators"), false);
  if (root.has("bands")) {
    const YAML::Node list = root.child("bands");
    if (!list.IsSequence()) root.fail("bands", "must be a list of layer bands");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YamlMap b(list[i], file, "bands[" + std::to_string(i) + "]");
      b.allow_only({"layers", "default_activation_precision", "operators"});
      StrategyBand band;
      band.layers = read_layers(b.map("layers"));
      if (b.has("default_activation_precision"))
        band.default_activation_precision = read_precision(b, "default_activation_precision");
      band.operator_precisions = read_operators(b.map("operators"), true);
      if (!c.bands.empty() && band.layers.fractional != c.bands.front().layers.fractional)
        b.fail("layers", "bands must all be fractions of depth or all explicit layers");
      for (std::size_t j = 0; j < c.bands.size(); ++j)
        if (overlaps(c.bands[j].layers, band.layers))
          b.fail("layers", scope_text(band.layers) + " overlaps bands[" + std::to_string(j) + "] (" +
                               scope_text(c.bands[j].layers) + ")");
      c.bands.push_back(std::move(band));
    }
  }
  c.quality = read_quality(root.map("quality"));
  if (c.quality.evidence.empty() && quantizes_anything(c) &&
      c.quality.summary.find("no published figure found") == std::string::npos)
    root.map("quality").fail("summary", "with no evidence listed, the summary must say 'no published figure found'");
  validate_strategy(c);  // everything above reported positions; this is a consistency net
  return c;
}
}  // namespace

MixedPrecisionConfig load_strategy_file(const std::filesystem::path& path) {
  return parse_strategy(detail::load_yaml_file(path), path.string());
}

StrategyRegistry StrategyRegistry::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw ConfigError({dir.string(), 0, 0}, "", "strategy directory not found");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  StrategyRegistry r;
  for (const auto& f : files) r.add_file(f);
  return r;
}

StrategyRegistry StrategyRegistry::load_default() { return load_directory(data_directory() / "strategies"); }

const MixedPrecisionConfig& StrategyRegistry::add_file(const std::filesystem::path& path) {
  MixedPrecisionConfig c = load_strategy_file(path);
  if (const MixedPrecisionConfig* old = find(c.name))
    throw ConfigError({path.string(), 0, 0}, "name",
                      "strategy name '" + c.name + "' is already defined by " + (old->file.empty() ? "code" : old->file));
  std::string name = c.name;
  return strategies_.emplace(std::move(name), std::move(c)).first->second;
}

void StrategyRegistry::add(MixedPrecisionConfig c) {
  validate_strategy(c);
  if (find(c.name)) throw InvalidArgumentError("strategy name '" + c.name + "' is already defined");
  std::string name = c.name;
  strategies_.emplace(std::move(name), std::move(c));
}

const MixedPrecisionConfig* StrategyRegistry::find(std::string_view name) const {
  auto it = strategies_.find(name);
  return it == strategies_.end() ? nullptr : &it->second;
}

const MixedPrecisionConfig& StrategyRegistry::get(std::string_view name) const {
  if (const MixedPrecisionConfig* c = find(name)) return *c;
  throw UnknownNameError("strategy", std::string(name), names());
}

std::vector<std::string> StrategyRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, c] : strategies_) out.push_back(name);
  return out;
}

MixedPrecisionConfig get_strategy(std::string_view name) {
  static const StrategyRegistry shipped = StrategyRegistry::load_default();
  return shipped.get(name);
}

// ---- the shipped strategies in code -----------------------------------------------------------------

namespace {
// Every linear layer but the LM head in `w` (activation from the default), the LM head as given.
std::map<OperatorType, OperatorPrecisionSpec> layers_in(Precision w, OperatorPrecisionSpec lm_head) {
  std::map<OperatorType, OperatorPrecisionSpec> m;
  for (OperatorType t : strategy_linear_operators) m[t] = OperatorPrecisionSpec{w, std::nullopt};
  m[OperatorType::LM_HEAD] = lm_head;
  return m;
}
std::map<OperatorType, OperatorPrecisionSpec> band_layers_in(Precision w) {
  std::map<OperatorType, OperatorPrecisionSpec> m;
  for (OperatorType t : strategy_linear_operators)
    if (t != OperatorType::LM_HEAD) m[t] = OperatorPrecisionSpec{w, std::nullopt};
  return m;
}
const OperatorPrecisionSpec lm_head_bf16{Precision::bf16, Precision::bf16};
}  // namespace

MixedPrecisionConfig create_fp16_baseline() {
  MixedPrecisionConfig c;
  c.name = "fp16_baseline";
  c.description = "Every linear layer, the attention and the KV cache in fp16: the accuracy reference.";
  c.operator_precisions = layers_in(Precision::fp16, {Precision::fp16, std::nullopt});
  c.operator_precisions[OperatorType::ATTENTION] = {std::nullopt, Precision::fp16};
  c.default_activation_precision = Precision::fp16;
  c.kv_cache_precision = Precision::fp16;
  c.activation_scaling = ActivationScaling::static_per_tensor;
  c.quantize_fusion = QuantizeFusion::separate;
  return c;
}

MixedPrecisionConfig create_fp8_balanced() {
  MixedPrecisionConfig c;
  c.name = "fp8_balanced";
  c.description = "FP8 E4M3 weights and activations (W8A8) in every decoder linear layer, dynamic per-token activation "
                  "scales, LM head in bf16, FP8 KV cache.";
  c.operator_precisions = layers_in(Precision::fp8_e4m3, lm_head_bf16);
  c.operator_precisions[OperatorType::ATTENTION] = {std::nullopt, Precision::bf16};
  c.default_activation_precision = Precision::fp8_e4m3;
  c.kv_cache_precision = Precision::fp8_e4m3;
  c.activation_scaling = ActivationScaling::dynamic_per_token;
  c.quantize_fusion = QuantizeFusion::separate;
  return c;
}

MixedPrecisionConfig create_w4a16_aggressive() {
  MixedPrecisionConfig c;
  c.name = "w4a16_aggressive";
  c.description = "INT4 weights with one fp16 scale per group of 128 (W4A16, GPTQ/AWQ-style) in every decoder linear "
                  "layer; activations, LM head and KV cache in bf16.";
  c.operator_precisions = layers_in(Precision::int4, lm_head_bf16);
  c.operator_precisions[OperatorType::ATTENTION] = {std::nullopt, Precision::bf16};
  c.default_activation_precision = Precision::bf16;
  c.kv_cache_precision = Precision::bf16;
  c.activation_scaling = ActivationScaling::static_per_tensor;
  c.quantize_fusion = QuantizeFusion::separate;
  return c;
}

MixedPrecisionConfig create_nvfp4_blackwell() {
  MixedPrecisionConfig c;
  c.name = "nvfp4_blackwell";
  c.description = "NVFP4 weights and activations (W4A4: E2M1 values, an E4M3 scale per 16 elements, a static per-tensor "
                  "FP32 scale) in every decoder linear layer, LM head in bf16, NVFP4 KV cache.";
  c.operator_precisions = layers_in(Precision::nvfp4, lm_head_bf16);
  c.operator_precisions[OperatorType::ATTENTION] = {std::nullopt, Precision::bf16};
  c.default_activation_precision = Precision::nvfp4;
  c.kv_cache_precision = Precision::nvfp4;
  c.activation_scaling = ActivationScaling::static_per_tensor;
  c.quantize_fusion = QuantizeFusion::separate;
  return c;
}

MixedPrecisionConfig create_hybrid_long_context() {
  MixedPrecisionConfig c;
  c.name = "hybrid_long_context";
  c.description = "FP8 W8A8 decoder linear layers (dynamic per-token activation scales) with an NVFP4 KV cache, for "
                  "long-context decode where reading the KV cache dominates; LM head in bf16.";
  c.operator_precisions = layers_in(Precision::fp8_e4m3, lm_head_bf16);
  c.operator_precisions[OperatorType::ATTENTION] = {std::nullopt, Precision::bf16};
  c.default_activation_precision = Precision::fp8_e4m3;
  c.kv_cache_precision = Precision::nvfp4;
  c.activation_scaling = ActivationScaling::dynamic_per_token;
  c.quantize_fusion = QuantizeFusion::separate;
  return c;
}

MixedPrecisionConfig create_layerwise_gradient() {
  MixedPrecisionConfig c;
  c.name = "layerwise_gradient";
  c.description = "Precision falls with depth: the first third of the layers in fp16, the middle third FP8 W8A8, the "
                  "last third NVFP4 W4A4; LM head, attention and KV cache in fp16.";
  c.operator_precisions = layers_in(Precision::fp16, {Precision::fp16, std::nullopt});
  c.operator_precisions[OperatorType::ATTENTION] = {std::nullopt, Precision::fp16};
  c.default_activation_precision = Precision::fp16;
  c.kv_cache_precision = Precision::fp16;
  c.activation_scaling = ActivationScaling::dynamic_per_token;
  c.quantize_fusion = QuantizeFusion::separate;
  c.bands = {
      StrategyBand{LayerRange::fractions(0.0, 1.0 / 3.0), Precision::fp16, band_layers_in(Precision::fp16)},
      StrategyBand{LayerRange::fractions(1.0 / 3.0, 2.0 / 3.0), Precision::fp8_e4m3, band_layers_in(Precision::fp8_e4m3)},
      StrategyBand{LayerRange::fractions(2.0 / 3.0, 1.0), Precision::nvfp4, band_layers_in(Precision::nvfp4)},
  };
  return c;
}

MixedPrecisionConfig create_layerwise_gradient(std::int64_t num_layers) {
  MixedPrecisionConfig c = create_layerwise_gradient();
  std::vector<StrategyBand> resolved;
  for (StrategyBand b : c.bands) {
    const auto r = b.layers.resolve(num_layers);
    if (!r) continue;
    b.layers = LayerRange::layers(r->first, r->second);
    resolved.push_back(std::move(b));
  }
  c.bands = std::move(resolved);
  return c;
}

}  // namespace roofline
