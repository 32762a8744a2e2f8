// CUDA-core FlashAttention-2 kernels of seed 003: fa2_simt_rope (fa.cu: one CTA per query tile, RoPE
// fused into the Q/K tile loads) and fa2_simt_warp_row (fa_warps.cu: one warp per query row). fp16
// inputs, fp32 arithmetic (FFMA), online softmax in log2 units, packed GQA rows (device::PackedRows).
#include "prefill_device.cuh"
#include "prefill_kernels.hpp"
#include "prefill_launch.hpp"
#include "prefill_math.hpp"

namespace roofline::validate::prefill {

namespace device {
namespace {

struct SimtParams {
  const __half* q;
  const __half* k;
  const __half* v;
  const float* rope_cos;  // [Skv][D/2]
  const float* rope_sin;
  __half* out;
  PackedRows rows;
  int kv_heads, kv_len, m_tiles;
  float scale_log2;
};

// ---- fa2_simt_rope -----------------------------------------------------------------------------------
// 256 threads = 16 (tx) × 16 (ty); a CTA computes 64 packed rows against key tiles of 32. Thread (tx, ty)
// holds S rows 4ty .. 4ty+3 × columns tx, tx+16 and O rows 4ty .. 4ty+3 × columns 4tx .. 4tx+3 (+64).
// Shared memory is fp32: Q and K rows padded by 4 floats so that 16 lanes reading 16 rows at the same
// column hit distinct 16-byte bank groups.
template <int D>
struct RopeConfig {
  static constexpr int kBM = 64, kBN = 32, kThreads = 256;
  static constexpr int kLd = D + 4, kPLd = kBN + 4;
  static constexpr int kCg = D / 64;  // column groups of 4 per thread in O (D = 64: 1, D = 128: 2)
  static constexpr int kSmemBytes = 4 * (kBM * kLd + kBN * kLd + kBN * D + kBM * kPLd);
};

// Rotates the pair (x[i], x[i + D/2]) at `pos` (rotate-half RoPE) for i, i+1 and writes them scaled.
template <int D>
__device__ __forceinline__ void rope_store(const __half* row, const float* cos_t, const float* sin_t, int pos, int i,
                                           float scale, float* dst) {
  const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(row + i));
  const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(row + i + D / 2));
  const float2 c = *reinterpret_cast<const float2*>(cos_t + std::int64_t(pos) * (D / 2) + i);
  const float2 s = *reinterpret_cast<const float2*>(sin_t + std::int64_t(pos) * (D / 2) + i);
  dst[i] = (lo.x * c.x - hi.x * s.x) * scale;
  dst[i + 1] = (lo.y * c.y - hi.y * s.y) * scale;
  dst[i + D / 2] = (hi.x * c.x + lo.x * s.x) * scale;
  dst[i + D / 2 + 1] = (hi.y * c.y + lo.y * s.y) * scale;
}

template <int D, bool CAUSAL>
__global__ void __launch_bounds__(256, 2) fa2_simt_rope_kernel(const SimtParams p) {
  using C = RopeConfig<D>;
  extern __shared__ __align__(16) float fsmem[];
  float* const q_s = fsmem;                      // [64][D+4], rotated and scaled by scale·log2 e
  float* const k_s = q_s + C::kBM * C::kLd;      // [32][D+4], rotated
  float* const v_s = k_s + C::kBN * C::kLd;      // [32][D]
  float* const p_s = v_s + C::kBN * D;           // [64][36]
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int mt = CAUSAL ? (p.m_tiles - 1 - int(blockIdx.x)) : int(blockIdx.x);
  const int b = int(blockIdx.y) / p.kv_heads, kvh = int(blockIdx.y) % p.kv_heads;
  const int m0 = mt * C::kBM, total_rows = p.rows.q_len * p.rows.group, off = p.kv_len - p.rows.q_len;
  int n_tiles = (p.kv_len + C::kBN - 1) / C::kBN;
  if constexpr (CAUSAL) n_tiles = min(n_tiles, ((min(total_rows, m0 + C::kBM) - 1) / p.rows.group + off) / C::kBN + 1);

  for (int idx = tid; idx < C::kBM * D / 4; idx += C::kThreads) {
    const int r = idx / (D / 4), i = 2 * (idx % (D / 4)), R = m0 + r;
    float* dst = q_s + r * C::kLd;
    if (R < total_rows) {
      rope_store<D>(p.q + p.rows.offset(b, kvh, R, D), p.rope_cos, p.rope_sin, R / p.rows.group + off, i, p.scale_log2, dst);
    } else {
      dst[i] = dst[i + 1] = dst[i + D / 2] = dst[i + D / 2 + 1] = 0.0f;
    }
  }
  int row_token[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) row_token[i] = (m0 + 4 * ty + i) / p.rows.group;

  float o[4][C::kCg][4] = {};
  float m_run[4], l_run[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    m_run[i] = -INFINITY;
    l_run[i] = 0.0f;
  }

  for (int tile = 0; tile < n_tiles; ++tile) {
    __syncthreads();  // the previous tile's K, V and P are no longer read
    const int key0 = tile * C::kBN;
    for (int idx = tid; idx < C::kBN * D / 4; idx += C::kThreads) {
      const int r = idx / (D / 4), i = 2 * (idx % (D / 4)), key = key0 + r;
      float* dst = k_s + r * C::kLd;
      if (key < p.kv_len) {
        rope_store<D>(p.k + ((std::int64_t(b) * p.kv_len + key) * p.kv_heads + kvh) * D, p.rope_cos, p.rope_sin, key, i, 1.0f, dst);
      } else {
        dst[i] = dst[i + 1] = dst[i + D / 2] = dst[i + D / 2 + 1] = 0.0f;
      }
      const int c4 = 4 * (idx % (D / 4));
      float4 vv = make_float4(0.f, 0.f, 0.f, 0.f);
      if (key < p.kv_len) {
        const uint2 raw = *reinterpret_cast<const uint2*>(p.v + ((std::int64_t(b) * p.kv_len + key) * p.kv_heads + kvh) * D + c4);
        const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
        const float2 bb = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
        vv = make_float4(a.x, a.y, bb.x, bb.y);
      }
      *reinterpret_cast<float4*>(v_s + r * D + c4) = vv;
    }
    __syncthreads();

    float s[4][2] = {};
#pragma unroll 4
    for (int d = 0; d < D; d += 4) {
      float4 qv[4], kv[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) qv[i] = *reinterpret_cast<const float4*>(q_s + (4 * ty + i) * C::kLd + d);
#pragma unroll
      for (int j = 0; j < 2; ++j) kv[j] = *reinterpret_cast<const float4*>(k_s + (tx + 16 * j) * C::kLd + d);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
          s[i][j] += qv[i].x * kv[j].x + qv[i].y * kv[j].y + qv[i].z * kv[j].z + qv[i].w * kv[j].w;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int key = key0 + tx + 16 * j;
        bool masked = key >= p.kv_len;
        if constexpr (CAUSAL) masked = masked || key > row_token[i] + off;
        if (masked) s[i][j] = -INFINITY;
      }
      float mx = fmaxf(s[i][0], s[i][1]);
#pragma unroll
      for (int o2 = 1; o2 < 16; o2 <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o2));
      const float m_new = fmaxf(m_run[i], mx);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      const float alpha = fast_exp2(m_run[i] - m_use);
      m_run[i] = m_new;
      const float p0 = fast_exp2(s[i][0] - m_use), p1 = fast_exp2(s[i][1] - m_use);
      l_run[i] = l_run[i] * alpha + p0 + p1;  // per-lane partial, reduced at the end
      p_s[(4 * ty + i) * C::kPLd + tx] = p0;
      p_s[(4 * ty + i) * C::kPLd + tx + 16] = p1;
#pragma unroll
      for (int cg = 0; cg < C::kCg; ++cg)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[i][cg][e] *= alpha;
    }
    __syncthreads();

#pragma unroll 2
    for (int j = 0; j < C::kBN; j += 4) {
      float4 pv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) pv[i] = *reinterpret_cast<const float4*>(p_s + (4 * ty + i) * C::kPLd + j);
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
#pragma unroll
        for (int cg = 0; cg < C::kCg; ++cg) {
          const float4 vv = *reinterpret_cast<const float4*>(v_s + (j + jj) * D + 4 * tx + 64 * cg);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const float pp = jj == 0 ? pv[i].x : (jj == 1 ? pv[i].y : (jj == 2 ? pv[i].z : pv[i].w));
            o[i][cg][0] += pp * vv.x;
            o[i][cg][1] += pp * vv.y;
            o[i][cg][2] += pp * vv.z;
            o[i][cg][3] += pp * vv.w;
          }
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float l = l_run[i];
#pragma unroll
    for (int o2 = 1; o2 < 16; o2 <<= 1) l += __shfl_xor_sync(0xffffffffu, l, o2);
    const int R = m0 + 4 * ty + i;
    if (R >= total_rows) continue;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    __half* dst = p.out + p.rows.offset(b, kvh, R, D);
#pragma unroll
    for (int cg = 0; cg < C::kCg; ++cg) {
      const __half2 h0 = __floats2half2_rn(o[i][cg][0] * inv, o[i][cg][1] * inv);
      const __half2 h1 = __floats2half2_rn(o[i][cg][2] * inv, o[i][cg][3] * inv);
      uint2 raw;
      raw.x = *reinterpret_cast<const unsigned*>(&h0);
      raw.y = *reinterpret_cast<const unsigned*>(&h1);
      *reinterpret_cast<uint2*>(dst + 4 * tx + 64 * cg) = raw;
    }
  }
}

