// The mma.sync FlashAttention-2 kernel template behind fa2_mma, fa2_int8, sage_int8_fp16, sage_int8_fp8.
//
// CTA: 4 warps, 128 packed query rows (32 per warp = 2 m16 blocks; rows pack the G query heads of one
// kv head with the tokens, see device::PackedRows), key tiles of 64. Shared memory holds the Q tile and
// two stages of (K, V[, K row sums]) tiles, every row XOR-swizzled in 16-byte chunks; the tile t + 1 is
// fetched with cp.async while tile t is computed (one __syncthreads per tile). S and P stay in registers:
// the S accumulator layout of m16n8k16 / m16n8k32 (thread c of a quad holds columns 2c, 2c+1 of each
// 8-column block) is re-packed into the A operand of the P·V mma without shuffles.
//   QKᵀ: fp16 m16n8k16 (f16) or int8 m16n8k32 (the others), A and B through ldmatrix.x4.
//   PV:  fp16 m16n8k16 with V through ldmatrix.x4.trans (f16, sage_f16); fp16 m16n8k16 with V int8
//        transposed + permuted and converted in registers (int8_pt); e4m3 m16n8k32 with V e4m3 transposed
//        + permuted (sage_f8, accumulated per tile from zero, then o = o·alpha + tile: two-level).
// Scores are in log2 units; the online softmax uses exp2. Causal masks are bottom-right aligned.
#pragma once

#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>
#include <type_traits>

#include "prefill_device.cuh"
#include "prefill_harness.hpp"
#include "mma_fragments.hpp"
#include "prefill_kernels.hpp"
#include "prefill_math.hpp"

namespace roofline::validate::prefill::device {

enum class MmaVariant { f16, int8_pt, sage_f16, sage_f8 };

struct MmaParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;  // fp16 [B, Skv, HKV, D] or 8-bit transposed [B][HKV][D][kv_padded]
  __half* out = nullptr;
  int kv_heads = 0, kv_len = 0, kv_padded = 0, m_tiles = 0;
  PackedRows rows{};
  float scale_log2 = 0;  // softmax_scale · log2 e
  // int8_pt
  const std::int32_t* q_sums = nullptr;
  const std::int32_t* k_sums = nullptr;
  const PerTensorState* state = nullptr;
  // sage
  const float* q_scale = nullptr;
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
  int q_blocks = 0, k_blocks = 0;
};

template <int D, MmaVariant V>
struct MmaConfig {
  static constexpr bool kQkInt8 = V != MmaVariant::f16;
  static constexpr bool kVt8 = V == MmaVariant::int8_pt || V == MmaVariant::sage_f8;
  static constexpr int kWarps = 4, kThreads = 32 * kWarps, kMi = 2, kBM = 16 * kMi * kWarps, kBN = 64;
  static constexpr int kQkRowBytes = kQkInt8 ? D : 2 * D;
  static constexpr int kVRows = kVt8 ? D : kBN;
  static constexpr int kVRowBytes = kVt8 ? kBN : 2 * D;
  static constexpr int kQBytes = kBM * kQkRowBytes;
  static constexpr int kKBytes = kBN * kQkRowBytes;
  static constexpr int kVBytes = kVRows * kVRowBytes;
  static constexpr int kSumBytes = V == MmaVariant::int8_pt ? kBN * 4 : 0;
  static constexpr int kStageBytes = kKBytes + kVBytes + kSumBytes;
  static constexpr int kLoopBytes = kQBytes + 2 * kStageBytes;
  static constexpr int kOutBytes = kBM * D * 2;  // fp16 output staging, reuses the loop buffers
  static constexpr int kSmemBytes = kLoopBytes > kOutBytes ? kLoopBytes : kOutBytes;
  static constexpr int kQkSteps = kQkRowBytes / 32;  // k16 (fp16) or k32 (int8) steps: 32 bytes each
  static constexpr int kNb = kBN / 8;
  static constexpr int kDn = D / 8;
};

