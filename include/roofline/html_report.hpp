// The HTML report: one self-contained file (inline CSS and SVG; no scripts, no fonts, no images or links
// to fetch) with the charts, the per-operator tables, the recommendation with its reasoning when there is
// one, and the calibration status of the GPU: which parameters are measured, transferred or priors, and
// how far off they were on measurements the fit never saw.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "roofline/charts.hpp"
#include "roofline/mixed_precision.hpp"
#include "roofline/report.hpp"
#include "roofline/roofline.hpp"

namespace roofline {

/// A recommendation in words, from whatever produced it (the quantisation engine).
struct ReportRecommendation {
  std::string headline;                ///< e.g. "fp8_e4m3 weights, FA3: 1.6x faster than bf16"
  std::vector<std::string> reasoning;  ///< one sentence per entry
  bool operator==(const ReportRecommendation&) const = default;
};

struct HtmlReport {
  std::string title;
  std::vector<StepReport> steps;  ///< the requested step first; each gets a summary and an operator table
  std::optional<Calibration> calibration;  ///< the parameters the steps were predicted with
  RooflineChart roofline;                  ///< drawn when it has points
  std::vector<StepBreakdown> breakdown;    ///< drawn when not empty
  std::vector<StrategyResult> strategies;  ///< drawn when not empty
  std::string strategies_title;
  std::vector<KernelSeries> attention;     ///< drawn when not empty
  std::string attention_title;
  std::optional<ReportRecommendation> recommendation;
  std::vector<std::string> notes;          ///< shown at the end
};

/// A report for `steps` (requested first): the roofline chart of all their operators on the first step's
/// GPU with `measured` ceilings added, and the time-per-class breakdown. Strategies, the attention
/// comparison and the recommendation are left for the caller to add.
HtmlReport html_report(std::vector<StepReport> steps, const Calibration& calibration,
                       const MeasuredCeilings& measured = {});

/// The step of `config` predicted once per strategy of `strategies` (phase, batch, length, attention
/// kernel and tensor parallelism as in `config`; precisions from the strategy as it runs on `hw` under
/// `policy`). A strategy that parts of `hw` cannot run natively is labelled "(emulated)" with the reason
/// in its note; one refused under policy refuse is left out and named in `refused`. The strategy whose
/// name equals config.precision.name is highlighted.
std::vector<StrategyResult> compare_strategies(const ModelConfig& model, const StepConfig& config,
                                               const HardwareSpec& hw, const Calibration& calibration,
                                               const StrategyRegistry& strategies,
                                               FeasibilityPolicy policy = FeasibilityPolicy::emulate,
                                               std::vector<std::string>* refused = nullptr);

/// The document: <!DOCTYPE html> ... with every chart inline. Text is escaped; nothing is fetched.
std::string render_html(const HtmlReport& report);

}  // namespace roofline
