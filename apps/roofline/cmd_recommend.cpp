// roofline recommend: the integrated quantisation engine's choice for one workload, with its reasons.
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/calibration.hpp"
#include "roofline/engine.hpp"
#include "roofline/errors.hpp"
#include "roofline/units.hpp"

namespace roofline::cli {
namespace {

struct RecommendOptions {
  HardwareChoice hw;
  ModelChoice model;
  std::string inline_model;
  std::string phase = "decode";
  std::int64_t seq_len = 0;
  std::int64_t batch = 1;
  std::string objective = "latency";
  double quality_budget = 1.0;
  bool static_scaling = false;
  bool adaptive = false;
  std::vector<std::string> strategy_files;
  std::string format = "table";
  int show = 10;
};

// "H=4096,L=32,nh=32,nkv=8,dh=128,dff=14336" -> the seed's inline model.
std::map<std::string, std::int64_t> parse_inline(const std::string& text) {
  std::map<std::string, std::int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw InvalidArgumentError("--inline: expected KEY=VALUE, got '" + item + "'");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size()) throw InvalidArgumentError("--inline: " + key + ": not an integer: '" + value + "'");
    out[key] = v;
  }
  return out;
}

std::string us(double v) { return format_time_s(v * 1e-6); }

std::string number(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string describe(const IntegratedQuantConfig& c) {
  return c.strategy_name + (c.adaptive_fallback ? " (adaptive)" : "") + ", kv " + std::string(to_string(c.kv_cache_precision)) +
         ", " + std::string(to_string(c.activation_scaling)) + ", " + std::string(to_string(c.attention_kernel));
}

nlohmann::json finite(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json to_json(const QuantizationRecommendation& r, const HardwareSpec& hw, const std::string& model) {
  nlohmann::json j;
  j["schema"] = "roofline.recommendation.v1";
  j["hw"] = hw.name;
  j["model"] = model;
  j["feasible"] = r.feasible;
  j["config"] = {{"strategy", r.config.strategy_name},
                 {"adaptive_fallback", r.config.adaptive_fallback},
                 {"kv_cache", to_string(r.config.kv_cache_precision)},
                 {"activation_scaling", to_string(r.config.activation_scaling)},
                 {"attention_kernel", to_string(r.config.attention_kernel)},
                 {"phase", to_string(r.config.phase)},
                 {"seq_len", r.config.seq_len},
                 {"batch", r.config.batch}};
  j["fa_config"] = {{"version", to_string(r.fa_config.version)},
                    {"qkv_precision", to_string(r.fa_config.qkv_precision)},
                    {"kv_cache_precision", to_string(r.fa_config.kv_cache_precision)},
                    {"use_native_fp8", r.fa_config.use_native_fp8}};
  j["predicted_speedup"] = r.predicted_speedup;
  j["predicted_time_us"] = r.predicted_time_us;
  j["interval_us"] = {r.interval_low_us, r.interval_high_us};
  j["baseline_time_us"] = r.baseline_time_us;
  j["tokens_per_s"] = r.tokens_per_s;
  j["memory_bytes"] = r.memory_bytes;
  j["memory_savings_pct"] = r.memory_savings_pct;
  j["kv_cache_bytes"] = r.kv_cache_bytes;
  j["expected_quality_loss"] = r.expected_quality_loss;
  j["measured_sqnr_db"] = finite(r.quality.measured_sqnr_db);
  j["cited_loss_percent"] = r.quality.cited_loss_percent ? nlohmann::json(*r.quality.cited_loss_percent) : nlohmann::json(nullptr);
  j["confidence"] = r.confidence;
  j["confidence_reason"] = r.confidence_reason;
  j["reason"] = r.reason;
  j["dominant_bottleneck"] = r.dominant_bottleneck;
  j["calibration"] = r.calibration_status;
  j["bottleneck_analysis"] = nlohmann::json::array();
  for (const OperatorBottleneck& b : r.bottleneck_analysis)
    j["bottleneck_analysis"].push_back({{"op", b.op},
                                        {"bound", to_string(b.bound)},
                                        {"time_s", b.time_s},
                                        {"time_share", b.time_share_fraction},
                                        {"intensity_flop_per_byte", b.intensity_flop_per_byte},
                                        {"ridge_flop_per_byte", b.ridge_flop_per_byte}});
  j["candidates"] = nlohmann::json::array();
  for (const CandidateEvaluation& c : r.candidates)
    j["candidates"].push_back({{"strategy", c.config.strategy_name},
                               {"adaptive_fallback", c.config.adaptive_fallback},
                               {"kv_cache", to_string(c.config.kv_cache_precision)},
                               {"activation_scaling", to_string(c.config.activation_scaling)},
                               {"attention_kernel", to_string(c.config.attention_kernel)},
                               {"status", c.status},
                               {"reason", c.reason},
                               {"time_s", c.time_s},
                               {"memory_bytes", c.memory_bytes},
                               {"quality", c.quality.text}});
  return j;
}

void print_table(const QuantizationRecommendation& r, const HardwareSpec& hw, const std::string& model, int show) {
  std::cout << "recommendation for " << model << " on " << hw.name << ", " << to_string(r.config.phase) << ", "
            << r.config.seq_len << " tokens, batch " << r.config.batch << "\n";
  if (!r.feasible) {
    std::cout << "  none: " << r.reason << "\n";
  } else {
    std::cout << "  strategy        " << r.config.strategy_name << (r.config.adaptive_fallback ? " (adaptive: 16-bit activations)" : "")
              << "\n  KV cache        " << to_string(r.config.kv_cache_precision) << "\n  scaling         "
              << to_string(r.config.activation_scaling) << "\n  attention       " << to_string(r.config.attention_kernel)
              << " (" << to_string(r.fa_config.version) << " class)\n  predicted       " << us(r.predicted_time_us)
              << " per step [" << us(r.interval_low_us) << ", " << us(r.interval_high_us) << "]\n  baseline        "
              << us(r.baseline_time_us) << " (fp16, " << to_string(default_attention_kernel(hw)) << ")\n  speedup         "
              << number(r.predicted_speedup, 2) << "x\n  tokens/s        " << number(r.tokens_per_s, 1)
              << "\n  memory          " << format_bytes(r.memory_bytes) << " (" << number(r.memory_savings_pct, 1)
              << "% less than the baseline), KV cache " << format_bytes(double(r.kv_cache_bytes))
              << "\n  quality         " << r.expected_quality_loss << "\n  confidence      " << r.confidence << ": "
              << r.confidence_reason << "\n  bottleneck      " << r.dominant_bottleneck << "\n\n" << r.reason << "\n\n";
    TextTable ops({"operator", "bound", "time", "share", "FLOP/B", "ridge FLOP/B"});
    for (const OperatorBottleneck& b : r.bottleneck_analysis)
      ops.add({b.op, std::string(to_string(b.bound)), format_time_s(b.time_s), percent(b.time_share_fraction),
               compact(b.intensity_flop_per_byte), compact(b.ridge_flop_per_byte)});
    ops.print(std::cout);
    std::cout << "\n";
  }
  TextTable cand({"candidate", "status", "time", "memory", "why"});
  int n = 0;
  std::map<std::string, int> hidden;
  for (const CandidateEvaluation& c : r.candidates) {
    if (n >= show && c.status != "refused") {
      ++hidden[c.status];
      continue;
    }
    ++n;
    std::string why = c.reason.empty() ? c.quality.text : c.reason;
    if (why.size() > 110) why = why.substr(0, 107) + "...";
    cand.add({describe(c.config), c.status, c.time_s > 0 ? format_time_s(c.time_s) : "-",
              c.memory_bytes > 0 ? format_bytes(c.memory_bytes) : "-", why});
  }
  cand.print(std::cout);
  for (const auto& [status, count] : hidden) std::cout << "  ... " << count << " more " << status << "\n";
}

const bool registered = register_command(35, [](CLI::App& app, int& exit_code) {
  static RecommendOptions o;
  auto* sub = app.add_subcommand("recommend", "the quantisation strategy, KV format and attention kernel to use for one "
                                              "workload, with the reasons and every rejected candidate");
  add_model_options(sub, o.model);
  sub->add_option("--inline", o.inline_model, "the seed's inline model: H=4096,L=32,nh=32,nkv=8,dh=128,dff=14336[,V=..]");
  add_hardware_options(sub, o.hw);
  sub->add_option("--phase", o.phase, "decode or prefill")->check(CLI::IsMember({"decode", "prefill"}));
  sub->add_option("--seq-len", o.seq_len, "decode: tokens in the KV cache; prefill: prompt length")->required();
  sub->add_option("--batch", o.batch, "sequences per step");
  sub->add_option("--objective", o.objective, "latency, throughput or memory")
      ->check(CLI::IsMember({"latency", "throughput", "memory"}));
  sub->add_option("--quality-budget", o.quality_budget, "largest accepted relative accuracy loss in percent (default 1)");
  sub->add_flag("--static-scaling", o.static_scaling, "no dynamic activation scaling (the seed's enable_dynamic=False)");
  sub->add_flag("--adaptive", o.adaptive, "also consider each strategy with 16-bit activations (enable_adaptive)");
  sub->add_option("--strategy-file", o.strategy_files, "add a strategy YAML file of your own (repeatable)")
      ->check(CLI::ExistingFile);
  sub->add_option("--format", o.format, "table or json")->check(CLI::IsMember({"table", "json"}));
  sub->add_option("--show", o.show, "candidates listed in the table (refusals always)");
  sub->callback([&exit_code] {
    HardwareRegistry hws = HardwareRegistry::load_default();
    ModelRegistry models = ModelRegistry::load_default();
    const HardwareSpec& hw = resolve_hardware(hws, o.hw);
    const bool inline_form = !o.inline_model.empty();
    if (inline_form && (!o.model.name.empty() || !o.model.file.empty()))
      throw InvalidArgumentError("give either --inline or --model/--model-file, not both");
    const ModelConfig model = inline_form ? model_from_inline(parse_inline(o.inline_model)) : resolve_model(models, o.model);
    StrategyRegistry strategies = StrategyRegistry::load_default();
    for (const std::string& f : o.strategy_files) strategies.add_file(f);
    const IntegratedQuantizationEngine engine(hw, calibration_for(hw, hws), std::move(strategies),
                                              QuantErrorTable::measured());
    const QuantizationRecommendation r =
        engine.recommend(model, parse_phase(o.phase), o.seq_len, o.batch, !o.static_scaling, o.adaptive,
                         parse_objective(o.objective), o.quality_budget);
    if (o.format == "json") std::cout << to_json(r, hw, model.name).dump(2) << "\n";
    else print_table(r, hw, model.name, o.show);
    exit_code = r.feasible ? exit_ok : exit_partial;
  });
});

}  // namespace
}  // namespace roofline::cli
