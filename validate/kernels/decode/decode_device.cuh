// Device building blocks of the decode kernels: cp.async, mma.sync m16n8k16, fragment loaders for 2-bit,
// e5m2 and 16-bit keys (channel maps of fragment_layout.hpp), the per-tile online softmax with a CUDA-core
// P·V, and the CTA / split merges. Design: one CTA per (kv head, split, batch), 4 warps; each warp owns a
// stream of 16-token tiles (tokens = MMA rows, the G query heads of the group = MMA columns), staged in
// its own cp.async ring in shared memory; warps never wait for each other inside the main loop.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

#include "fragment_layout.hpp"

namespace roofline::validate::decode::dev {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 16;
constexpr int kMaxSplits = 256;

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }
__device__ __forceinline__ float pos_inf() { return __int_as_float(0x7f800000); }

// ---- cp.async ---------------------------------------------------------------------------------------
/// 16-byte asynchronous global->shared copy; when !valid nothing is read and the 16 bytes are zeroed.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ---- mma ------------------------------------------------------------------------------------------
__device__ __forceinline__ void mma_f16(float c[4], const unsigned a[4], const unsigned b[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma_bf16(float c[4], const unsigned a[4], const unsigned b[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&h);
}
__device__ __forceinline__ unsigned pack_bf162(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&h);
}

/// Two e5m2 bytes (low 16 bits of w >> shift) -> half2 (hardware cvt on sm_89+: F2FP in SASS).
__device__ __forceinline__ unsigned e5m2x2_to_half2(unsigned w16) {
  const __half2_raw r = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w16 & 0xFFFFu), __NV_E5M2);
  return unsigned(r.x) | (unsigned(r.y) << 16);
}

/// Pair e (0..7) of a packed 2-bit word as half2 (code of the low 16 bits, code of the high 16 bits):
/// (bits & mask) | 0x6400_6400 is fp16 (1024 + c·4^e'); fma with (4^-e', -1024·4^-e') gives c exactly.
template <int E>
__device__ __forceinline__ unsigned decode_pair(unsigned w, unsigned w_shift10) {
  constexpr int ep = E < 5 ? E : E - 5;
  const unsigned src = E < 5 ? w : w_shift10;
  const unsigned bits = (src & (0x00030003u << (2 * ep))) | 0x64006400u;
  // fp16 bit patterns of 4^-ep (1, 1/4, 1/16, 1/64, 1/256) and of -1024·4^-ep (-1024, -256, -64, -16, -4)
  constexpr unsigned short s16 = ep == 0 ? 0x3C00 : ep == 1 ? 0x3400 : ep == 2 ? 0x2C00 : ep == 3 ? 0x2400 : 0x1C00;
  constexpr unsigned short b16 = ep == 0 ? 0xE400 : ep == 1 ? 0xDC00 : ep == 2 ? 0xD400 : ep == 3 ? 0xCC00 : 0xC400;
  constexpr unsigned s2 = unsigned(s16) | (unsigned(s16) << 16), b2 = unsigned(b16) | (unsigned(b16) << 16);
  unsigned r;
  asm("fma.rn.f16x2 %0, %1, %2, %3;\n" : "=r"(r) : "r"(bits), "r"(s2), "r"(b2));
  return r;
}

/// The 16-byte-chunk swizzle of key rows with >= 8 chunks (conflict-free fragment loads).
template <int ROW_BYTES>
__device__ __forceinline__ int swz(int row, int chunk) {
  return (ROW_BYTES / 16 >= 8) ? (chunk ^ ((row & 1) << 2)) : chunk;
}

