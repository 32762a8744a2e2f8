// The decode kernels (templates) and their launchers; instantiated in decode_inst_*.cu, dispatched in
// decode_host.cu. See decode_device.cuh for the design and DESIGN notes in docs/kernels-decode.md.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_util.hpp"
#include "decode_api.hpp"
#include "decode_device.cuh"

namespace roofline::validate::decode {

/// Raw pointers of a pruned launch.
struct PrunedPointers {
  const void* q;
  const void* keys;       // k_q (2-bit) or k_base (e5m2)
  const float* scale;     // (a)
  const float* zero;      // (a)
  const void* residual;   // may be null when the residual is off
  const void* v;
  const float* threshold; // null: none
  void* out;
};

namespace dev {

struct PrunedDev {
  const __half* q;
  const unsigned char* keys;
  const float* scale;
  const float* zero;
  const unsigned char* residual;
  const __half* v;
  const float* threshold;
  unsigned char* keep;
  int HQ, HKV, T, nsub, sub_per_split, bs, ntb, scale_block, nsets;
  float L, delta;
  int use_res, prune;
  MergeArgs merge;
};

__host__ __device__ constexpr int align16(int x) { return (x + 15) / 16 * 16; }

template <int FMT, int D, int G, int SBS>
struct PrunedSmem {
  static constexpr int kScanRow = FMT == 0 ? D / 4 : D;
  static constexpr int kNScan = FMT == 0 ? 8 : 4;
  static constexpr int kScanSlot = kTile * kScanRow;
  static constexpr int kResSlot = kTile * D;
  static constexpr int kVSlot = kTile * 2 * D;
  static constexpr int kWarpBytes = kNScan * kScanSlot + 2 * (kResSlot + kVSlot) + align16(kTile * G * 4);
  static constexpr int kHeader = align16((G * D + kWarps * G) * 4);
  static constexpr int kBytes = kHeader + kWarps * kWarpBytes;
  static_assert(kWarps * kWarpBytes >= 4 * (kWarps * G * (D + 2)), "merge scratch must fit");
  static_assert(kWarps * kWarpBytes >= 4 * (G * kMaxSplits + 2 * G), "combine scratch must fit");
};

/// s = base scores of a tile in the C layout: (a) (c + Σ q·zero)·L, (b) c·L; −inf for tokens >= T and
/// heads >= G.
template <int FMT, int G>
__device__ __forceinline__ void tile_scores(float s[4], const float c[4], const float qz[2], float L, int tok0, int T,
                                            int g, int t) {
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int tok = tok0 + g + 8 * (j >> 1), head = 2 * t + (j & 1);
    const float x = FMT == 0 ? (c[j] + qz[j & 1]) * L : c[j] * L;
    s[j] = (tok < T && head < G) ? x : neg_inf();
  }
}

template <int FMT, int D, int G, int SBS>
__global__ void __launch_bounds__(kThreads) pruned_decode_kernel(const PrunedDev p) {
  using Sm = PrunedSmem<FMT, D, G, SBS>;
  using Frag = std::conditional_t<FMT == 0, Q2Frag<D>, Fp8Frag<D>>;
  constexpr int TPS = SBS / kTile;
  constexpr int kScanItems = Sm::kScanSlot / 16;  // 16-byte copies per scan tile
  extern __shared__ __align__(16) unsigned char smem[];
  float* q_s = reinterpret_cast<float*>(smem);
  float* thmax_s = q_s + G * D;
  const int kvh = blockIdx.x, split = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  unsigned char* wbase = smem + Sm::kHeader + warp * Sm::kWarpBytes;
  unsigned char* scan_ring = wbase;
  unsigned char* res_ring = scan_ring + Sm::kNScan * Sm::kScanSlot;
  unsigned char* v_ring = res_ring + 2 * Sm::kResSlot;
  float* p_s = reinterpret_cast<float*>(v_ring + 2 * Sm::kVSlot);
  const int T = p.T, HKV = p.HKV;
  const std::size_t row_bh = std::size_t(b) * T;  // token rows of batch b start at (b·T + t)·HKV + kvh

  for (int i = tid; i < G * D; i += kThreads) q_s[i] = __half2float(p.q[(std::size_t(b) * p.HQ + kvh * G) * D + i]);
  __syncthreads();

  unsigned qf[D / 16][2];  // q in the byte map (residual, e5m2 base)
  build_q_frags<D, G, 1, false>(qf, q_s, nullptr, g, t);
  unsigned qsf[D / 16][2];  // (a): fp16(q·scale) in the 2-bit map
  float qz[2] = {0.0f, 0.0f};
  int cur_set = -1;
  auto load_set = [&](int set) {
    if constexpr (FMT == 0) {
      const std::size_t off = (std::size_t(b) * HKV + kvh) * p.nsets + set;
      build_q_frags<D, G, 0, false>(qsf, q_s, p.scale + off * D, g, t);
      q_dot_zero<D, G>(qz, q_s, p.zero + off * D, g, t);
    }
    cur_set = set;
  };
  if constexpr (FMT == 0) load_set(0);
  auto base_mma = [&](const Frag& f, float c[4]) {
    if constexpr (FMT == 0) f.mma(c, qsf); else f.mma(c, qf);
  };

  auto key_row = [&](int tok) {
    return p.keys + ((row_bh + tok) * HKV + kvh) * std::size_t(Sm::kScanRow);
  };

  // ---- this warp's stream of scan tiles --------------------------------------------------------------
  const int sb_begin = split * p.sub_per_split, sb_end = min(p.nsub, sb_begin + p.sub_per_split);
  const int my_count = sb_end - sb_begin > warp ? (sb_end - sb_begin - warp + kWarps - 1) / kWarps : 0;
  auto issue_scan = [&](int n) {
    const int k = n / TPS;
    if (k < my_count) {
      const int tok0 = (sb_begin + warp + kWarps * k) * SBS + kTile * (n % TPS);
      unsigned char* slot = scan_ring + (n % Sm::kNScan) * Sm::kScanSlot;
      for (int item = lane; item < kScanItems; item += 32) {
        const int row = item / (Sm::kScanRow / 16), c = item % (Sm::kScanRow / 16);
        const bool valid = tok0 + row < T;
        cp_async16(slot + row * Sm::kScanRow + 16 * swz<Sm::kScanRow>(row, c), key_row(valid ? tok0 + row : 0) + 16 * c,
                   valid);
      }
    }
    cp_async_commit();
  };
#pragma unroll
  for (int n = 0; n < Sm::kNScan - 1; ++n) issue_scan(n);

  // ---- threshold from the true first and last BS-token blocks (base scores only) ------------------
  float th_own[2] = {pos_inf(), pos_inf()};
  if (p.prune) {
    float tm0 = neg_inf(), tm1 = neg_inf();
    const int nt_first = (min(p.bs, T) + kTile - 1) / kTile;
    const int last0 = (p.ntb - 1) * p.bs;
    const int nt_last = (T - last0 + kTile - 1) / kTile;
    for (int j = warp; j < nt_first + nt_last; j += kWarps) {
      const int tok0 = j < nt_first ? kTile * j : last0 + kTile * (j - nt_first);
      if (FMT == 0 && p.scale_block > 0 && tok0 / p.scale_block != cur_set) load_set(tok0 / p.scale_block);
      Frag f;
      const bool v0 = tok0 + g < T, v1 = tok0 + g + 8 < T;
      f.load_global(key_row(v0 ? tok0 + g : 0), key_row(v1 ? tok0 + g + 8 : 0), v0, v1, t);
      float c[4] = {0.0f, 0.0f, 0.0f, 0.0f}, s[4];
      base_mma(f, c);
      tile_scores<FMT, G>(s, c, qz, p.L, tok0, T, g, t);
      tm0 = fmaxf(tm0, fmaxf(s[0], s[2]));
      tm1 = fmaxf(tm1, fmaxf(s[1], s[3]));
    }
#pragma unroll
    for (int off = 4; off < 32; off <<= 1) {
      tm0 = fmaxf(tm0, __shfl_xor_sync(0xffffffffu, tm0, off));
      tm1 = fmaxf(tm1, __shfl_xor_sync(0xffffffffu, tm1, off));
    }
    if (g == 0) {
      if (2 * t < G) thmax_s[warp * G + 2 * t] = tm0;
      if (2 * t + 1 < G) thmax_s[warp * G + 2 * t + 1] = tm1;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      const int h = 2 * t + k;
      if (h < G) {
        float M = neg_inf();
#pragma unroll
        for (int w = 0; w < kWarps; ++w) M = fmaxf(M, thmax_s[w * G + h]);
        th_own[k] = p.threshold != nullptr ? fminf(p.threshold[std::size_t(b) * p.HQ + kvh * G + h], M) : M - p.delta;
      }
    }
  }

  // ---- main loop: scan, decide, refine + softmax + P·V for kept sub-blocks -------------------------
  WarpState<D, G> st;
  st.init();
  int n = 0;
  for (int k = 0; k < my_count; ++k) {
    const int sb = sb_begin + warp + kWarps * k;
    if (FMT == 0 && p.scale_block > 0 && (sb * SBS) / p.scale_block != cur_set) load_set((sb * SBS) / p.scale_block);
    float sc[TPS][4];
#pragma unroll
    for (int i = 0; i < TPS; ++i, ++n) {
      issue_scan(n + Sm::kNScan - 1);
      cp_async_wait<Sm::kNScan - 1>();
      __syncwarp();
      Frag f;
      f.load_smem(scan_ring + (n % Sm::kNScan) * Sm::kScanSlot, g, t);
      __syncwarp();
      float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      base_mma(f, c);
      tile_scores<FMT, G>(sc[i], c, qz, p.L, sb * SBS + kTile * i, T, g, t);
    }
    bool keep = true;
    if (p.prune) {
      float m0 = neg_inf(), m1 = neg_inf();
#pragma unroll
      for (int i = 0; i < TPS; ++i) {
        m0 = fmaxf(m0, fmaxf(sc[i][0], sc[i][2]));
        m1 = fmaxf(m1, fmaxf(sc[i][1], sc[i][3]));
      }
#pragma unroll
      for (int off = 4; off < 32; off <<= 1) {
        m0 = fmaxf(m0, __shfl_xor_sync(0xffffffffu, m0, off));
        m1 = fmaxf(m1, __shfl_xor_sync(0xffffffffu, m1, off));
      }
      keep = __any_sync(0xffffffffu, m0 >= th_own[0] || m1 >= th_own[1]);
    }
    if (lane == 0) p.keep[(std::size_t(b) * HKV + kvh) * p.nsub + sb] = keep ? 1 : 0;
    if (!keep) continue;

    auto issue_ref = [&](int i) {
      const int tok0 = sb * SBS + kTile * i;
      if (i < TPS && tok0 < T) {
        const int slot = i & 1;
        if (p.use_res) {
          for (int item = lane; item < kTile * D / 16; item += 32) {
            const int row = item / (D / 16), c = item % (D / 16);
            const bool valid = tok0 + row < T;
            cp_async16(res_ring + slot * Sm::kResSlot + row * D + 16 * swz<D>(row, c),
                       p.residual + ((row_bh + (valid ? tok0 + row : 0)) * HKV + kvh) * std::size_t(D) + 16 * c, valid);
          }
        }
        for (int item = lane; item < kTile * 2 * D / 16; item += 32) {
          const int row = item / (2 * D / 16), c = item % (2 * D / 16);
          const bool valid = tok0 + row < T;
          cp_async16(v_ring + slot * Sm::kVSlot + row * 2 * D + 16 * c,
                     reinterpret_cast<const unsigned char*>(p.v) +
                         ((row_bh + (valid ? tok0 + row : 0)) * HKV + kvh) * std::size_t(2 * D) + 16 * c,
                     valid);
        }
      }
      cp_async_commit();
    };
    issue_ref(0);
    issue_ref(1);
#pragma unroll
    for (int i = 0; i < TPS; ++i) {
      cp_async_wait<1>();
      __syncwarp();
      if (sb * SBS + kTile * i < T) {
        float s[4] = {sc[i][0], sc[i][1], sc[i][2], sc[i][3]};
        if (p.use_res) {
          Fp8Frag<D> f;
          f.load_smem(res_ring + (i & 1) * Sm::kResSlot, g, t);
          float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          f.mma(c, qf);
#pragma unroll
          for (int j = 0; j < 4; ++j) s[j] = s[j] + c[j] * p.L;  // −inf stays −inf
        }
        softmax_pv_tile<D, G, false>(st, s, v_ring + (i & 1) * Sm::kVSlot, p_s, lane);
      }
      __syncwarp();
      issue_ref(i + 2);
    }
  }
  cp_async_wait<0>();
  __syncthreads();
  finish_cta<D, G, __half>(st, reinterpret_cast<float*>(smem + Sm::kHeader), p.merge, b, kvh, split);
}

// ---- dense split-KV decode ------------------------------------------------------------------------
struct DenseDev {
  const void* q;
  const unsigned char* k;
  const unsigned char* v;
  int HQ, HKV, T, ntile, tiles_per_split;
  float L;
  MergeArgs merge;
};

template <int D, int G>
struct DenseSmem {
  static constexpr int kStages = 3;
  static constexpr int kSlot = kTile * 2 * D;  // K or V rows of one tile
  static constexpr int kWarpBytes = kStages * 2 * kSlot + align16(kTile * G * 4);
  static constexpr int kHeader = align16(G * D * 4);
  static constexpr int kBytes = kHeader + kWarps * kWarpBytes;
  static_assert(kWarps * kWarpBytes >= 4 * (kWarps * G * (D + 2)), "merge scratch must fit");
  static_assert(kWarps * kWarpBytes >= 4 * (G * kMaxSplits + 2 * G), "combine scratch must fit");
};

template <int D, int G, bool BF16>
__global__ void __launch_bounds__(kThreads) dense_decode_kernel(const DenseDev p) {
  using Sm = DenseSmem<D, G>;
  using T16 = std::conditional_t<BF16, __nv_bfloat16, __half>;
  extern __shared__ __align__(16) unsigned char smem[];
  float* q_s = reinterpret_cast<float*>(smem);
  const int kvh = blockIdx.x, split = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  unsigned char* ring = smem + Sm::kHeader + warp * Sm::kWarpBytes;
  float* p_s = reinterpret_cast<float*>(ring + Sm::kStages * 2 * Sm::kSlot);
  const int T = p.T, HKV = p.HKV;
  const std::size_t row_bh = std::size_t(b) * T;
  const T16* q = static_cast<const T16*>(p.q);
  for (int i = tid; i < G * D; i += kThreads) {
    const T16 x = q[(std::size_t(b) * p.HQ + kvh * G) * D + i];
    if constexpr (BF16) q_s[i] = __bfloat162float(x); else q_s[i] = __half2float(x);
  }
  __syncthreads();
  unsigned qf[D / 16][2];
  build_q_frags<D, G, 2, BF16>(qf, q_s, nullptr, g, t);

  const int tile_begin = split * p.tiles_per_split, tile_end = min(p.ntile, tile_begin + p.tiles_per_split);
  const int my_count = tile_end - tile_begin > warp ? (tile_end - tile_begin - warp + kWarps - 1) / kWarps : 0;
  auto issue = [&](int n) {
    if (n < my_count) {
      const int tok0 = (tile_begin + warp + kWarps * n) * kTile;
      unsigned char* ks = ring + (n % Sm::kStages) * 2 * Sm::kSlot;
      unsigned char* vs = ks + Sm::kSlot;
      for (int item = lane; item < kTile * 2 * D / 16; item += 32) {
        const int row = item / (2 * D / 16), c = item % (2 * D / 16);
        const bool valid = tok0 + row < T;
        const std::size_t off = ((row_bh + (valid ? tok0 + row : 0)) * HKV + kvh) * std::size_t(2 * D) + 16 * c;
        cp_async16(ks + row * 2 * D + 16 * swz<2 * D>(row, c), p.k + off, valid);
        cp_async16(vs + row * 2 * D + 16 * c, p.v + off, valid);
      }
    }
    cp_async_commit();
  };
  issue(0);
  issue(1);
  WarpState<D, G> st;
  st.init();
  for (int n = 0; n < my_count; ++n) {
    issue(n + 2);
    cp_async_wait<2>();
    __syncwarp();
    const unsigned char* ks = ring + (n % Sm::kStages) * 2 * Sm::kSlot;
    Half16Frag<D, BF16> f;
    f.load_smem(ks, g, t);
    float c[4] = {0.0f, 0.0f, 0.0f, 0.0f}, s[4];
    f.mma(c, qf);
    const int tok0 = (tile_begin + warp + kWarps * n) * kTile;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int tok = tok0 + g + 8 * (j >> 1), head = 2 * t + (j & 1);
      s[j] = (tok < T && head < G) ? c[j] * p.L : neg_inf();
    }
    softmax_pv_tile<D, G, BF16>(st, s, ks + Sm::kSlot, p_s, lane);
  }
  cp_async_wait<0>();
  __syncthreads();
  finish_cta<D, G, T16>(st, reinterpret_cast<float*>(smem + Sm::kHeader), p.merge, b, kvh, split);
}

