#include "roofline/html_report.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "detail/svg.hpp"
#include "roofline/units.hpp"

namespace roofline {

namespace {

std::string esc(std::string_view s) { return detail::xml_escape(s); }

std::string step_label(const StepReport& r) {
  const StepConfig& c = r.config;
  std::string s = std::string(to_string(c.phase)) + ", batch " + std::to_string(c.batch) + ", " +
                  (c.phase == Phase::decode ? "context " : "prompt ") + std::to_string(c.seq_len);
  return s;
}

std::string config_text(const StepReport& r) {
  const StepConfig& c = r.config;
  std::string s = "precision " + c.precision.name + " (KV " + std::string(to_string(c.precision.kv_cache)) +
                  "), attention " + std::string(to_string(c.attention));
  if (c.tensor_parallel > 1) s += ", tensor parallel " + std::to_string(c.tensor_parallel);
  return s;
}

std::string num(double v, const char* fmt = "%.3g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string precision_text(const Op& op) {
  if (op.kernel == KernelClass::gemm)
    return std::string(to_string(op.weight_precision)) + " / " + std::string(to_string(op.activation_precision));
  if (op.type == OperatorType::ATTENTION)
    return std::string(to_string(op.activation_precision)) + ", KV " + std::string(to_string(op.weight_precision));
  return std::string(to_string(op.activation_precision));
}

// Strips the XML declaration: inline SVG in HTML starts at <svg.
std::string inline_svg(const std::string& svg) {
  const std::size_t at = svg.find("<svg");
  return at == std::string::npos ? svg : svg.substr(at);
}

const char* const kCss = R"(
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #f6f6f4; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.55em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.2em; margin: 1.8em 0 0.5em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.02em; margin: 1.2em 0 0.4em; }
p, li { line-height: 1.45; }
.sub { color: #555; margin: 0 0 1em; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; min-width: 220px; flex: 1; }
.card .k { color: #555; font-size: 0.85em; }
.card .v { font-size: 1.35em; font-weight: bold; font-variant-numeric: tabular-nums; }
.card .d { color: #555; font-size: 0.85em; }
.bad { color: #b03a00; }
.ok { color: #00704f; }
.status { border-left: 4px solid #0072B2; background: #f0f6fa; padding: 8px 12px; }
.status.prior { border-color: #D55E00; background: #fcf2ec; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.88em; margin-top: 0.3em; }
table { border-collapse: collapse; font-size: 0.86em; width: 100%; }
th, td { padding: 3px 8px; text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th { background: #eee; border-bottom: 1px solid #ccc; }
th:first-child, td:first-child, td.l, th.l { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
td.share { min-width: 120px; }
.bar { display: inline-block; height: 9px; background: #0072B2; vertical-align: middle; margin-right: 6px; }
.note { color: #555; font-size: 0.88em; }
footer { color: #777; font-size: 0.8em; margin-top: 2.5em; }
)";

void summary_cards(std::ostringstream& os, const StepReport& r) {
  const StepPrediction& p = r.prediction;
  os << "<div class=\"cards\">\n";
  os << "<div class=\"card\"><div class=\"k\">time per step</div><div class=\"v\">" << esc(format_time_s(p.time_s))
     << "</div><div class=\"d\">interval " << esc(format_time_s(p.interval_low_s)) << " to "
     << esc(format_time_s(p.interval_high_s)) << "</div></div>\n";
  os << "<div class=\"card\"><div class=\"k\">throughput</div><div class=\"v\">" << num(p.tokens_per_s, "%.0f")
     << " tokens/s</div><div class=\"d\">" << esc(format_flops(p.flops)) << ", " << esc(format_bytes(p.bytes))
     << " moved per step</div></div>\n";
  os << "<div class=\"card\"><div class=\"k\">memory on one GPU</div><div class=\"v " << (p.fits ? "ok" : "bad") << "\">"
     << esc(format_bytes(p.memory.total_bytes())) << " of " << esc(format_bytes(p.memory_capacity_bytes))
     << "</div><div class=\"d\">weights " << esc(format_bytes(p.memory.weights_bytes)) << ", KV cache "
     << esc(format_bytes(p.memory.kv_cache_bytes)) << ", activations " << esc(format_bytes(p.memory.activations_bytes))
     << (p.fits ? "" : "<br/><span class=\"bad\">does not fit: " + esc(p.infeasible_reason) + "</span>")
     << "</div></div>\n";
  os << "</div>\n";
}

void operator_table(std::ostringstream& os, const StepReport& r) {
  const StepPrediction& p = r.prediction;
  os << "<table class=\"operators\">\n<thead><tr><th>operator</th><th>×</th><th class=\"l\">kernel</th>"
        "<th class=\"l\">precision</th><th class=\"l\">math</th><th>FLOP</th><th>bytes</th><th>FLOP/B</th>"
        "<th class=\"l\">bound</th><th>time</th><th>interval</th><th class=\"l\">share</th></tr></thead>\n<tbody>\n";
  for (const OpPrediction& o : p.ops) {
    const Op& op = o.op;
    const Prediction& q = o.prediction;
    const double share = p.time_s > 0 ? o.total_s() / p.time_s : 0;
    os << "<tr><td>" << esc(op_label(op)) << "</td><td>" << op.instances << "</td><td class=\"l\">"
       << esc(to_string(op.kernel)) << "</td><td class=\"l\">" << esc(precision_text(op))
       << (op.support == Support::emulated ? " (emulated)" : "") << "</td><td class=\"l\">" << esc(to_string(op.math))
       << "</td><td>" << num(op.flops * op.instances) << "</td><td>" << num(op.bytes.total() * op.instances)
       << "</td><td>" << num(q.intensity_flop_per_byte, "%.1f") << "</td><td class=\"l\">" << esc(to_string(q.bound))
       << "</td><td>" << esc(format_time_s(o.total_s())) << "</td><td>"
       << esc(format_time_s(q.interval_low_s * op.instances)) << " – "
       << esc(format_time_s(q.interval_high_s * op.instances)) << "</td><td class=\"l share\"><span class=\"bar\" style=\"width:"
       << num(100 * share, "%.1f") << "px\"></span>" << num(100 * share, "%.1f") << "%</td></tr>\n";
  }
  os << "</tbody>\n</table>\n";
  std::set<std::string> notes;
  for (const OpPrediction& o : p.ops)
    if (!o.op.note.empty()) notes.insert(std::string(to_string(o.op.type)) + ": " + o.op.note);
  for (const std::string& n : notes) os << "<p class=\"note\">" << esc(n) << "</p>\n";
}

void calibration_section(std::ostringstream& os, const HtmlReport& report) {
  os << "<h2 id=\"calibration\">Calibration of the GPU</h2>\n";
  const std::string status = report.calibration ? report.calibration->status()
                                                : (report.steps.empty() ? "" : report.steps.front().prediction.calibration_status);
  const bool prior = status.rfind("prior", 0) == 0;
  os << "<p class=\"status" << (prior ? " prior" : "") << "\"><strong>" << esc(status) << "</strong>";
  if (report.calibration && !report.calibration->source_file().empty())
    os << "<br/>from <code>" << esc(report.calibration->source_file()) << "</code>";
  os << "</p>\n";
  os << "<p>Every time above is <em>roofline time ÷ efficiency + fixed cost per kernel</em>, with one set of "
        "parameters per kernel class and math path (and attention kernel). <strong>measured</strong> parameters were "
        "fitted to this GPU's measurements; <strong>transferred</strong> ones come from a measured GPU of the same "
        "architecture; <strong>inferred</strong> ones are documented priors, typically 40% or more off. The interval "
        "multiplies the prediction by the factors shown.</p>\n";
  if (!report.calibration) return;
  std::vector<ParamKey> keys;
  for (const StepReport& s : report.steps)
    for (const OpPrediction& o : s.prediction.ops) {
      const ParamKey k = param_key(o.op);
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  os << "<table class=\"calibration\">\n<thead><tr><th>parameters of</th><th class=\"l\">provenance</th><th>records</th>"
        "<th>held-out median error</th><th>interval</th><th>memory eff.</th><th>compute eff.</th><th>fixed</th>"
        "</tr></thead>\n<tbody>\n";
  for (const ParamKey& k : keys) {
    const KernelParams& p = report.calibration->params(k);
    os << "<tr><td>" << esc(to_string(k)) << "</td><td class=\"l\">" << esc(to_string(p.provenance)) << "</td><td>"
       << p.records << "</td><td>"
       << (p.heldout_median_error_fraction >= 0 ? num(100 * p.heldout_median_error_fraction, "%.1f%%") : "unknown")
       << "</td><td>×" << num(p.interval_low_fraction, "%.2f") << " – ×" << num(p.interval_high_fraction, "%.2f")
       << "</td><td>" << num(p.memory_efficiency_fraction, "%.2f") << "</td><td>"
       << num(p.compute_efficiency_fraction, "%.2f") << "</td><td>" << esc(format_time_s(p.fixed_s)) << "</td></tr>\n";
  }
  os << "</tbody>\n</table>\n";
}

void figure(std::ostringstream& os, const std::string& id, const std::string& svg, const std::string& caption) {
  os << "<figure id=\"" << esc(id) << "\">\n" << inline_svg(svg) << "<figcaption>" << esc(caption)
     << "</figcaption>\n</figure>\n";
}

}  // namespace

HtmlReport html_report(std::vector<StepReport> steps, const Calibration& calibration, const MeasuredCeilings& measured) {
  HtmlReport r;
  r.calibration = calibration;
  if (!steps.empty()) {
    const StepReport& first = steps.front();
    r.title = first.model->display_name + " on " + first.hw->display_name;
    r.roofline = roofline_chart(*first.hw, first.model->display_name + " on " + first.hw->display_name + ": roofline");
    r.roofline.subtitle = "calibration: " + first.prediction.calibration_status;
    add_measured_ceilings(r.roofline, measured);
    for (const StepReport& s : steps) {
      add_step(r.roofline, s.prediction, s.config.phase);
      r.breakdown.push_back(step_breakdown(step_label(s), s.prediction));
    }
  }
  r.steps = std::move(steps);
  return r;
}

std::vector<StrategyResult> compare_strategies(const ModelConfig& model, const StepConfig& config,
                                               const HardwareSpec& hw, const Calibration& calibration,
                                               const StrategyRegistry& strategies, FeasibilityPolicy policy,
                                               std::vector<std::string>* refused) {
  std::vector<StrategyResult> out;
  for (const auto& [name, strategy] : strategies.all()) {
    const StrategyFeasibility f = check_strategy(strategy, hw, policy);
    if (!f.feasible) {
      if (refused) refused->push_back(name + ": " + f.reason);
      continue;
    }
    StepConfig c = config;
    c.precision = to_assignment(strategy, model, hw, policy);
    const StepPrediction p = predict_step(model, c, hw, calibration);
    StrategyResult r = strategy_result(name, p);
    std::set<std::string> reasons;
    for (const OperatorFeasibility& o : f.operators)
      if (o.support == StrategySupport::emulated) reasons.insert(o.reason);
    if (!reasons.empty()) {
      r.label += " (emulated)";
      std::string why;
      for (const std::string& reason : reasons) why += (why.empty() ? "" : "; ") + reason;
      r.note = r.note.empty() ? why : r.note + "; " + why;
    }
    r.highlighted = name == config.precision.name;
    out.push_back(std::move(r));
  }
  return out;
}

std::string render_html(const HtmlReport& report) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>"
     << esc(report.title) << "</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n<main>\n";
  os << "<h1>" << esc(report.title) << "</h1>\n";
  if (!report.steps.empty()) {
    const StepReport& s = report.steps.front();
    os << "<p class=\"sub\">" << esc(step_label(s)) << "; " << esc(config_text(s)) << ". Predicted by roofline "
       << "from the profile " << esc(s.hw->name) << " ("
       << esc(std::filesystem::path(s.hw->file).filename().string()) << ") and the model " << esc(s.model->name)
       << ".</p>\n";
  }
  os << "<p class=\"note\">Contents: ";
  os << "<a href=\"#summary\">summary</a>";
  if (report.recommendation) os << " · <a href=\"#recommendation\">recommendation</a>";
  os << " · <a href=\"#charts\">charts</a> · <a href=\"#operators\">operators</a> · "
        "<a href=\"#calibration\">calibration</a></p>\n";

  os << "<h2 id=\"summary\">Summary</h2>\n";
  for (const StepReport& s : report.steps) {
    os << "<h3>" << esc(step_label(s)) << "</h3>\n";
    summary_cards(os, s);
  }
  if (!report.steps.empty())
    os << "<p class=\"note\">calibration: " << esc(report.steps.front().prediction.calibration_status)
       << " (<a href=\"#calibration\">details</a>)</p>\n";

  if (report.recommendation) {
    os << "<h2 id=\"recommendation\">Recommendation</h2>\n<p><strong>" << esc(report.recommendation->headline)
       << "</strong></p>\n";
    if (!report.recommendation->reasoning.empty()) {
      os << "<ol class=\"reasoning\">\n";
      for (const std::string& r : report.recommendation->reasoning) os << "<li>" << esc(r) << "</li>\n";
      os << "</ol>\n";
    }
  }

  os << "<h2 id=\"charts\">Charts</h2>\n";
  if (!report.roofline.points.empty())
    figure(os, "chart-roofline", render_svg(report.roofline),
           "Roofline: each operator at its arithmetic intensity (FLOPs per byte of memory traffic) and the FLOP/s it "
           "attains in the prediction (FLOPs ÷ predicted time). Points on the sloped roof are memory-bound, points on "
           "a ceiling compute-bound, points far below both are dominated by fixed per-kernel costs. Hover a point for "
           "its numbers.");
  if (!report.breakdown.empty())
    figure(os, "chart-breakdown", render_breakdown_svg(report.breakdown, BarScale::share, "Where the time goes"),
           "Share of each step's predicted time by operator class; the total with its interval at the right.");
  if (!report.strategies.empty())
    figure(os, "chart-strategies",
           render_strategy_svg(report.strategies, report.strategies_title.empty() ? "Strategies" : report.strategies_title),
           "Predicted time per step (bar) with its interval (whisker), and memory on one GPU against its capacity.");
  if (!report.attention.empty())
    figure(os, "chart-attention",
           render_attention_svg(report.attention,
                                report.attention_title.empty() ? "Attention kernels" : report.attention_title, ""),
           "Predicted time of one attention call over context length, per kernel, with its interval shaded.");

  os << "<h2 id=\"operators\">Operators</h2>\n";
  for (const StepReport& s : report.steps) {
    os << "<h3>" << esc(step_label(s)) << "</h3>\n";
    operator_table(os, s);
  }
  calibration_section(os, report);
  if (!report.notes.empty()) {
    os << "<h2 id=\"notes\">Notes</h2>\n<ul>\n";
    for (const std::string& n : report.notes) os << "<li>" << esc(n) << "</li>\n";
    os << "</ul>\n";
  }
  os << "<footer>Written by roofline. A self-contained file: inline CSS and SVG, no scripts, nothing fetched."
        "</footer>\n</main>\n</body>\n</html>\n";
  return os.str();
}

}  // namespace roofline
