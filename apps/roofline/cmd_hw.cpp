// roofline hw list | hw show NAME: the hardware registry with provenance.
#include <iostream>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/hardware.hpp"
#include "roofline/units.hpp"

namespace roofline::cli {
namespace {

std::string sourced_text(const Sourced& s, const std::string& value) {
  return value + "  [" + std::string(to_string(s.provenance)) + ": " + s.source + "]";
}

void show(const HardwareSpec& hw) {
  const Capabilities& c = hw.capabilities;
  std::cout << hw.display_name << " (" << hw.name << ", " << hw.file << ")\n";
  std::cout << "  architecture        " << to_string(hw.architecture) << ", compute capability "
            << c.compute_capability_major << "." << c.compute_capability_minor << "\n";
  std::cout << "  tensor instructions " << (c.mma_sync ? "mma.sync " : "") << (c.wgmma ? "wgmma " : "")
            << (c.tcgen05 ? "tcgen05 " : "") << (c.tma ? "TMA" : "") << "\n";
  std::cout << "  native formats      fp8 " << (c.native_fp8 ? "yes" : "no") << ", fp4 " << (c.native_fp4 ? "yes" : "no")
            << ", int4 " << (c.int4_tensor ? "yes" : "no") << (c.unified_memory ? ", unified CPU+GPU memory" : "") << "\n";
  std::cout << "  memory              " << to_string(hw.memory_kind) << " "
            << sourced_text(hw.memory_capacity_bytes, format_bytes(hw.memory_capacity_bytes.value)) << "\n";
  std::cout << "  bandwidth           "
            << sourced_text(hw.memory_bandwidth_bytes_per_s, format_bytes_per_s(hw.memory_bandwidth_bytes_per_s.value)) << "\n";
  for (std::size_t i = 0; i < math_path_count; ++i) {
    const PeakRate& p = hw.peaks[i];
    std::string label(to_string(MathPath(i)));
    label.resize(20, ' ');
    if (!p.supported) {
      std::cout << "  " << label << "none\n";
      continue;
    }
    std::cout << "  " << label
              << sourced_text(p.dense_flop_per_s, format_flop_per_s(p.dense_flop_per_s.value) + " dense" +
                                                      (p.datasheet_sparse ? " (datasheet sparse / 2)" : ""))
              << "\n";
  }
  std::cout << "  SMs                 " << sourced_text(hw.sm_count, std::to_string(hw.sms())) << "\n";
  std::cout << "  L2                  "
            << (hw.l2_bytes ? sourced_text(*hw.l2_bytes, format_bytes(hw.l2_bytes->value)) : std::string("unpublished"))
            << "\n";
  std::cout << "  shared memory       " << sourced_text(hw.smem_per_sm_bytes, format_bytes(hw.smem_per_sm_bytes.value) + " per SM")
            << "\n                      "
            << sourced_text(hw.smem_per_block_bytes, format_bytes(hw.smem_per_block_bytes.value) + " per block") << "\n";
  std::cout << "  boost clock         "
            << (hw.boost_clock_hz ? sourced_text(*hw.boost_clock_hz, std::to_string(int(hw.boost_clock_hz->value / 1e6)) + " MHz")
                                  : std::string("unpublished"))
            << "\n";
  std::cout << "  power               " << sourced_text(hw.power_w, std::to_string(int(hw.power_w.value)) + " W") << "\n";
  std::cout << "  interconnect        "
            << sourced_text(hw.interconnect_bytes_per_s, format_bytes_per_s(hw.interconnect_bytes_per_s.value) + " per direction")
            << "\n";
  std::cout << "  ridge points        16-bit " << int(critical_intensity(hw, MathPath::tc_16bit)) << " FLOP/B";
  if (hw.peak(MathPath::tc_fp8).supported) std::cout << ", fp8 " << int(critical_intensity(hw, MathPath::tc_fp8)) << " FLOP/B";
  if (hw.peak(MathPath::tc_fp4).supported) std::cout << ", fp4 " << int(critical_intensity(hw, MathPath::tc_fp4)) << " FLOP/B";
  std::cout << "\n";
}

const bool registered = register_command(10, [](CLI::App& app, int&) {
  auto* hw = app.add_subcommand("hw", "the GPUs the library knows (hw_profiles/)");
  hw->require_subcommand(1);
  auto* list = hw->add_subcommand("list", "list the GPUs with their headline numbers");
  list->callback([] {
    const HardwareRegistry reg = HardwareRegistry::load_default();
    TextTable t({"name", "GPU", "arch", "memory", "bandwidth", "16-bit dense", "fp8 dense", "fp4 dense", "SMs"});
    for (const auto& [name, s] : reg.all()) {
      auto peak = [&](MathPath m) {
        return s.peak(m).supported ? format_flop_per_s(s.peak(m).dense_flop_per_s.value) +
                                         (s.peak(m).dense_flop_per_s.provenance == Provenance::inferred ? "*" : "")
                                   : std::string("-");
      };
      t.add({name, s.display_name,
             "sm_" + std::to_string(s.capabilities.compute_capability_major) +
                 std::to_string(s.capabilities.compute_capability_minor),
             format_bytes(s.capacity_bytes()), format_bytes_per_s(s.bandwidth_bytes_per_s()), peak(MathPath::tc_16bit),
             peak(MathPath::tc_fp8), peak(MathPath::tc_fp4), std::to_string(s.sms())});
    }
    t.print(std::cout);
    std::cout << "* inferred, not published (see `roofline hw show NAME` for every source)\n";
  });
  static std::string name;
  static HardwareChoice choice;
  auto* sh = hw->add_subcommand("show", "every number of one GPU with its source");
  sh->add_option("name", choice.name, "GPU name");
  sh->add_option("--hw-file", choice.file, "a hardware profile YAML file of your own")->check(CLI::ExistingFile);
  sh->callback([] {
    HardwareRegistry reg = HardwareRegistry::load_default();
    show(resolve_hardware(reg, choice));
  });
});

}  // namespace
}  // namespace roofline::cli
