// roofline models list: the shipped model shapes.
#include <cstdio>
#include <iostream>

#include "cli_common.hpp"
#include "command.hpp"
#include "roofline/model.hpp"

namespace roofline::cli {
namespace {

const bool registered = register_command(20, [](CLI::App& app, int&) {
  auto* models = app.add_subcommand("models", "the model shapes the library knows (models/)");
  models->require_subcommand(1);
  auto* list = models->add_subcommand("list", "list the shipped models");
  list->callback([] {
    const ModelRegistry reg = ModelRegistry::load_default();
    TextTable t({"name", "model", "params", "active", "layers", "hidden", "heads", "kv heads", "head dim", "ffn", "vocab",
                 "experts"});
    for (const auto& [name, m] : reg.all()) {
      char p[32], a[32];
      std::snprintf(p, sizeof p, "%.2fB", parameter_count(m) / 1e9);
      std::snprintf(a, sizeof a, "%.2fB", active_parameter_count(m) / 1e9);
      t.add({name, m.display_name, p, a, std::to_string(m.num_layers), std::to_string(m.hidden_size),
             std::to_string(m.num_attention_heads), std::to_string(m.num_kv_heads), std::to_string(m.head_dim),
             std::to_string(m.ffn_size), std::to_string(m.vocab_size),
             m.moe.enabled() ? std::to_string(m.moe.num_experts) + " top-" + std::to_string(m.moe.experts_per_token) : "-"});
    }
    t.print(std::cout);
  });
});

}  // namespace
}  // namespace roofline::cli