template <int D, bool CAUSAL, MmaVariant V>
__global__ void __launch_bounds__(128, 2) mma_attention_kernel(const MmaParams p) {
  using C = MmaConfig<D, V>;
  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* const q_s = smem;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, c = lane & 3;
  const int mt = CAUSAL ? (p.m_tiles - 1 - int(blockIdx.x)) : int(blockIdx.x);  // heavy tiles first
  const int b = int(blockIdx.y) / p.kv_heads, kvh = int(blockIdx.y) % p.kv_heads;
  const int m0 = mt * C::kBM;
  const int total_rows = p.rows.q_len * p.rows.group;
  const int off = p.kv_len - p.rows.q_len;
  const int first_token = m0 / p.rows.group;

  int n_tiles = (p.kv_len + C::kBN - 1) / C::kBN;
  if constexpr (CAUSAL) {
    const int last_row = min(total_rows, m0 + C::kBM) - 1;
    n_tiles = min(n_tiles, (last_row / p.rows.group + off) / C::kBN + 1);
  }

  const unsigned char* const qg = static_cast<const unsigned char*>(p.q);
  const unsigned char* const kg = static_cast<const unsigned char*>(p.k);
  const unsigned char* const vg = static_cast<const unsigned char*>(p.v);
  constexpr int kQkElem = C::kQkInt8 ? 1 : 2;

  // ---- Q tile (zero rows past the end) --------------------------------------------------------------
  {
    constexpr int chunks = C::kQkRowBytes / 16;
    for (int i = tid; i < C::kBM * chunks; i += C::kThreads) {
      const int r = i / chunks, ch = i % chunks, R = m0 + r;
      const bool valid = R < total_rows;
      const unsigned char* src = valid ? qg + p.rows.offset(b, kvh, R, D) * kQkElem + ch * 16 : qg;
      cp_async_16(q_s + frag::swizzle<C::kQkRowBytes>(r, ch), src, valid);
    }
  }
  auto load_tile = [&](int tile, int stage) {
    unsigned char* const k_s = smem + C::kQBytes + stage * C::kStageBytes;
    unsigned char* const v_s = k_s + C::kKBytes;
    constexpr int kchunks = C::kQkRowBytes / 16;
    for (int i = tid; i < C::kBN * kchunks; i += C::kThreads) {
      const int r = i / kchunks, ch = i % kchunks, key = tile * C::kBN + r;
      const bool valid = key < p.kv_len;
      const std::int64_t row = (std::int64_t(b) * p.kv_len + key) * p.kv_heads + kvh;
      cp_async_16(k_s + frag::swizzle<C::kQkRowBytes>(r, ch), valid ? kg + row * D * kQkElem + ch * 16 : kg, valid);
    }
    if constexpr (C::kVt8) {
      for (int i = tid; i < D * 4; i += C::kThreads) {
        const int d = i >> 2, ch = i & 3;
        const std::int64_t row = (std::int64_t(b) * p.kv_heads + kvh) * D + d;
        cp_async_16(v_s + frag::swizzle<64>(d, ch), vg + row * p.kv_padded + tile * C::kBN + ch * 16, true);
      }
    } else {
      constexpr int vchunks = 2 * D / 16;
      for (int i = tid; i < C::kBN * vchunks; i += C::kThreads) {
        const int r = i / vchunks, ch = i % vchunks, key = tile * C::kBN + r;
        const bool valid = key < p.kv_len;
        const std::int64_t row = (std::int64_t(b) * p.kv_len + key) * p.kv_heads + kvh;
        cp_async_16(v_s + frag::swizzle<2 * D>(r, ch), valid ? vg + row * D * 2 + ch * 16 : vg, valid);
      }
    }
    if constexpr (V == MmaVariant::int8_pt) {
      unsigned char* const sum_s = v_s + C::kVBytes;
      if (tid < 16) {
        const std::int32_t* src = p.k_sums + (std::int64_t(b) * p.kv_heads + kvh) * p.kv_padded + tile * C::kBN + tid * 4;
        cp_async_16(sum_s + tid * 16, src, true);
      }
    }
  };
  load_tile(0, 0);
  cp_async_commit();

  // ---- per-row constants ------------------------------------------------------------------------------
  int row_token[C::kMi][2];
  float row_factor[C::kMi][2];  // int8_pt: unused; sage: q_scale · scale_log2
  int row_corr[C::kMi][2];      // int8_pt: −zk·Σq + D·zq·zk
  float score_factor = p.scale_log2;
  int zq = 0;
  AsymInt8Params vq{};
  if constexpr (V == MmaVariant::int8_pt) {
    const AsymInt8Params qq = choose_asym_int8(ordered_to_float(p.state->minmax[0]), ordered_to_float(p.state->minmax[1]));
    const AsymInt8Params kq = choose_asym_int8(ordered_to_float(p.state->minmax[2]), ordered_to_float(p.state->minmax[3]));
    vq = choose_asym_int8(ordered_to_float(p.state->minmax[4]), ordered_to_float(p.state->minmax[5]));
    score_factor = qq.scale * kq.scale * p.scale_log2;
    zq = qq.zero;
#pragma unroll
    for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int R = m0 + warp * 32 + mi * 16 + g + 8 * h;
        const int qsum = R < total_rows ? p.q_sums[p.rows.offset(b, kvh, R, 1)] : 0;
        row_corr[mi][h] = -kq.zero * qsum + D * qq.zero * kq.zero;
      }
  }