// ---- fragment loaders (A = keys of one 16-token tile) ----------------------------------------------
/// 2-bit: row r has D/4 bytes; lane t reads its D/16 bytes (D/64 words) of rows g and g+8.
template <int D>
struct Q2Frag {
  static constexpr int kWordsPerLane = D / 64;
  unsigned w[2][kWordsPerLane];  // [row g | g+8][word]
  __device__ __forceinline__ void load_smem(const unsigned char* tile, int g, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const unsigned* p = reinterpret_cast<const unsigned*>(tile + (g + 8 * r) * (D / 4) + t * (D / 16));
#pragma unroll
      for (int i = 0; i < kWordsPerLane; ++i) w[r][i] = p[i];
    }
  }
  __device__ __forceinline__ void load_global(const unsigned char* row_g, const unsigned char* row_g8, bool v0,
                                              bool v1, int t) {
#pragma unroll
    for (int i = 0; i < kWordsPerLane; ++i) {
      w[0][i] = v0 ? __ldg(reinterpret_cast<const unsigned*>(row_g + t * (D / 16)) + i) : 0u;
      w[1][i] = v1 ? __ldg(reinterpret_cast<const unsigned*>(row_g8 + t * (D / 16)) + i) : 0u;
    }
  }
  /// c += A·B over all D/16 k-steps; b[s][0..1] are the query fragments of k-step s.
  __device__ __forceinline__ void mma(float c[4], const unsigned (*b)[2]) const {
#pragma unroll
    for (int wi = 0; wi < kWordsPerLane; ++wi) {
      const unsigned x0 = w[0][wi], x1 = w[1][wi], y0 = x0 >> 10, y1 = x1 >> 10;
      unsigned a[4];
      a[0] = decode_pair<0>(x0, y0); a[1] = decode_pair<0>(x1, y1); a[2] = decode_pair<1>(x0, y0); a[3] = decode_pair<1>(x1, y1);
      mma_f16(c, a, b[4 * wi + 0]);
      a[0] = decode_pair<2>(x0, y0); a[1] = decode_pair<2>(x1, y1); a[2] = decode_pair<3>(x0, y0); a[3] = decode_pair<3>(x1, y1);
      mma_f16(c, a, b[4 * wi + 1]);
      a[0] = decode_pair<4>(x0, y0); a[1] = decode_pair<4>(x1, y1); a[2] = decode_pair<5>(x0, y0); a[3] = decode_pair<5>(x1, y1);
      mma_f16(c, a, b[4 * wi + 2]);
      a[0] = decode_pair<6>(x0, y0); a[1] = decode_pair<6>(x1, y1); a[2] = decode_pair<7>(x0, y0); a[3] = decode_pair<7>(x1, y1);
      mma_f16(c, a, b[4 * wi + 3]);
    }
  }
};

/// e5m2 rows of D bytes: lane t reads chunks t, t+4, .. (16 B) of rows g and g+8; k-step s uses word s%4
/// of chunk s/4 (channels c..c+3 -> two half2 registers).
template <int D>
struct Fp8Frag {
  static constexpr int kChunks = D / 64;  // chunks per lane per row
  uint4 q[2][kChunks];
  __device__ __forceinline__ void load_smem(const unsigned char* tile, int g, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = g + 8 * r;
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        q[r][j] = *reinterpret_cast<const uint4*>(tile + row * D + 16 * swz<D>(row, t + 4 * j));
    }
  }
  __device__ __forceinline__ void load_global(const unsigned char* row_g, const unsigned char* row_g8, bool v0,
                                              bool v1, int t) {
#pragma unroll
    for (int j = 0; j < kChunks; ++j) {
      q[0][j] = v0 ? __ldg(reinterpret_cast<const uint4*>(row_g) + t + 4 * j) : make_uint4(0, 0, 0, 0);
      q[1][j] = v1 ? __ldg(reinterpret_cast<const uint4*>(row_g8) + t + 4 * j) : make_uint4(0, 0, 0, 0);
    }
  }
  __device__ __forceinline__ void mma(float c[4], const unsigned (*b)[2]) const {
#pragma unroll
    for (int j = 0; j < kChunks; ++j) {
      const unsigned r0[4] = {q[0][j].x, q[0][j].y, q[0][j].z, q[0][j].w};
      const unsigned r1[4] = {q[1][j].x, q[1][j].y, q[1][j].z, q[1][j].w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        unsigned a[4];
        a[0] = e5m2x2_to_half2(r0[k]);
        a[1] = e5m2x2_to_half2(r1[k]);
        a[2] = e5m2x2_to_half2(r0[k] >> 16);
        a[3] = e5m2x2_to_half2(r1[k] >> 16);
        mma_f16(c, a, b[4 * j + k]);
      }
    }
  }
};

