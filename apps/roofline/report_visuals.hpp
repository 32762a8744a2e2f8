// `roofline report --svg FILE --html FILE`: the roofline chart as SVG and the self-contained HTML report
// of a step, with the other phase at the same length and batch beside it, measured ceilings from records.
#pragma once

#include <string>

#include "roofline/calibration.hpp"
#include "roofline/hardware.hpp"
#include "roofline/model.hpp"
#include "roofline/report.hpp"

namespace CLI {
class App;
}

namespace roofline::cli {

struct VisualOptions {
  std::string svg;
  std::string html;
  std::string records;
  bool no_records = false;
  bool measured_kernels = false;
};

/// Adds --svg, --html, --records, --no-records and --measured-kernels to `report`.
void add_visual_options(CLI::App* app, VisualOptions& o);

/// Writes the files asked for (nothing when neither --svg nor --html is given).
void write_visuals(const VisualOptions& o, const StepReport& requested, const Calibration& calibration,
                   const ModelRegistry& models);

}  // namespace roofline::cli
