// roofline predict: batch prediction of JSON Lines workloads (docs/measurement-records.md, "Workloads").
#include <fstream>
#include <iostream>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"
#include "roofline/workload.hpp"

namespace roofline::cli {
namespace {

struct PredictOptions {
  HardwareChoice hw;
  std::string workloads;
};

const bool registered = register_command(40, [](CLI::App& app, int& exit_code) {
  static PredictOptions o;
  auto* sub = app.add_subcommand("predict", "predict JSON Lines workloads (gemm, attention, model_step, ...): one JSON "
                                            "object out per line in, {predicted_s, bound, interval_s}");
  add_hardware_options(sub, o.hw);
  sub->add_option("--workloads", o.workloads, "JSON Lines file of workloads, or - for standard input")->required();
  sub->callback([&exit_code] {
    HardwareRegistry hws = HardwareRegistry::load_default();
    const ModelRegistry models = ModelRegistry::load_default();
    const HardwareSpec& hw = resolve_hardware(hws, o.hw);
    const Calibration cal = calibration_for(hw, hws);
    std::ifstream file;
    std::istream* in = &std::cin;
    if (o.workloads != "-") {
      file.open(o.workloads, std::ios::binary);
      if (!file) throw ConfigError({o.workloads, 0, 0}, "", "cannot open workload file");
      in = &file;
    }
    std::ios::sync_with_stdio(false);
    const std::string name = o.workloads == "-" ? "<stdin>" : o.workloads;
    std::string line, answer, out;
    out.reserve(1 << 16);
    int n = 0;
    bool failed = false;
    while (std::getline(*in, line)) {
      if (!predict_line(line, name, ++n, hw, cal, models, answer)) failed = true;
      out += answer;
      out += '\n';
      if (out.size() > (1 << 16)) {
        std::cout << out;
        out.clear();
      }
    }
    std::cout << out << std::flush;
    exit_code = failed ? exit_partial : exit_ok;
  });
});

}  // namespace
}  // namespace roofline::cli