/// Stage 2 as its own kernel (non-fused mode): grid (HKV, B).
template <int D, int G, typename OutT>
__global__ void __launch_bounds__(kThreads) combine_kernel(const MergeArgs a) {
  extern __shared__ __align__(16) float scratch[];
  combine_splits<D, G, OutT>(a, blockIdx.y, blockIdx.x, scratch);
}

}  // namespace dev

/// Device properties the launchers need (cached).
int sm_count_cached();

template <int FMT, int D, int G, int SBS>
LaunchInfo launch_pruned(const PrunedLaunch& l, const PrunedPointers& ptr, DecodeWorkspace& ws, cudaStream_t stream);
template <int D, int G, bool BF16>
LaunchInfo launch_dense(const DenseLaunch& l, const void* q, const void* k, const void* v, void* out,
                        DecodeWorkspace& ws, cudaStream_t stream);

// ---- launcher definitions (instantiated in decode_inst_*.cu) ----------------------------------------
namespace detail {
template <typename Kernel>
int ctas_per_sm(Kernel kernel, int smem_bytes) {
  DECODE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes));
  int n = 0;
  DECODE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, dev::kThreads, smem_bytes));
  if (n < 1) throw DecodeCudaError("decode: kernel does not fit on one SM (" + std::to_string(smem_bytes) + " B of shared memory)");
  return n;
}