/// 16-bit rows of 2D bytes (bf16 or fp16): lane t reads chunks t, t+4, ..; k-step s uses words
/// 2(s%2), 2(s%2)+1 of chunk s/2.
template <int D, bool BF16>
struct Half16Frag {
  static constexpr int kChunks = D / 32;
  uint4 q[2][kChunks];
  __device__ __forceinline__ void load_smem(const unsigned char* tile, int g, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = g + 8 * r;
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        q[r][j] = *reinterpret_cast<const uint4*>(tile + row * (2 * D) + 16 * swz<2 * D>(row, t + 4 * j));
    }
  }
  __device__ __forceinline__ void mma(float c[4], const unsigned (*b)[2]) const {
#pragma unroll
    for (int j = 0; j < kChunks; ++j) {
      unsigned a[4];
      a[0] = q[0][j].x; a[1] = q[1][j].x; a[2] = q[0][j].y; a[3] = q[1][j].y;
      if constexpr (BF16) mma_bf16(c, a, b[2 * j]); else mma_f16(c, a, b[2 * j]);
      a[0] = q[0][j].z; a[1] = q[1][j].z; a[2] = q[0][j].w; a[3] = q[1][j].w;
      if constexpr (BF16) mma_bf16(c, a, b[2 * j + 1]); else mma_f16(c, a, b[2 * j + 1]);
    }
  }
};

// ---- query fragments (B operand) -------------------------------------------------------------------
/// b[s][0] = (q[g][ch(s, 0)], q[g][ch(s, 1)]), b[s][1] = slots 2, 3; zero for g >= G. `mapping`: 0 = 2-bit,
/// 1 = e5m2 bytes, 2 = 16-bit elements. `mul` (may be null) multiplies q channel-wise (q·scale).
template <int D, int G, int MAPPING, bool BF16>
__device__ __forceinline__ void build_q_frags(unsigned (*b)[2], const float* q_s, const float* mul, int g, int t) {
#pragma unroll
  for (int s = 0; s < D / 16; ++s)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float v[2];
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        const int slot = 2 * r + k;
        const int ch = MAPPING == 0 ? channel_2bit(D, t, s, slot) : channel_bytes(D, MAPPING == 1 ? 1 : 2, t, s, slot);
        float x = g < G ? q_s[g * D + ch] : 0.0f;
        if (mul != nullptr && g < G) x = x * __ldg(mul + ch);
        v[k] = x;
      }
      b[s][r] = BF16 ? pack_bf162(v[0], v[1]) : pack_half2(v[0], v[1]);
    }
}

/// Σ_d q[h][d]·zero[d] for the two heads 2t, 2t+1 of this lane's C columns (0 for heads >= G).
template <int D, int G>
__device__ __forceinline__ void q_dot_zero(float qz[2], const float* q_s, const float* zero, int g, int t) {
  float part = 0.0f;
  if (g < G) {
#pragma unroll 4
    for (int i = 0; i < D / 4; ++i) {
      const int ch = t * (D / 4) + i;  // lane t covers channels t·D/4 .. (the set is what matters)
      part = fmaf(q_s[g * D + ch], __ldg(zero + ch), part);
    }
  }
  part += __shfl_xor_sync(0xffffffffu, part, 1);
  part += __shfl_xor_sync(0xffffffffu, part, 2);
  const float h0 = __shfl_sync(0xffffffffu, part, 4 * (2 * t));
  const float h1 = __shfl_sync(0xffffffffu, part, (4 * (2 * t + 1)) & 31);
  qz[0] = (2 * t < G) ? h0 : 0.0f;
  qz[1] = (2 * t + 1 < G) ? h1 : 0.0f;
}

template <int G>
__device__ __forceinline__ float select_head(const float (&a)[G], int h) {
  float r = a[0];
#pragma unroll
  for (int i = 1; i < G; ++i) r = (h == i) ? a[i] : r;
  return r;
}

