// CPU references of the decode family (host code, no CUDA): the K quantisers (2-bit + e5m2 residual with
// whole-sequence or block-wise scales; e5m2 base + e5m2 residual), 2-bit packing, the threshold / keep
// mask / refined-score arithmetic of the pruned kernels, per-split partials (stage 1) and their
// log-sum-exp merge (stage 2), and the fused producer (K projection + RoPE + quantisation).
// Scores are in log2 units (s = q·k · softmax_scale · log2 e, weights 2^(s − m)); delta is in those units.
// Each function mirrors the kernels' rounding where it is deliberate (fp16 q·scale, e5m2 codecs, fmaf
// dequantisation) and accumulates in fp64 where the kernels accumulate in fp32.
#pragma once

#include <cstdint>
#include <vector>

#include "attention_data.hpp"

namespace roofline::validate::decode {

enum class KeyFormat { q2fp8, fp8fp8 };

/// 2-bit + e5m2 residual K cache. codes [B, T, HKV, D/4] (channel c in bits 2(c%4) of byte c/4);
/// scale, zero [B, HKV, NSB, D] with NSB = 1 (whole sequence, scale_block = 0) or ceil(T / scale_block);
/// residual [B, T, HKV, D] e5m2 bytes.
struct Q2Cache {
  AttentionShape shape;
  int scale_block = 0;
  std::vector<std::uint8_t> codes;
  std::vector<float> scale, zero;
  std::vector<std::uint8_t> residual;
  int scale_blocks() const { return scale_block == 0 ? 1 : (shape.kv_len + scale_block - 1) / scale_block; }
};

/// e5m2 base + e5m2 residual K cache, both [B, T, HKV, D] bytes.
struct Fp8Cache {
  AttentionShape shape;
  std::vector<std::uint8_t> base, residual;
};

/// Packs four 2-bit codes (each 0..3) into one byte, code j in bits 2j..2j+1.
std::uint8_t pack_2bit(int c0, int c1, int c2, int c3);
/// Code j (0..3) of a packed byte.
int unpack_2bit(std::uint8_t byte, int j);

/// Quantiser (a): per (b, kv head, channel[, block]) min/max over the tokens; scale = max(max − min, 1e-6)/3,
/// zero = min; code = RNE((k − zero)/scale) clamped to [0, 3]; residual = e5m2(clamp(k − fmaf(code, scale,
/// zero), ±57344)). k is [B, T, HKV, D] fp32; scale_block = 0 for whole-sequence scales.
Q2Cache quantize_q2(const AttentionShape& shape, const std::vector<float>& k, int scale_block);
/// Quantiser (b): base = e5m2(clamp(k)), residual = e5m2(clamp(k − base)).
Fp8Cache quantize_fp8fp8(const AttentionShape& shape, const std::vector<float>& k);
/// The keys the pipeline sees: fmaf(code, scale, zero) [+ residual] (a), base [+ residual] (b), fp32.
std::vector<float> dequantize(const Q2Cache& cache, bool with_residual);
std::vector<float> dequantize(const Fp8Cache& cache, bool with_residual);

/// Options of the pruned decode (both formats). bs: threshold-block size (tokens, multiple of 16);
/// sbs: pruning granularity (sub-block; divides bs, multiple of 16). threshold: optional [B, HQ]
/// precomputed thresholds (log2 units); the used threshold is min(given, max(first, last block max)) so
/// that at least one sub-block per (b, kv head) is always kept.
struct PrunedParams {
  int bs = 64;
  int sbs = 64;
  float delta = 5.0f;
  bool use_residual = true;
  bool prune = true;
  float softmax_scale = 0.0f;  ///< 0: 1/sqrt(D)
  std::vector<float> threshold;
};

/// Result of the pruned reference: out [B, HQ, D] (fp32, not rounded), keep [B, HKV, NSUB] (1 = kept),
/// the thresholds used [B, HQ], and per sub-block the decision margin max_h (m_sub[h] − th[h]) in log2
/// units (a kernel whose fp32 sums differ by rounding may decide differently only where |margin| is tiny).
struct PrunedResult {
  std::vector<float> out;
  std::vector<std::uint8_t> keep;
  std::vector<float> threshold;
  std::vector<float> margin;
  double skip_ratio = 0;
};

/// Number of sub-blocks ceil(T / sbs).
int sub_blocks(int kv_len, int sbs);

/// Base scores (2-bit-only for (a), base-only for (b)) and refinement term, log2 units, [B, HQ, T] each.
/// (a): s_base = L·(Σ_d fp16(q_d·scale_d)·code_d + Σ_d q_d·zero_d); (b): s_base = L·Σ_d q_d·base_d;
/// refinement L·Σ_d q_d·residual_d; L = softmax_scale·log2(e) in fp32; q rounded to fp16 first.
struct ScoreParts {
  std::vector<double> base, refine;
};
ScoreParts reference_scores(const std::vector<float>& q, const Q2Cache& cache, float softmax_scale);
ScoreParts reference_scores(const std::vector<float>& q, const Fp8Cache& cache, float softmax_scale);

/// The whole pruned decode on given score parts and V ([B, T, HKV, D], fp16-valued floats). When
/// `forced_keep` is not null it replaces the computed keep mask (kernel-vs-reference on the same mask).
PrunedResult reference_pruned_decode(const AttentionShape& shape, const ScoreParts& scores,
                                     const std::vector<float>& v, const PrunedParams& params,
                                     const std::vector<std::uint8_t>* forced_keep = nullptr);

/// Stage-1 partial of one (b, q head, split): running max m (log2 units, −inf when nothing was kept),
/// sum l of 2^(s − m), and o = Σ 2^(s − m)·v (unnormalised).
struct Partial {
  double m;
  double l;
  std::vector<double> o;
};
/// Partials of a row of scores s[t] (log2 units; −inf = masked) over `splits` contiguous token ranges of
/// ceil(T / splits) tokens each (the last may be shorter or empty).
std::vector<Partial> stage1_partials(const std::vector<double>& s, const std::vector<float>& v_rows, int head_dim,
                                     int splits);
/// Stage 2: log-sum-exp merge of partials; splits with m = −inf are skipped (never (−inf) − (−inf));
/// returns o / l, or all zeros when every split is empty.
std::vector<double> stage2_merge(const std::vector<Partial>& parts, int head_dim);

/// Fused producer reference: k[b][t][kvh][:] = RoPE(x[b][t][:] · Wk[kvh·D : (kvh+1)·D][:]ᵀ) in fp64 ->
/// fp32. x [B, T, hidden] and w [HKV·D, hidden] are bf16-valued floats; RoPE is the half-rotation
/// (Llama / NeoX) form on pairs (i, i + D/2) with cos/sin tables [T, D/2] (angle = pos·theta^(−2i/D)).
std::vector<float> reference_kproj_rope(const AttentionShape& shape, int hidden, const std::vector<float>& x,
                                        const std::vector<float>& w, const std::vector<float>& cos_table,
                                        const std::vector<float>& sin_table);
/// cos/sin tables [T, D/2] for positions pos0 .. pos0 + T − 1, computed in fp64 and rounded to fp32.
void rope_tables(int kv_len, int head_dim, double theta, int pos0, std::vector<float>& cos_table,
                 std::vector<float>& sin_table);

}  // namespace roofline::validate::decode