// ---- fa2_simt_warp_row ---------------------------------------------------------------------------------
// 16 warps, one packed query row each; K/V tiles of 64 keys in shared memory as fp16 (K rows padded by
// 16 bytes so that 32 lanes reading 32 rows at one column hit distinct bank groups). QK: lane j computes
// keys j and j + 32 against the row (broadcast from shared memory); PV: lane owns D/32 output columns.
template <int D>
struct WarpRowConfig {
  static constexpr int kRows = 16, kThreads = 32 * kRows, kBN = 64, kKLd = D + 8, kCols = D / 32;
  static constexpr int kSmemBytes = 2 * (kBN * kKLd + kBN * D) + 4 * (kRows * D + kRows * kBN);
};

__device__ __forceinline__ void add_dot8(float& acc, const uint4 k8, const float4 qa, const float4 qb) {
  const __half2* h = reinterpret_cast<const __half2*>(&k8);
  const float2 k0 = __half22float2(h[0]), k1 = __half22float2(h[1]), k2 = __half22float2(h[2]), k3 = __half22float2(h[3]);
  acc += qa.x * k0.x + qa.y * k0.y + qa.z * k1.x + qa.w * k1.y + qb.x * k2.x + qb.y * k2.y + qb.z * k3.x + qb.w * k3.y;
}