// ---- per-warp online softmax + P·V ---------------------------------------------------------------------
/// State of one warp: running max per head (warp-uniform, all G heads and the lane's own two heads),
/// the lane's partial row sums for its heads 2t, 2t+1, and the output accumulator of the lane's D/32
/// channels for every head.
template <int D, int G>
struct WarpState {
  static constexpr int kDpl = D / 32;
  float m[G];
  float m_own[2];
  float l_own[2];
  float acc[G][kDpl];
  __device__ __forceinline__ void init() {
#pragma unroll
    for (int h = 0; h < G; ++h) {
      m[h] = neg_inf();
#pragma unroll
      for (int d = 0; d < kDpl; ++d) acc[h][d] = 0.0f;
    }
    m_own[0] = m_own[1] = neg_inf();
    l_own[0] = l_own[1] = 0.0f;
  }
};

/// One 16-token tile: scores s[4] in the C layout (log2 units, -inf for masked tokens or heads >= G),
/// V rows in shared memory (16 × D elements, row-major, zero-filled past the end of the sequence),
/// P staging [16][G] floats. Updates the state; all lanes of the warp call it.
template <int D, int G, bool V_BF16>
__device__ __forceinline__ void softmax_pv_tile(WarpState<D, G>& st, const float s[4], const unsigned char* v_tile,
                                                float* p_s, int lane) {
  const int g = lane >> 2, t = lane & 3;
  const bool h0_ok = 2 * t < G, h1_ok = 2 * t + 1 < G;
  float mt0 = fmaxf(s[0], s[2]), mt1 = fmaxf(s[1], s[3]);
#pragma unroll
  for (int off = 4; off < 32; off <<= 1) {
    mt0 = fmaxf(mt0, __shfl_xor_sync(0xffffffffu, mt0, off));
    mt1 = fmaxf(mt1, __shfl_xor_sync(0xffffffffu, mt1, off));
  }
  float alpha[G];
#pragma unroll
  for (int h = 0; h < G; ++h) {
    const float tm = __shfl_sync(0xffffffffu, (h & 1) ? mt1 : mt0, h >> 1);
    const float mn = fmaxf(st.m[h], tm);
    alpha[h] = exp2f(st.m[h] - mn);  // m = -inf -> 0; mn is finite (the tile holds a valid token)
    st.m[h] = mn;
  }
  // The lane's own heads: the same operands as above, so bit-identical values.
  const float mn0 = fmaxf(st.m_own[0], mt0), mn1 = fmaxf(st.m_own[1], mt1);
  const float a0 = h0_ok ? exp2f(st.m_own[0] - mn0) : 0.0f, a1 = h1_ok ? exp2f(st.m_own[1] - mn1) : 0.0f;
  st.m_own[0] = mn0;
  st.m_own[1] = mn1;
  float p[4];
  p[0] = h0_ok ? exp2f(s[0] - mn0) : 0.0f;
  p[1] = h1_ok ? exp2f(s[1] - mn1) : 0.0f;
  p[2] = h0_ok ? exp2f(s[2] - mn0) : 0.0f;
  p[3] = h1_ok ? exp2f(s[3] - mn1) : 0.0f;
  st.l_own[0] = st.l_own[0] * a0 + p[0] + p[2];
  st.l_own[1] = st.l_own[1] * a1 + p[1] + p[3];
  if (h0_ok) {
    p_s[g * G + 2 * t] = p[0];
    p_s[(g + 8) * G + 2 * t] = p[2];
  }
  if (h1_ok) {
    p_s[g * G + 2 * t + 1] = p[1];
    p_s[(g + 8) * G + 2 * t + 1] = p[3];
  }
  __syncwarp();
  constexpr int kDpl = D / 32;
#pragma unroll
  for (int h = 0; h < G; ++h)
#pragma unroll
    for (int d = 0; d < kDpl; ++d) st.acc[h][d] *= alpha[h];
#pragma unroll 4
  for (int tok = 0; tok < kTile; ++tok) {
    float v[kDpl];
    const unsigned char* row = v_tile + tok * (2 * D) + lane * (2 * kDpl);
    if constexpr (kDpl == 4) {
      const uint2 raw = *reinterpret_cast<const uint2*>(row);
      if constexpr (V_BF16) {
        const float2 f0 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.x));
        const float2 f1 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.y));
        v[0] = f0.x; v[1] = f0.y; v[2] = f1.x; v[3] = f1.y;
      } else {
        const float2 f0 = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
        const float2 f1 = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
        v[0] = f0.x; v[1] = f0.y; v[2] = f1.x; v[3] = f1.y;
      }
    } else {
      const unsigned raw = *reinterpret_cast<const unsigned*>(row);
      if constexpr (V_BF16) {
        const float2 f0 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw));
        v[0] = f0.x; v[1] = f0.y;
      } else {
        const float2 f0 = __half22float2(*reinterpret_cast<const __half2*>(&raw));
        v[0] = f0.x; v[1] = f0.y;
      }
    }
    float pr[G];
