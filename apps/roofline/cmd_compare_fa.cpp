// roofline compare-fa: FlashAttention generations, the unfused path and the seeds' quantised attention
// kernels for one attention shape on one GPU (refusals with their reasons).
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"
#include "roofline/units.hpp"

namespace roofline::cli {
namespace {

struct CompareOptions {
  HardwareChoice hw;
  std::string phase = "prefill";
  std::int64_t batch = 1;
  std::int64_t heads = 32;
  std::int64_t kv_heads = 0;
  std::int64_t seq_len = 0;
  std::int64_t head_dim = 128;
  bool non_causal = false;
  bool variants = false;
  double skip = 0;
  std::string format = "table";
};

const bool registered = register_command(36, [](CLI::App& app, int&) {
  static CompareOptions o;
  auto* sub = app.add_subcommand("compare-fa", "FlashAttention 1-4, cuDNN and the unfused path (and with --variants the "
                                               "seeds' q2fp8, fp8fp8 and SageAttention kernels) for one attention shape");
  add_hardware_options(sub, o.hw);
  sub->add_option("--phase", o.phase, "prefill (seq-len queries) or decode (one query, seq-len cached keys)")
      ->check(CLI::IsMember({"decode", "prefill"}));
  sub->add_option("--batch", o.batch, "sequences");
  sub->add_option("--heads", o.heads, "query heads");
  sub->add_option("--kv-heads", o.kv_heads, "key/value heads (default: --heads)");
  sub->add_option("--seq-len", o.seq_len, "tokens")->required();
  sub->add_option("--head-dim", o.head_dim, "head dimension");
  sub->add_flag("--non-causal", o.non_causal, "prefill without the causal mask");
  sub->add_flag("--variants", o.variants, "also the seeds' quantised kernels (q2fp8, fp8fp8 decode; Sage)");
  sub->add_option("--skip", o.skip, "fraction of K/V blocks the pruned decode kernels skip (0 to 0.99)");
  sub->add_option("--format", o.format, "table or json")->check(CLI::IsMember({"table", "json"}));
  sub->callback([] {
    HardwareRegistry hws = HardwareRegistry::load_default();
    const HardwareSpec& hw = resolve_hardware(hws, o.hw);
    AttentionShape s;
    s.batch = o.batch;
    s.q_heads = o.heads;
    s.kv_heads = o.kv_heads > 0 ? o.kv_heads : o.heads;
    const bool decode = o.phase == "decode";
    s.q_len = decode ? 1 : o.seq_len;
    s.kv_len = o.seq_len;
    s.head_dim = o.head_dim;
    s.causal = !decode && !o.non_causal;
    const FlashAttentionRoofline roofline(hw, calibration_for(hw, hws));
    const std::vector<FlashAttentionMetrics> rows = compare_fa_versions(roofline, s, o.variants, o.skip);
    if (o.format == "json") {
      nlohmann::json j;
      j["schema"] = "roofline.compare_fa.v1";
      j["hw"] = hw.name;
      j["shape"] = {{"batch", s.batch}, {"q_heads", s.q_heads}, {"kv_heads", s.kv_heads}, {"q_len", s.q_len},
                    {"kv_len", s.kv_len}, {"head_dim", s.head_dim}, {"causal", s.causal}};
      j["calibration"] = roofline.calibration().status();
      j["kernels"] = nlohmann::json::array();
      for (const FlashAttentionMetrics& m : rows) {
        nlohmann::json k = {{"name", m.name}, {"supported", m.supported}};
        if (!m.supported) {
          k["reason"] = m.reason;
        } else {
          k["predicted_time_s"] = m.predicted_time_s;
          k["interval_s"] = {m.interval_low_s, m.interval_high_s};
          k["bottleneck"] = m.bottleneck;
          k["arithmetic_intensity_flop_per_byte"] = m.arithmetic_intensity_flop_per_byte;
          k["flops"] = m.flops;
          k["executed_flops"] = m.executed_flops;
          k["hbm_bytes"] = m.hbm_bytes;
          k["block_q"] = m.cost.block_q;
          k["block_kv"] = m.cost.block_kv;
          k["ctas"] = m.cost.ctas;
          k["waves"] = m.cost.waves;
          k["splits"] = m.cost.splits;
          k["kernels"] = m.cost.kernels;
          k["notes"] = m.notes;
        }
        j["kernels"].push_back(k);
      }
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "attention on " << hw.name << ": batch " << s.batch << ", " << s.q_heads << "/" << s.kv_heads
              << " heads, " << s.q_len << " x " << s.kv_len << ", head_dim " << s.head_dim << (s.causal ? ", causal" : "")
              << "  (calibration: " << roofline.calibration().status() << ")\n";
    TextTable t({"kernel", "time", "TFLOP/s", "bound", "FLOP/B", "HBM bytes", "tiles", "CTAs", "waves", "splits"});
    std::vector<std::string> refused;
    for (const FlashAttentionMetrics& m : rows) {
      if (!m.supported) {
        refused.push_back(m.name + ": " + m.reason);
        continue;
      }
      t.add({m.name, format_time_s(m.predicted_time_s), compact(m.achieved_flop_per_s / 1e12), m.bottleneck,
             compact(m.arithmetic_intensity_flop_per_byte), format_bytes(m.hbm_bytes),
             m.cost.block_q > 0 ? std::to_string(m.cost.block_q) + "x" + std::to_string(m.cost.block_kv) : "-",
             std::to_string(m.cost.ctas), std::to_string(m.cost.waves), std::to_string(m.cost.splits)});
    }
    t.print(std::cout);
    for (const std::string& r : refused) std::cout << "refused  " << r << "\n";
  });
});

}  // namespace
}  // namespace roofline::cli