template <int D, bool CAUSAL>
__global__ void __launch_bounds__(512, 2) fa2_simt_warp_row_kernel(const SimtParams p) {
  using C = WarpRowConfig<D>;
  extern __shared__ __align__(16) unsigned char smem[];
  __half* const k_s = reinterpret_cast<__half*>(smem);          // [64][D+8]
  __half* const v_s = k_s + C::kBN * C::kKLd;                    // [64][D]
  float* const q_s = reinterpret_cast<float*>(v_s + C::kBN * D);  // [16][D]
  float* const p_s = q_s + C::kRows * D;                         // [16][64]
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int mt = CAUSAL ? (p.m_tiles - 1 - int(blockIdx.x)) : int(blockIdx.x);
  const int b = int(blockIdx.y) / p.kv_heads, kvh = int(blockIdx.y) % p.kv_heads;
  const int m0 = mt * C::kRows, total_rows = p.rows.q_len * p.rows.group, off = p.kv_len - p.rows.q_len;
  const int R = m0 + warp;
  const bool row_valid = R < total_rows;
  const int token = R / p.rows.group;
  int n_tiles = (p.kv_len + C::kBN - 1) / C::kBN;
  if constexpr (CAUSAL) n_tiles = min(n_tiles, ((min(total_rows, m0 + C::kRows) - 1) / p.rows.group + off) / C::kBN + 1);

  float* const q_w = q_s + warp * D;
  float* const p_w = p_s + warp * C::kBN;
  for (int d = lane; d < D; d += 32) q_w[d] = row_valid ? __half2float(p.q[p.rows.offset(b, kvh, R, D) + d]) * p.scale_log2 : 0.0f;

  float o[C::kCols] = {};
  float m_run = -INFINITY, l_lane = 0.0f;
  for (int tile = 0; tile < n_tiles; ++tile) {
    __syncthreads();  // the previous tile is no longer read
    const int key0 = tile * C::kBN;
    for (int i = tid; i < C::kBN * D / 8; i += C::kThreads) {
      const int r = i / (D / 8), ch = i % (D / 8), key = key0 + r;
      const bool valid = key < p.kv_len;
      const std::int64_t row = ((std::int64_t(b) * p.kv_len + key) * p.kv_heads + kvh) * D + ch * 8;
      cp_async_16(k_s + r * C::kKLd + ch * 8, valid ? p.k + row : p.k, valid);
      cp_async_16(v_s + r * D + ch * 8, valid ? p.v + row : p.v, valid);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    float s0 = 0.0f, s1 = 0.0f;
#pragma unroll 4
    for (int d = 0; d < D; d += 8) {
      const float4 qa = *reinterpret_cast<const float4*>(q_w + d);
      const float4 qb = *reinterpret_cast<const float4*>(q_w + d + 4);
      add_dot8(s0, *reinterpret_cast<const uint4*>(k_s + lane * C::kKLd + d), qa, qb);
      add_dot8(s1, *reinterpret_cast<const uint4*>(k_s + (lane + 32) * C::kKLd + d), qa, qb);
    }
    const int ka = key0 + lane, kb = key0 + lane + 32;
    bool ma = ka >= p.kv_len, mb = kb >= p.kv_len;
    if constexpr (CAUSAL) {
      ma = ma || ka > token + off;
      mb = mb || kb > token + off;
    }
    if (ma) s0 = -INFINITY;
    if (mb) s1 = -INFINITY;
    float mx = fmaxf(s0, s1);
#pragma unroll
    for (int o2 = 16; o2 > 0; o2 >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o2));
    const float m_new = fmaxf(m_run, mx);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = fast_exp2(m_run - m_use);
    m_run = m_new;
    const float p0 = fast_exp2(s0 - m_use), p1 = fast_exp2(s1 - m_use);
    l_lane = l_lane * alpha + p0 + p1;
    p_w[lane] = p0;
    p_w[lane + 32] = p1;
#pragma unroll
    for (int c = 0; c < C::kCols; ++c) o[c] *= alpha;
    __syncwarp();

#pragma unroll 4
    for (int j = 0; j < C::kBN; j += 4) {
      const float4 pj = *reinterpret_cast<const float4*>(p_w + j);
      const float pp[4] = {pj.x, pj.y, pj.z, pj.w};
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        const __half* vr = v_s + (j + jj) * D + lane * C::kCols;
        if constexpr (C::kCols == 4) {
          const uint2 raw = *reinterpret_cast<const uint2*>(vr);
          const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
          const float2 c2 = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
          o[0] += pp[jj] * a.x;
          o[1] += pp[jj] * a.y;
          o[2] += pp[jj] * c2.x;
          o[3] += pp[jj] * c2.y;
        } else {
          const float2 a = __half22float2(*reinterpret_cast<const __half2*>(vr));
          o[0] += pp[jj] * a.x;
          o[1] += pp[jj] * a.y;
        }
      }
    }
  }
  float l = l_lane;
