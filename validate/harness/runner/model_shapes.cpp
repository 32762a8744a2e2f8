#include "runner/model_shapes.hpp"

#include <algorithm>
#include <cmath>

#include "roofline/model.hpp"

namespace roofline::validate::runner {

namespace {
double unit(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t x = seed * 0x2545F4914F6CDD1Dull + i + 0x9E3779B97F4A7C15ull;  // splitmix64
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);
}
}  // namespace

std::vector<GemmDims> holdout_gemm_shapes(int count, std::uint64_t seed) {
  std::vector<GemmDims> out;
  for (int i = 0; i < count; ++i) {
    const double um = unit(seed, 3 * i), un = unit(seed, 3 * i + 1), uk = unit(seed, 3 * i + 2);
    const auto m = static_cast<std::int64_t>(std::llround(std::exp(um * std::log(16384.0))));
    const auto jn = static_cast<std::int64_t>(std::llround(std::exp(std::log(4.0) + un * std::log(128.0))));
    const auto jk = static_cast<std::int64_t>(std::llround(std::exp(std::log(4.0) + uk * std::log(128.0))));
    out.push_back({std::clamp<std::int64_t>(m, 1, 16384), 64 * jn, 64 * jk});
  }
  return out;
}

ModelShapes load_model_shapes(const std::vector<std::string>& only) {
  const ModelRegistry registry = ModelRegistry::load_default();
  ModelShapes out;
  for (const std::string& name : only) registry.get(name);  // UnknownNameError listing the known models
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::string>> linear;
  for (const std::string& name : registry.names()) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    const ModelConfig& m = registry.get(name);
    out.models.push_back(name);
    for (const LinearLayer& l : linear_layers(m)) linear[{l.out_features, l.in_features}].push_back(name + "/" + l.name);
    out.hidden.insert(m.hidden_size);
    out.ffn.insert(m.ffn_size);
    out.kv_width.insert(m.kv_width());
    if (m.vocab_size > 0) {
      auto& v = out.vocab_for_hidden[m.hidden_size];
      v = std::max(v, m.vocab_size);
    }
  }
  for (auto& [nk, uses] : linear) out.linear.push_back(LinearShape{nk.first, nk.second, uses});
  return out;
}

}  // namespace roofline::validate::runner