template <int D, int G, typename OutT>
void launch_combine(const dev::MergeArgs& m, int batch, int kv_heads, cudaStream_t stream) {
  const int smem = (G * dev::kMaxSplits + 2 * G) * 4;
  dev::combine_kernel<D, G, OutT><<<dim3(kv_heads, batch), dev::kThreads, smem, stream>>>(m);
  DECODE_CUDA_CHECK_LAST();
}

void check_workspace(const DecodeWorkspace& ws, int batch, int q_heads, int kv_heads, int head_dim, int sub_blocks,
                     int splits);
}  // namespace detail

template <int FMT, int D, int G, int SBS>
LaunchInfo launch_pruned(const PrunedLaunch& l, const PrunedPointers& ptr, DecodeWorkspace& ws, cudaStream_t stream) {
  using Sm = dev::PrunedSmem<FMT, D, G, SBS>;
  auto kernel = dev::pruned_decode_kernel<FMT, D, G, SBS>;
  static const int per_sm = detail::ctas_per_sm(kernel, Sm::kBytes);
  const double scan_bytes = FMT == 0 ? D / 4.0 : double(D);
  int max_splits = std::min(dev::kMaxSplits, max_splits_for_partials(l.kv_len, l.q_heads, l.kv_heads, D, scan_bytes, 0.125));
  if (l.config.num_splits > 0) max_splits = std::min(dev::kMaxSplits, l.config.num_splits);
  SplitPlan plan = plan_splits(l.sub_blocks, l.batch * l.kv_heads, per_sm * sm_count_cached(), dev::kWarps,
                               max_splits);
  if (l.config.num_splits > 0) plan = plan_splits(l.sub_blocks, 1, l.config.num_splits, 1, max_splits);
  detail::check_workspace(ws, l.batch, l.q_heads, l.kv_heads, D, l.sub_blocks, plan.splits);
  dev::PrunedDev p{};
  p.q = static_cast<const __half*>(ptr.q);
  p.keys = static_cast<const unsigned char*>(ptr.keys);
  p.scale = ptr.scale;
  p.zero = ptr.zero;
  p.residual = static_cast<const unsigned char*>(ptr.residual);
  p.v = static_cast<const __half*>(ptr.v);
  p.threshold = ptr.threshold;
  p.keep = ws.keep;
  p.HQ = l.q_heads; p.HKV = l.kv_heads; p.T = l.kv_len; p.nsub = l.sub_blocks;
  p.sub_per_split = plan.units_per_split; p.bs = l.config.bs; p.ntb = l.blocks;
  p.scale_block = l.scale_block; p.nsets = l.scale_blocks;
  p.L = l.log2e_scale; p.delta = l.config.delta;
  p.use_res = l.config.use_fp8_residual ? 1 : 0;
  p.prune = l.config.prune ? 1 : 0;
  p.merge = dev::MergeArgs{l.batch, l.q_heads, l.kv_heads, plan.splits, ws.o_part, ws.ml_part, ws.counters, ptr.out,
                           l.config.fused_combine};
  kernel<<<dim3(l.kv_heads, plan.splits, l.batch), dev::kThreads, Sm::kBytes, stream>>>(p);
  DECODE_CUDA_CHECK_LAST();
  LaunchInfo info{plan.splits, plan.units_per_split, l.kv_heads * plan.splits * l.batch, 1, dev::kThreads, Sm::kBytes};
  if (plan.splits > 1 && !l.config.fused_combine) {
    detail::launch_combine<D, G, __half>(p.merge, l.batch, l.kv_heads, stream);
    info.kernels = 2;
  }
  return info;
}

