// Per-element formulas of the attention test data (realistic and Gaussian), usable on the host and, under
// nvcc, on the device: the CPU generator (attention_data.cpp) and the GPU fill kernels of the timing runs
// evaluate the same formula, so large timing inputs are built on the GPU with the same structure as the
// CPU-checked ones (values agree to a few ulps: libm and CUDA's logf/cosf differ in the last bit).
// Counter-based: element (tensor, index) = splitmix64 hash of (seed, tensor, index) -> Box-Muller.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define ROOFLINE_HD __host__ __device__ inline
#else
#define ROOFLINE_HD inline
#endif

namespace roofline::validate::gen {

/// Tensor identifiers mixed into the hash (streams of independent random numbers).
enum Stream : std::uint32_t {
  stream_q = 1, stream_k = 2, stream_v = 3, stream_head_dir = 4, stream_group_dir = 5,
  stream_needle = 6, stream_outlier = 7, stream_outlier_sign = 8,
};

ROOFLINE_HD std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// 64 random bits for element `index` of stream `stream` under `seed`.
ROOFLINE_HD std::uint64_t hash3(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  return mix64(mix64(seed ^ (std::uint64_t(stream) << 56)) ^ mix64(index));
}

/// A standard normal sample (Box-Muller on the two 32-bit halves of the hash), in float.
ROOFLINE_HD float gaussian(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  const std::uint64_t h = hash3(seed, stream, index);
  const float u1 = (float(std::uint32_t(h >> 32)) + 0.5f) * 2.3283064365386963e-10f;  // (0, 1)
  const float u2 = float(std::uint32_t(h)) * 2.3283064365386963e-10f;                  // [0, 1)
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

/// Knobs of the generator (mirrors AttentionDataOptions without std types, for device code).
struct GenParams {
  int batch, q_heads, kv_heads, q_len, kv_len, head_dim;
  int realistic;
  std::uint64_t seed;
  int outlier_channels;
  float outlier_scale;
  float sink_strength;
  int recent_window;
  float recent_strength;
  float recent_decay;
  int needles;
  float needle_strength;
};

// Query = a·(own noise) + b·(per-head direction) + c·(per-group direction), a² + b² + c² = 1, so every
// query element is N(0, 1) and the generic logit q·k/sqrt(D) against a N(0, 1) key is about N(0, 1).
constexpr float q_own = 0.6324555320336759f;    // sqrt(0.4)
constexpr float q_head = 0.5477225575051661f;   // sqrt(0.3)
constexpr float q_group = 0.5477225575051661f;  // sqrt(0.3)

ROOFLINE_HD float group_dir(const GenParams& p, int b, int kvh, int d) {
  return gaussian(p.seed, stream_group_dir, (std::uint64_t(b) * p.kv_heads + kvh) * p.head_dim + d);
}
ROOFLINE_HD float head_dir(const GenParams& p, int b, int h, int d) {
  return gaussian(p.seed, stream_head_dir, (std::uint64_t(b) * p.q_heads + h) * p.head_dim + d);
}

/// q[b][i][h][d] (layout [B, Sq, HQ, D]).
ROOFLINE_HD float q_value(const GenParams& p, int b, int i, int h, int d) {
  const std::uint64_t idx = ((std::uint64_t(b) * p.q_len + i) * p.q_heads + h) * p.head_dim + d;
  const float z = gaussian(p.seed, stream_q, idx);
  if (!p.realistic) return z;
  const int kvh = h / (p.q_heads / p.kv_heads);
  return q_own * z + q_head * head_dir(p, b, h, d) + q_group * group_dir(p, b, kvh, d);
}

/// Position of needle j of (b, kvh): uniform in [1, kv_len − recent_window − 1] (never the sink or the
/// recent window), or −1 when the sequence is too short to hold needles.
ROOFLINE_HD int needle_position(const GenParams& p, int b, int kvh, int j) {
  const int span = p.kv_len - p.recent_window - 1;
  if (span < 1) return -1;
  const std::uint64_t h = hash3(p.seed, stream_needle, (std::uint64_t(b) * p.kv_heads + kvh) * 1024u + j);
  return 1 + int(h % std::uint64_t(span));
}

/// True when channel d of kv head kvh is an outlier channel (outlier_channels distinct draws, collisions
/// allowed, so at most that many).
ROOFLINE_HD bool is_outlier_channel(const GenParams& p, int kvh, int d) {
  for (int j = 0; j < p.outlier_channels; ++j) {
    const std::uint64_t h = hash3(p.seed, stream_outlier, std::uint64_t(kvh) * 4096u + j);
    if (int(h % std::uint64_t(p.head_dim)) == d) return true;
  }
  return false;
}

/// Natural-log logit offset targeted for structured key t (above a background of N(0, 1) logits), or 0.
/// Structured logits are ln(kv_len) + strength, so a structure's share of the softmax mass does not
/// fade as the context grows (the background's total mass grows like kv_len · e^0.5).
/// `which` returns 0 = none, 1 = group-aligned, 2 + g = aligned with query head g of the group.
ROOFLINE_HD float structure_logit(const GenParams& p, int b, int t, int kvh, int* which) {
  *which = 0;
  const float base = logf(float(p.kv_len));
  if (t == 0 && p.sink_strength != 0.0f) { *which = 1; return base + p.sink_strength; }
  const int from_end = p.kv_len - 1 - t;
  if (from_end < p.recent_window && p.recent_window > 0) {
    *which = 1;
    return base + p.recent_strength - p.recent_decay * float(from_end) / float(p.recent_window);
  }
  for (int j = 0; j < p.needles; ++j) {
    if (needle_position(p, b, kvh, j) == t) {
      const int group = p.q_heads / p.kv_heads;
      *which = (j % 2 == 0) ? 1 : 2 + (j / 2) % group;  // even needles: whole group; odd: one head
      return base + p.needle_strength;
    }
  }
  return 0.0f;
}

/// k[b][t][kvh][d] (layout [B, Skv, HKV, D]).
ROOFLINE_HD float k_value(const GenParams& p, int b, int t, int kvh, int d) {
  const std::uint64_t idx = ((std::uint64_t(b) * p.kv_len + t) * p.kv_heads + kvh) * p.head_dim + d;
  float z = gaussian(p.seed, stream_k, idx);
  if (!p.realistic) return z;
  if (is_outlier_channel(p, kvh, d)) {
    // Real K caches carry a few channels with a large, mostly constant offset (KIVI, arXiv:2402.02750).
    const bool neg = hash3(p.seed, stream_outlier_sign, std::uint64_t(kvh) * 4096u + d) & 1u;
    z = p.outlier_scale * ((neg ? -1.0f : 1.0f) + 0.3f * z);
  }
  int which = 0;
  const float logit = structure_logit(p, b, t, kvh, &which);
  if (which != 0) {
    // Key += κ·dir/sqrt(D): the query's component along dir is (c or b)·|dir| ≈ (c or b)·sqrt(D), so the
    // logit q·k/sqrt(D) gains ≈ κ·(c or b); κ = logit / (c or b).
    const float inv_sqrt_d = 1.0f / sqrtf(float(p.head_dim));
    if (which == 1) {
      z += logit / q_group * group_dir(p, b, kvh, d) * inv_sqrt_d;
    } else {
      const int h = kvh * (p.q_heads / p.kv_heads) + (which - 2);
      z += logit / q_head * head_dir(p, b, h, d) * inv_sqrt_d;
    }
  }
  return z;
}

/// v[b][t][kvh][d].
ROOFLINE_HD float v_value(const GenParams& p, int b, int t, int kvh, int d) {
  const std::uint64_t idx = ((std::uint64_t(b) * p.kv_len + t) * p.kv_heads + kvh) * p.head_dim + d;
  return gaussian(p.seed, stream_v, idx);
}

}  // namespace roofline::validate::gen
