// roofline report: the per-operator roofline of one forward step.
#include <iostream>
#include <map>

#include "cli_common.hpp"
#include "command.hpp"
#include "report_visuals.hpp"
#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"
#include "roofline/io.hpp"
#include "roofline/mixed_precision.hpp"
#include "roofline/report.hpp"

namespace roofline::cli {
namespace {

struct ReportOptions {
  HardwareChoice hw;
  ModelChoice model;
  std::string phase = "decode";
  std::int64_t seq_len = 0;
  std::int64_t batch = 1;
  std::string weights = "bf16";
  std::string activations;
  std::string kv_cache = "bf16";
  std::string strategy;
  std::string strategy_file;
  std::string policy;
  std::string attention = "fa2";
  std::int64_t tensor_parallel = 1;
  std::string format = "table";
  std::string out;
  VisualOptions visuals;
};

const bool registered = register_command(30, [](CLI::App& app, int&) {
  static ReportOptions o;
  auto* sub = app.add_subcommand("report", "per-operator roofline of one forward step (prefill or decode)");
  add_model_options(sub, o.model);
  add_hardware_options(sub, o.hw);
  sub->add_option("--phase", o.phase, "decode (one token per sequence) or prefill (the whole prompt)")
      ->check(CLI::IsMember({"decode", "prefill"}));
  sub->add_option("--seq-len", o.seq_len, "decode: tokens already in the KV cache; prefill: prompt length")->required();
  sub->add_option("--batch", o.batch, "sequences per step");
  sub->add_option("--weights", o.weights, "weight precision of every linear layer (bf16, fp8_e4m3, int4, nvfp4, ...)");
  sub->add_option("--activations", o.activations, "activation precision of the linear layers (default: fp8 for fp8 "
                                                   "weights, else bf16)");
  auto* weights = sub->get_option("--weights");
  auto* activations = sub->get_option("--activations");
  auto* kv = sub->add_option("--kv-cache", o.kv_cache, "KV-cache precision");
  sub->add_option("--strategy", o.strategy, "a mixed-precision strategy (see `roofline strategies list`) instead of "
                                             "--weights/--activations/--kv-cache");
  sub->add_option("--strategy-file", o.strategy_file, "a strategy YAML file of your own")->check(CLI::ExistingFile);
  sub->add_option("--policy", o.policy, "for a strategy: emulate (default: cost the fallback where the GPU lacks a unit) "
                                        "or refuse (such a strategy is an error)")
      ->check(CLI::IsMember({"emulate", "refuse"}));
  sub->add_option("--attention", o.attention, "attention kernel: fa2, fa3, cudnn, fa1, fa4, unfused, ...");
  sub->add_option("--tp", o.tensor_parallel, "tensor-parallel degree");
  sub->add_option("--format", o.format, "table, json or csv")->check(CLI::IsMember({"table", "json", "csv"}));
  sub->add_option("--out", o.out, "write the report to this file (atomically) instead of standard output");
  add_visual_options(sub, o.visuals);
  sub->callback([weights, activations, kv] {
    HardwareRegistry hws = HardwareRegistry::load_default();
    ModelRegistry models = ModelRegistry::load_default();
    const HardwareSpec& hw = resolve_hardware(hws, o.hw);
    const ModelConfig& model = resolve_model(models, o.model);
    StepConfig c;
    c.phase = parse_phase(o.phase);
    c.batch = o.batch;
    c.seq_len = o.seq_len;
    const bool strategy = !o.strategy.empty() || !o.strategy_file.empty();
    if (!o.strategy.empty() && !o.strategy_file.empty())
      throw InvalidArgumentError("give either --strategy or --strategy-file, not both");
    if (strategy && (weights->count() || activations->count() || kv->count()))
      throw InvalidArgumentError("give either a strategy (--strategy, --strategy-file) or --weights/--activations/--kv-cache, "
                                 "not both");
    if (!strategy && !o.policy.empty()) throw InvalidArgumentError("--policy applies to --strategy or --strategy-file only");
    if (strategy) {
      StrategyRegistry strategies = StrategyRegistry::load_default();
      const MixedPrecisionConfig& s = o.strategy_file.empty() ? strategies.get(o.strategy) : strategies.add_file(o.strategy_file);
      const FeasibilityPolicy policy = parse_feasibility_policy(o.policy.empty() ? "emulate" : o.policy);
      const StrategyFeasibility f = check_strategy(s, hw, policy);
      if (!f.feasible)
        throw InvalidArgumentError("strategy '" + s.name + "' is refused on " + hw.name + " (policy refuse): " + f.reason);
      // What runs differently from what the strategy asks: one note per reason, on stderr (the report stays clean).
      std::map<std::string, std::string> emulated;  // reason -> operators
      for (const OperatorFeasibility& e : f.operators)
        if (e.support == StrategySupport::emulated)
          emulated[e.reason] += (emulated[e.reason].empty() ? "" : ", ") + std::string(to_string(e.op)) + " (" + e.scope + ")";
      for (const auto& [reason, ops] : emulated)
        std::cerr << "roofline: note: strategy " << s.name << " on " << hw.name << ": " << ops << " emulated: " << reason << "\n";
      c.precision = to_assignment(s, model, hw, policy);
    } else {
      const Precision w = parse_precision(o.weights);
      Precision a = Precision::bf16;
      if (!o.activations.empty()) a = parse_precision(o.activations);
      else if (w == Precision::fp8_e4m3 || w == Precision::fp8_e5m2) a = w;
      c.precision = PrecisionAssignment::uniform(w, a, parse_precision(o.kv_cache));
    }
    c.attention = parse_attention_kernel(o.attention);
    c.tensor_parallel = o.tensor_parallel;
    const Calibration cal = calibration_for(hw, hws);
    StepReport r{&model, &hw, c, predict_step(model, c, hw, cal)};
    for (const OpPrediction& o : r.prediction.ops)  // a kernel the GPU cannot run: refuse, with the reason
      if (o.op.support == Support::unsupported) throw InvalidArgumentError(std::string(to_string(o.op.type)) + ": " + o.op.note);
    write_visuals(o.visuals, r, cal, models);  // first: bad --records fail before anything is printed
    const std::string text = render_report(r, parse_report_format(o.format));
    if (o.out.empty()) std::cout << text;
    else write_file_atomically(o.out, text);
  });
});

}  // namespace
}  // namespace roofline::cli