template <int D, int G, bool BF16>
LaunchInfo launch_dense(const DenseLaunch& l, const void* q, const void* k, const void* v, void* out,
                        DecodeWorkspace& ws, cudaStream_t stream) {
  using Sm = dev::DenseSmem<D, G>;
  using T16 = std::conditional_t<BF16, __nv_bfloat16, __half>;
  auto kernel = dev::dense_decode_kernel<D, G, BF16>;
  static const int per_sm = detail::ctas_per_sm(kernel, Sm::kBytes);
  const int ntile = (l.kv_len + dev::kTile - 1) / dev::kTile;
  SplitPlan plan = plan_splits(ntile, l.batch * l.kv_heads, per_sm * sm_count_cached(), 2 * dev::kWarps, dev::kMaxSplits);
  if (l.num_splits > 0) plan = plan_splits(ntile, 1, l.num_splits, 1, dev::kMaxSplits);
  detail::check_workspace(ws, l.batch, l.q_heads, l.kv_heads, D, 0, plan.splits);
  dev::DenseDev p{};
  p.q = q;
  p.k = static_cast<const unsigned char*>(k);
  p.v = static_cast<const unsigned char*>(v);
  p.HQ = l.q_heads; p.HKV = l.kv_heads; p.T = l.kv_len; p.ntile = ntile; p.tiles_per_split = plan.units_per_split;
  p.L = l.log2e_scale;
  p.merge = dev::MergeArgs{l.batch, l.q_heads, l.kv_heads, plan.splits, ws.o_part, ws.ml_part, ws.counters, out, true};
  kernel<<<dim3(l.kv_heads, plan.splits, l.batch), dev::kThreads, Sm::kBytes, stream>>>(p);
  DECODE_CUDA_CHECK_LAST();
  return LaunchInfo{plan.splits, plan.units_per_split, l.kv_heads * plan.splits * l.batch, 1, dev::kThreads, Sm::kBytes};
}

}  // namespace roofline::validate::decode