#pragma unroll
  for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int R = m0 + warp * 32 + mi * 16 + g + 8 * h;
      row_token[mi][h] = R / p.rows.group;
      row_factor[mi][h] = 0.0f;
      if constexpr (V == MmaVariant::sage_f16 || V == MmaVariant::sage_f8) {
        if (R < total_rows) {
          const int t = R / p.rows.group, head = kvh * p.rows.group + (R - t * p.rows.group);
          const float qs = p.q_scale[(std::int64_t(b) * p.rows.q_heads + head) * p.q_blocks + t / sage_q_block_tokens];
          row_factor[mi][h] = mul_rn(qs, p.scale_log2);
        }
      }
    }

  float o[C::kMi][C::kDn][4];
#pragma unroll
  for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
    for (int dn = 0; dn < C::kDn; ++dn)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[mi][dn][e] = 0.0f;
  float m_run[C::kMi][2], l_run[C::kMi][2];
#pragma unroll
  for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      m_run[mi][h] = -INFINITY;
      l_run[mi][h] = 0.0f;
    }

  for (int tile = 0; tile < n_tiles; ++tile) {
    cp_async_wait<0>();
    __syncthreads();  // tile `tile` is in shared memory; everyone is done with the other stage
    if (tile + 1 < n_tiles) {
      load_tile(tile + 1, (tile + 1) & 1);
      cp_async_commit();
    }
    const unsigned char* const k_s = smem + C::kQBytes + (tile & 1) * C::kStageBytes;
    const unsigned char* const v_s = k_s + C::kKBytes;

    // ---- S = Q·Kᵀ -------------------------------------------------------------------------------------
    float s[C::kMi][C::kNb][4];
    {
      using Acc = std::conditional_t<C::kQkInt8, int, float>;
      Acc acc[C::kMi][C::kNb][4];
#pragma unroll
      for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
        for (int nb = 0; nb < C::kNb; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[mi][nb][e] = Acc(0);
#pragma unroll
      for (int ks = 0; ks < C::kQkSteps; ++ks) {
        std::uint32_t a[C::kMi][4];
#pragma unroll
        for (int mi = 0; mi < C::kMi; ++mi) {
          ldmatrix_x4(a[mi], q_s + frag::swizzle<C::kQkRowBytes>(frag::q_row(warp, mi, lane), frag::q_chunk(ks, lane)));
        }
#pragma unroll
        for (int np = 0; np < C::kNb / 2; ++np) {
          std::uint32_t bk[4];
          ldmatrix_x4(bk, k_s + frag::swizzle<C::kQkRowBytes>(frag::k_row(np, lane), frag::k_chunk(ks, lane)));
#pragma unroll
          for (int mi = 0; mi < C::kMi; ++mi) {
            if constexpr (C::kQkInt8) {
              mma_s8(acc[mi][2 * np], a[mi], bk[0], bk[1]);
              mma_s8(acc[mi][2 * np + 1], a[mi], bk[2], bk[3]);
            } else {
              mma_f16(acc[mi][2 * np], a[mi], bk[0], bk[1]);
              mma_f16(acc[mi][2 * np + 1], a[mi], bk[2], bk[3]);
            }
          }
        }
      }
      // Scores in log2 units.
      float tile_factor[C::kMi][2];
      if constexpr (V == MmaVariant::sage_f16 || V == MmaVariant::sage_f8) {
        const float ks = p.k_scale[(std::int64_t(b) * p.kv_heads + kvh) * p.k_blocks + tile];  // 64-key blocks = tiles
#pragma unroll
        for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
          for (int h = 0; h < 2; ++h) tile_factor[mi][h] = mul_rn(row_factor[mi][h], ks);
      }
      const std::int32_t* sum_s = reinterpret_cast<const std::int32_t*>(v_s + C::kVBytes);
#pragma unroll
      for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
        for (int nb = 0; nb < C::kNb; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            if constexpr (V == MmaVariant::f16) {
              s[mi][nb][e] = acc[mi][nb][e] * score_factor;
            } else if constexpr (V == MmaVariant::int8_pt) {
              const int col = nb * 8 + 2 * c + (e & 1);
              const int exact = acc[mi][nb][e] + row_corr[mi][e >> 1] - zq * sum_s[col];
              s[mi][nb][e] = float(exact) * score_factor;
            } else {
              s[mi][nb][e] = mul_rn(float(acc[mi][nb][e]), tile_factor[mi][e >> 1]);
            }
          }
    }

    // ---- mask -------------------------------------------------------------------------------------------
    const int key0 = tile * C::kBN;
    bool need_mask = key0 + C::kBN > p.kv_len;
    if constexpr (CAUSAL) need_mask = need_mask || (key0 + C::kBN - 1 > first_token + off);
    if (need_mask) {
#pragma unroll
      for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
        for (int nb = 0; nb < C::kNb; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int key = key0 + nb * 8 + 2 * c + (e & 1);
            bool masked = key >= p.kv_len;
            if constexpr (CAUSAL) masked = masked || key > row_token[mi][e >> 1] + off;
            if (masked) s[mi][nb][e] = -INFINITY;
          }
    }

    // ---- online softmax -------------------------------------------------------------------------------
    float alpha[C::kMi][2];
#pragma unroll
    for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float mx = -INFINITY;
#pragma unroll
        for (int nb = 0; nb < C::kNb; ++nb) mx = fmaxf(mx, fmaxf(s[mi][nb][2 * h], s[mi][nb][2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m_run[mi][h], mx);
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        alpha[mi][h] = fast_exp2(m_run[mi][h] - m_use);
        m_run[mi][h] = m_new;
        float sum = 0.0f;
#pragma unroll
        for (int nb = 0; nb < C::kNb; ++nb)
#pragma unroll
          for (int e = 2 * h; e < 2 * h + 2; ++e) {
            float pe;
            if constexpr (V == MmaVariant::sage_f8) {
              pe = exp2_repro(sub_rn(s[mi][nb][e], m_use));  // bit-identical to the CPU reference
            } else {
              pe = fast_exp2(s[mi][nb][e] - m_use);
            }
            s[mi][nb][e] = pe;
            sum += pe;
          }
        l_run[mi][h] = l_run[mi][h] * alpha[mi][h] + sum;
      }
    if constexpr (V != MmaVariant::sage_f8) {
#pragma unroll
      for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
        for (int dn = 0; dn < C::kDn; ++dn)
#pragma unroll
          for (int e = 0; e < 4; ++e) o[mi][dn][e] *= alpha[mi][e >> 1];
    }

    // ---- O += P·V ---------------------------------------------------------------------------------------
    if constexpr (V == MmaVariant::f16 || V == MmaVariant::sage_f16) {
#pragma unroll
      for (int ks = 0; ks < C::kBN / 16; ++ks) {
        std::uint32_t pa[C::kMi][4];
#pragma unroll
        for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
          for (int reg = 0; reg < 4; ++reg)
            pa[mi][reg] = pack_half2(s[mi][frag::p16_nb(ks, reg)][frag::p16_e(reg, 0)], s[mi][frag::p16_nb(ks, reg)][frag::p16_e(reg, 1)]);
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          std::uint32_t bv[4];
          ldmatrix_x4_trans(bv, v_s + frag::swizzle<2 * D>(frag::v_row(ks, lane), frag::v_chunk(dp, lane)));
#pragma unroll
          for (int mi = 0; mi < C::kMi; ++mi) {
            mma_f16(o[mi][2 * dp], pa[mi], bv[0], bv[1]);
            mma_f16(o[mi][2 * dp + 1], pa[mi], bv[2], bv[3]);
          }
        }
      }
    } else if constexpr (V == MmaVariant::int8_pt) {
      const __half2 voff = __float2half2_rn(float(1152 + vq.zero));
#pragma unroll
      for (int ks = 0; ks < C::kBN / 16; ++ks) {
        std::uint32_t pa[C::kMi][4];
#pragma unroll
        for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
          for (int reg = 0; reg < 4; ++reg)
            pa[mi][reg] = pack_half2(s[mi][frag::p16_nb(ks, reg)][frag::p16_e(reg, 0)], s[mi][frag::p16_nb(ks, reg)][frag::p16_e(reg, 1)]);
#pragma unroll
        for (int dq = 0; dq < D / 32; ++dq) {
          std::uint32_t bv[4];
          ldmatrix_x4(bv, v_s + frag::swizzle<64>(frag::vt8_row(dq, lane), ks));
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const std::uint32_t b0 = int8x2_to_half2_minus(bv[j], 0, voff);
            const std::uint32_t b1 = int8x2_to_half2_minus(bv[j], 2, voff);
#pragma unroll
            for (int mi = 0; mi < C::kMi; ++mi) mma_f16(o[mi][dq * 4 + j], pa[mi], b0, b1);
          }
        }
      }
    } else {  // sage_f8: P̃ = e4m3(p·448), two 32-key k-steps per tile, accumulated from zero per tile
      std::uint32_t pa[2][C::kMi][4];
#pragma unroll
      for (int kc = 0; kc < 2; ++kc)
#pragma unroll
        for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
          for (int reg = 0; reg < 4; ++reg) {
            float e[4];
#pragma unroll
            for (int y = 0; y < 4; ++y) e[y] = mul_rn(s[mi][frag::p8_nb(kc, reg, y)][frag::p8_e(reg, y)], p_fp8_scale);
            pa[kc][mi][reg] = pack_e4m3x4(e[0], e[1], e[2], e[3]);
          }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        std::uint32_t bv[2][4];
#pragma unroll
        for (int kc = 0; kc < 2; ++kc) {
          ldmatrix_x4(bv[kc], v_s + frag::swizzle<64>(frag::vtf8_row(dp, lane), frag::vtf8_chunk(kc, lane)));
        }
#pragma unroll
        for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            mma_e4m3(t, pa[0][mi], bv[0][2 * half], bv[0][2 * half + 1]);
            mma_e4m3(t, pa[1][mi], bv[1][2 * half], bv[1][2 * half + 1]);
            float(&acc)[4] = o[mi][2 * dp + half];
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[e] = acc[e] * alpha[mi][e >> 1] + t[e];
          }
      }
    }
  }

  // ---- normalise, stage in shared memory, store 16-byte rows --------------------------------------------
  float inv_l[C::kMi][2];
