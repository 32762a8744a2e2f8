// Rendering a step prediction as a per-operator report: a text table, JSON or CSV. The JSON form is the
// machine-readable contract of `roofline report --format json` (docs/formats.md).
#pragma once

#include <string>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/operators.hpp"
#include "roofline/roofline.hpp"

namespace roofline {

enum class ReportFormat : std::uint8_t { table, json, csv };
ReportFormat parse_report_format(std::string_view s);  ///< "table", "json", "csv"; throws UnknownNameError

struct StepReport {
  const ModelConfig* model = nullptr;
  const HardwareSpec* hw = nullptr;
  StepConfig config;
  StepPrediction prediction;
};

/// The per-operator table (FLOPs, bytes, intensity, bound, time, share) and totals (time per step with
/// its interval, tokens/s, weight and KV memory, whether it fits).
std::string render_report(const StepReport& report, ReportFormat format);

}  // namespace roofline
