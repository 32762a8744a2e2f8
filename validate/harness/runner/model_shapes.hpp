// The shapes the suites sweep, taken from the shipped models (models/*.yaml through roofline::ModelRegistry):
// every distinct linear layer (N, K) and the hidden, FFN, KV and vocabulary sizes.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace roofline::validate::runner {

struct LinearShape {
  std::int64_t n = 0;  ///< out_features
  std::int64_t k = 0;  ///< in_features
  std::vector<std::string> uses;  ///< "llama3-8b/q_proj", ...
  bool operator<(const LinearShape& o) const { return std::pair(n, k) < std::pair(o.n, o.k); }
};

struct ModelShapes {
  std::vector<std::string> models;
  std::vector<LinearShape> linear;            ///< distinct (N, K), sorted
  std::set<std::int64_t> hidden;              ///< hidden sizes
  std::set<std::int64_t> ffn;                 ///< FFN (per expert) sizes
  std::set<std::int64_t> kv_width;            ///< num_kv_heads · head_dim
  std::map<std::int64_t, std::int64_t> vocab_for_hidden;  ///< largest vocabulary per hidden size
};

/// One GEMM shape y[M,N] = x[M,K]·W[N,K]ᵀ.
struct GemmDims {
  std::int64_t m = 0, n = 0, k = 0;
  bool operator==(const GemmDims&) const = default;
};

/// The held-out GEMM shapes: M = round(exp(u·ln 16384)) in [1, 16384]; N and K = 64·round(exp(ln 4 +
/// u·ln 128)) in [256, 32768]; u from splitmix64(seed, i), so the list is the same on every platform.
std::vector<GemmDims> holdout_gemm_shapes(int count, std::uint64_t seed);

/// Loads the shipped models (roofline::ModelRegistry::load_default()); `only`, when not empty, keeps those
/// models (an unknown name throws roofline::UnknownNameError). Throws roofline::Error when the registry
/// cannot be loaded.
ModelShapes load_model_shapes(const std::vector<std::string>& only = {});

}  // namespace roofline::validate::runner