#pragma unroll
  for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float l = l_run[mi][h];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      inv_l[mi][h] = l > 0.0f ? 1.0f / l : 0.0f;
      if constexpr (V == MmaVariant::int8_pt) inv_l[mi][h] *= vq.scale;
      if constexpr (V == MmaVariant::sage_f8) inv_l[mi][h] /= p_fp8_scale;
    }
  __syncthreads();  // every warp is done reading the last tile: reuse shared memory for the output
  unsigned char* const o_s = smem;
  const float* const v_scale = V == MmaVariant::sage_f8 ? p.v_scale + (std::int64_t(b) * p.kv_heads + kvh) * D : nullptr;
#pragma unroll
  for (int mi = 0; mi < C::kMi; ++mi)
#pragma unroll
    for (int dn = 0; dn < C::kDn; ++dn) {
      const int col = dn * 8 + 2 * c;
      float cs0 = 1.0f, cs1 = 1.0f;
      if constexpr (V == MmaVariant::sage_f8) {
        cs0 = v_scale[col];
        cs1 = v_scale[col + 1];
      }
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = warp * 32 + mi * 16 + g + 8 * h;
        const std::uint32_t v2 = pack_half2(o[mi][dn][2 * h] * inv_l[mi][h] * cs0, o[mi][dn][2 * h + 1] * inv_l[mi][h] * cs1);
        *reinterpret_cast<std::uint32_t*>(o_s + frag::swizzle<2 * D>(row, dn) + 4 * c) = v2;
      }
    }
  __syncthreads();
  constexpr int ochunks = 2 * D / 16;
  for (int i = tid; i < C::kBM * ochunks; i += C::kThreads) {
    const int r = i / ochunks, ch = i % ochunks, R = m0 + r;
    if (R < total_rows)
      *reinterpret_cast<uint4*>(p.out + p.rows.offset(b, kvh, R, D) + ch * 8) =
          *reinterpret_cast<const uint4*>(o_s + frag::swizzle<2 * D>(r, ch));
  }
}

