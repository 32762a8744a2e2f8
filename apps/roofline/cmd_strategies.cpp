// roofline strategies list | strategies show NAME: the mixed-precision strategies (strategies/), their
// cited quality evidence, and with --hw how each operator runs on that GPU.
#include <algorithm>
#include <iostream>
#include <set>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/errors.hpp"
#include "roofline/mixed_precision.hpp"

namespace roofline::cli {
namespace {

std::string precision_or_dash(const std::optional<Precision>& p) { return p ? std::string(to_string(*p)) : "-"; }

// The distinct weight (or activation) precisions of the decoder linear layers, in order of appearance,
// outside the bands and then band by band: "fp8_e4m3", or "fp16, fp8_e4m3, nvfp4 by layer".
std::string decoder_summary(const MixedPrecisionConfig& c, bool weights) {
  std::vector<std::string> seen;
  auto note = [&](Precision p) {
    const std::string s(to_string(p));
    if (std::find(seen.begin(), seen.end(), s) == seen.end()) seen.push_back(s);
  };
  for (OperatorType t : strategy_linear_operators) {
    if (t == OperatorType::LM_HEAD) continue;
    const OpPrecision p = c.get_precision(t);
    note(weights ? p.weight : p.activation);
  }
  for (const StrategyBand& b : c.bands) {
    for (const auto& [op, spec] : b.operator_precisions) {
      if (weights && spec.weight) note(*spec.weight);
      if (!weights && spec.activation) note(*spec.activation);
    }
    if (!weights && b.default_activation_precision) note(*b.default_activation_precision);
  }
  std::string s;
  for (const std::string& x : seen) s += (s.empty() ? "" : ", ") + x;
  return seen.size() > 1 && !c.bands.empty() ? s + " by layer" : s;
}

void show(const MixedPrecisionConfig& c, const HardwareSpec* hw, FeasibilityPolicy policy) {
  std::cout << c.name << " (" << (c.file.empty() ? "built in" : c.file) << ")\n  " << c.description << "\n\n";
  TextTable ops({"operator", "weight", "activation"});
  for (OperatorType t : strategy_linear_operators) {
    const OpPrecision p = c.get_precision(t);
    ops.add({std::string(to_string(t)), std::string(to_string(p.weight)), std::string(to_string(p.activation))});
  }
  ops.add({"attention", "-", std::string(to_string(c.get_precision(OperatorType::ATTENTION).activation))});
  ops.print(std::cout);
  std::cout << "\n  KV cache            " << to_string(c.kv_cache_precision) << " (" << bytes_per_element(c.kv_cache_precision)
            << " B/element with scales)\n"
            << "  activation scaling  " << to_string(c.activation_scaling) << "\n"
            << "  quantisation        " << to_string(c.quantize_fusion) << "\n";
  for (std::size_t i = 0; i < c.bands.size(); ++i) {
    const StrategyBand& b = c.bands[i];
    std::cout << "  band " << i << "              " << b.layers << ":";
    if (b.default_activation_precision) std::cout << " activations " << to_string(*b.default_activation_precision) << ";";
    for (const auto& [op, spec] : b.operator_precisions)
      std::cout << " " << to_string(op) << " " << precision_or_dash(spec.weight) << "/" << precision_or_dash(spec.activation);
    std::cout << "\n";
  }
  std::cout << "\nQuality: " << c.quality.summary << "\n";
  for (const QualityEvidence& e : c.quality.evidence) {
    std::cout << "  - " << e.finding << "\n      " << e.model << "; " << e.scheme << "; " << e.metric;
    if (e.baseline) std::cout << ": " << *e.baseline << " -> " << *e.quantized;
    if (e.recovery_percent) std::cout << ": " << *e.recovery_percent << "% recovery";
    std::cout << "\n      " << e.source << ", " << e.locator << "\n";
  }
  if (!hw) return;
  const StrategyFeasibility f = check_strategy(c, *hw, policy);
  std::cout << "\nOn " << hw->name << " (policy " << to_string(policy) << "): "
            << (f.feasible ? "feasible" : "refused: " + f.reason) << "\n";
  TextTable t({"operator", "scope", "requested", "runs as", "math", "support"});
  for (const OperatorFeasibility& o : f.operators) {
    t.add({std::string(to_string(o.op)), o.scope,
           std::string(to_string(o.requested.weight)) + "/" + std::string(to_string(o.requested.activation)),
           std::string(to_string(o.effective.weight)) + "/" + std::string(to_string(o.effective.activation)),
           std::string(to_string(o.math)), std::string(to_string(o.support))});
  }
  t.print(std::cout);
  std::set<std::string> reasons;
  for (const OperatorFeasibility& o : f.operators)
    if (o.support != StrategySupport::native && reasons.insert(o.reason).second)
      std::cout << "  " << to_string(o.support) << ": " << o.reason << "\n";
}

const bool registered = register_command(25, [](CLI::App& app, int&) {
  auto* strategies = app.add_subcommand("strategies", "the mixed-precision strategies (strategies/)");
  strategies->require_subcommand(1);
  auto* list = strategies->add_subcommand("list", "list the shipped strategies");
  list->callback([] {
    const StrategyRegistry reg = StrategyRegistry::load_default();
    TextTable t({"name", "weights", "activations", "kv cache", "scaling", "quantise", "evidence"});
    for (const auto& [name, c] : reg.all()) {
      t.add({name, decoder_summary(c, true), decoder_summary(c, false), std::string(to_string(c.kv_cache_precision)),
             std::string(to_string(c.activation_scaling)), std::string(to_string(c.quantize_fusion)),
             std::to_string(c.quality.evidence.size()) + " sources"});
    }
    t.print(std::cout);
  });

  struct ShowOptions {
    std::string name;
    std::string file;
    HardwareChoice hw;
    std::string policy = "emulate";
  };
  static ShowOptions o;
  auto* show_cmd = strategies->add_subcommand("show", "one strategy: operators, bands, cited quality; with --hw, how it runs");
  show_cmd->add_option("name", o.name, "strategy name (see `roofline strategies list`)");
  show_cmd->add_option("--strategy-file", o.file, "a strategy YAML file of your own")->check(CLI::ExistingFile);
  add_hardware_options(show_cmd, o.hw);
  show_cmd->add_option("--policy", o.policy, "emulate (cost the fallback) or refuse (non-native is infeasible)")
      ->check(CLI::IsMember({"emulate", "refuse"}));
  show_cmd->callback([] {
    StrategyRegistry reg = StrategyRegistry::load_default();
    if (!o.name.empty() && !o.file.empty()) throw InvalidArgumentError("give either a strategy name or --strategy-file, not both");
    if (o.name.empty() && o.file.empty()) throw InvalidArgumentError("a strategy is required: NAME or --strategy-file FILE");
    const MixedPrecisionConfig& c = o.file.empty() ? reg.get(o.name) : reg.add_file(o.file);
    const HardwareSpec* hw = nullptr;
    HardwareRegistry hws;
    if (!o.hw.name.empty() || !o.hw.file.empty()) {
      hws = HardwareRegistry::load_default();
      hw = &resolve_hardware(hws, o.hw);
    }
    show(c, hw, parse_feasibility_policy(o.policy));
  });
});

}  // namespace
}  // namespace roofline::cli