#pragma unroll
    for (int h = 0; h < G; ++h) pr[h] = p_s[tok * G + h];
#pragma unroll
    for (int h = 0; h < G; ++h)
#pragma unroll
      for (int d = 0; d < kDpl; ++d) st.acc[h][d] = fmaf(pr[h], v[d], st.acc[h][d]);
  }
  __syncwarp();
}

// ---- CTA merge, partials and the split combine --------------------------------------------------------
struct MergeArgs {
  int batch, q_heads, kv_heads, splits;
  float* o_part;    // [B, HQ, S, D]
  float* ml_part;   // [B, HQ, S, 2]
  unsigned* counters;
  void* out;        // [B, HQ, D]
  bool fused;
};

template <typename OutT>
__device__ __forceinline__ void store_out(void* out, std::size_t i, float x) {
  if constexpr (std::is_same_v<OutT, __half>) static_cast<__half*>(out)[i] = __float2half_rn(x);
  else static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x);
}

/// Stage 2 for the G heads of (b, kvh): out = Σ_s 2^(m_s − M)·o_s / Σ_s 2^(m_s − M)·l_s over splits with
/// m_s > −inf. `w_s` is shared scratch of G·kMaxSplits floats. Called by all kThreads threads.
template <int D, int G, typename OutT>
__device__ void combine_splits(const MergeArgs& a, int b, int kvh, float* scratch) {
  const int tid = threadIdx.x, S = a.splits;
  float* w_s = scratch;                      // [G][kMaxSplits]: m, then the weights 2^(m − M)
  float* M_s = scratch + G * kMaxSplits;     // [G]
  float* L_s = M_s + G;                      // [G]
  const std::size_t row0 = std::size_t(b) * a.q_heads + std::size_t(kvh) * G;
  for (int i = tid; i < G * S; i += kThreads) {
    const int h = i / S, s = i % S;
    w_s[h * kMaxSplits + s] = __ldcg(a.ml_part + ((row0 + h) * S + s) * 2);
  }
  __syncthreads();
  if (tid < G) {
    float M = neg_inf();
    for (int s = 0; s < S; ++s) M = fmaxf(M, w_s[tid * kMaxSplits + s]);
    float l = 0.0f;
    if (M != neg_inf())
      for (int s = 0; s < S; ++s) {
        const float m = w_s[tid * kMaxSplits + s];
        if (m != neg_inf()) l = fmaf(exp2f(m - M), __ldcg(a.ml_part + ((row0 + tid) * S + s) * 2 + 1), l);
      }
    M_s[tid] = M;
    L_s[tid] = l;
  }
  __syncthreads();
  for (int i = tid; i < G * S; i += kThreads) {
    const int h = i / S, s = i % S;
    const float m = w_s[h * kMaxSplits + s], M = M_s[h];
    w_s[h * kMaxSplits + s] = (m == neg_inf() || M == neg_inf()) ? 0.0f : exp2f(m - M);  // empty splits: 0
  }
  __syncthreads();
  for (int i = tid; i < G * D; i += kThreads) {
    const int h = i / D, d = i % D;
    float o = 0.0f;
    for (int s = 0; s < S; ++s) {
      const float w = w_s[h * kMaxSplits + s];
      if (w != 0.0f) o = fmaf(w, __ldcg(a.o_part + ((row0 + h) * S + s) * D + d), o);
    }
    const float l = L_s[h];
    store_out<OutT>(a.out, (row0 + h) * D + d, l > 0.0f ? o / l : 0.0f);
  }
}