#pragma unroll
  for (int o2 = 16; o2 > 0; o2 >>= 1) l += __shfl_xor_sync(0xffffffffu, l, o2);
  if (!row_valid) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  __half* dst = p.out + p.rows.offset(b, kvh, R, D) + lane * C::kCols;
#pragma unroll
  for (int c = 0; c < C::kCols; c += 2) *reinterpret_cast<__half2*>(dst + c) = __floats2half2_rn(o[c] * inv, o[c + 1] * inv);
}

template <class Kernel>
void launch_with_smem(Kernel kernel, int smem_bytes, dim3 grid, int threads, const SimtParams& p, cudaStream_t stream,
                      bool& configured) {
  if (!configured) {
    ROOFLINE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes));
    configured = true;
  }
  kernel<<<grid, threads, smem_bytes, stream>>>(p);
  ROOFLINE_CUDA_CHECK_LAST();
}

template <int D, bool CAUSAL>
void launch_rope(const SimtParams& p, int batch, cudaStream_t stream) {
  static bool configured = false;
  launch_with_smem(fa2_simt_rope_kernel<D, CAUSAL>, RopeConfig<D>::kSmemBytes, dim3(p.m_tiles, batch * p.kv_heads),
                   RopeConfig<D>::kThreads, p, stream, configured);
}
template <int D, bool CAUSAL>
void launch_warp_row(const SimtParams& p, int batch, cudaStream_t stream) {
  static bool configured = false;
  launch_with_smem(fa2_simt_warp_row_kernel<D, CAUSAL>, WarpRowConfig<D>::kSmemBytes, dim3(p.m_tiles, batch * p.kv_heads),
                   WarpRowConfig<D>::kThreads, p, stream, configured);
}