/// Launches one instantiation with its shared memory; the grid is (query tiles, B·HKV).
template <int D, bool CAUSAL, MmaVariant V>
void launch_mma_attention(const MmaParams& p, int batch, cudaStream_t stream) {
  using C = MmaConfig<D, V>;
  static bool configured = false;  // one cudaFuncSetAttribute per instantiation (single device)
  if (!configured) {
    ROOFLINE_CUDA_CHECK(cudaFuncSetAttribute(mma_attention_kernel<D, CAUSAL, V>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
    configured = true;
  }
  const dim3 grid(unsigned(p.m_tiles), unsigned(batch * p.kv_heads));
  mma_attention_kernel<D, CAUSAL, V><<<grid, C::kThreads, C::kSmemBytes, stream>>>(p);
  ROOFLINE_CUDA_CHECK_LAST();
}

/// Picks the instantiation for the shape's head_dim and causality.
template <MmaVariant V>
void dispatch_mma_attention(const PrefillShape& s, MmaParams p, cudaStream_t stream) {
  p.rows = PackedRows{s.q_heads / s.kv_heads, s.q_heads, s.q_len};
  p.kv_heads = s.kv_heads;
  p.kv_len = s.kv_len;
  p.kv_padded = int(padded_kv_len(s.kv_len));
  p.m_tiles = (s.q_len * (s.q_heads / s.kv_heads) + MmaConfig<64, V>::kBM - 1) / MmaConfig<64, V>::kBM;
  if (s.head_dim == 64) {
    if (s.causal) launch_mma_attention<64, true, V>(p, s.batch, stream);
    else launch_mma_attention<64, false, V>(p, s.batch, stream);
  } else {
    if (s.causal) launch_mma_attention<128, true, V>(p, s.batch, stream);
    else launch_mma_attention<128, false, V>(p, s.batch, stream);
  }
}

}  // namespace roofline::validate::prefill::device