/// End of a CTA: merges the warps' states through shared memory (`scratch`, >= kWarps·G·(D+2) floats plus
/// G·(kMaxSplits+1) for the combine), writes the output (one split) or the split's partial, and with
/// fused combine lets the last CTA of (b, kvh) run stage 2. Must be called by all threads after every
/// cp.async group of the CTA has completed.
template <int D, int G, typename OutT>
__device__ void finish_cta(const WarpState<D, G>& st, float* scratch, const MergeArgs& a, int b, int kvh,
                           int split) {
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  constexpr int kDpl = D / 32;
  float* m_s = scratch;                    // [kWarps][G]
  float* l_s = m_s + kWarps * G;           // [kWarps][G]
  float* acc_s = l_s + kWarps * G;         // [kWarps][G][D]
  float l0 = st.l_own[0], l1 = st.l_own[1];
#pragma unroll
  for (int off = 4; off < 32; off <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, off);
    l1 += __shfl_xor_sync(0xffffffffu, l1, off);
  }
  if (lane == 0)
    for (int h = 0; h < G; ++h) m_s[warp * G + h] = st.m[h];
  if (g == 0) {
    if (2 * t < G) l_s[warp * G + 2 * t] = l0;
    if (2 * t + 1 < G) l_s[warp * G + 2 * t + 1] = l1;
  }
#pragma unroll
  for (int h = 0; h < G; ++h)
#pragma unroll
    for (int d = 0; d < kDpl; ++d) acc_s[(warp * G + h) * D + lane * kDpl + d] = st.acc[h][d];
  __syncthreads();
  const std::size_t row0 = std::size_t(b) * a.q_heads + std::size_t(kvh) * G;
  for (int i = tid; i < G * D; i += kThreads) {
    const int h = i / D, d = i % D;
    float M = neg_inf();
#pragma unroll
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, m_s[w * G + h]);
    float o = 0.0f, l = 0.0f;
    if (M != neg_inf()) {
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float mw = m_s[w * G + h];
        if (mw == neg_inf()) continue;  // an idle or fully pruned warp: never (−inf) − (−inf)
        const float f = exp2f(mw - M);
        o = fmaf(f, acc_s[(w * G + h) * D + d], o);
        l = fmaf(f, l_s[w * G + h], l);
      }
    }
    if (a.splits == 1) {
      store_out<OutT>(a.out, (row0 + h) * D + d, l > 0.0f ? o / l : 0.0f);
    } else {
      a.o_part[((row0 + h) * a.splits + split) * D + d] = o;
      if (d == 0) {
        a.ml_part[((row0 + h) * a.splits + split) * 2] = M;
        a.ml_part[((row0 + h) * a.splits + split) * 2 + 1] = l;
      }
    }
  }
  if (a.splits == 1 || !a.fused) return;
  // Fused stage 2: the last CTA of (b, kvh) to arrive merges the splits.
  __threadfence();
  __syncthreads();
  int* flag = reinterpret_cast<int*>(scratch);  // m_s is no longer read
  if (tid == 0) {
    const unsigned prev = atomicAdd(a.counters + std::size_t(b) * a.kv_heads + kvh, 1u);
    *flag = (prev == unsigned(a.splits - 1)) ? 1 : 0;
  }
  __syncthreads();
  const bool last = *flag != 0;
  __syncthreads();  // everyone has read the flag before scratch is reused
  if (!last) return;
  __threadfence();
  combine_splits<D, G, OutT>(a, b, kvh, scratch);
  if (tid == 0) a.counters[std::size_t(b) * a.kv_heads + kvh] = 0u;  // ready for the next launch / replay
}

}  // namespace roofline::validate::decode::dev