SimtParams simt_params(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out, int block_m) {
  const int group = s.q_heads / s.kv_heads;
  return SimtParams{in.q,     in.k,       in.v,       nullptr, nullptr, out, PackedRows{group, s.q_heads, s.q_len},
                    s.kv_heads, s.kv_len, (s.q_len * group + block_m - 1) / block_m, softmax_scale * log2_e};
}

}  // namespace
}  // namespace device

void launch_fa2_simt_rope(const PrefillShape& s, const Fp16Qkv& in, const float* rope_cos, const float* rope_sin,
                          float softmax_scale, __half* out, cudaStream_t stream) {
  detail::require_shape(PrefillKernel::fa2_simt_rope, s);
  if (s.q_len > s.kv_len)  // query positions kv_len - q_len + i would index before the cos/sin table
    throw InvalidArgumentError("fa2_simt_rope: q_len " + std::to_string(s.q_len) + " > kv_len " + std::to_string(s.kv_len) +
                               " gives negative RoPE positions");
  detail::require_aligned(in.q, "fa2_simt_rope q");
  detail::require_aligned(in.k, "fa2_simt_rope k");
  detail::require_aligned(in.v, "fa2_simt_rope v");
  detail::require_aligned(rope_cos, "fa2_simt_rope cos");
  detail::require_aligned(rope_sin, "fa2_simt_rope sin");
  detail::require_aligned(out, "fa2_simt_rope out");
  device::SimtParams p = device::simt_params(s, in, softmax_scale, out, device::RopeConfig<64>::kBM);
  p.rope_cos = rope_cos;
  p.rope_sin = rope_sin;
  if (s.head_dim == 64) {
    if (s.causal) device::launch_rope<64, true>(p, s.batch, stream);
    else device::launch_rope<64, false>(p, s.batch, stream);
  } else {
    if (s.causal) device::launch_rope<128, true>(p, s.batch, stream);
    else device::launch_rope<128, false>(p, s.batch, stream);
  }
}

void launch_fa2_simt_warp_row(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out,
                              cudaStream_t stream) {
  detail::require_shape(PrefillKernel::fa2_simt_warp_row, s);
  detail::require_aligned(in.q, "fa2_simt_warp_row q");
  detail::require_aligned(in.k, "fa2_simt_warp_row k");
  detail::require_aligned(in.v, "fa2_simt_warp_row v");
  detail::require_aligned(out, "fa2_simt_warp_row out");
  const device::SimtParams p = device::simt_params(s, in, softmax_scale, out, device::WarpRowConfig<64>::kRows);
  if (s.head_dim == 64) {
    if (s.causal) device::launch_warp_row<64, true>(p, s.batch, stream);
    else device::launch_warp_row<64, false>(p, s.batch, stream);
  } else {
    if (s.causal) device::launch_warp_row<128, true>(p, s.batch, stream);
    else device::launch_warp_row<128, false>(p, s.batch, stream);
  }
}

}  // namespace roofline::validate::prefill
