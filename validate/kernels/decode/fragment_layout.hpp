// Which head-dimension channel each register slot of an mma.sync.m16n8k16 operand holds in the decode
// kernels (host and device). Tokens are the M dimension (A = keys, 16 tokens × 16 channels per k-step),
// query heads the N dimension (B = queries, 8 columns: the G ≤ 8 heads of one GQA group), so every K byte
// is read once per KV head. The contraction over channels is order-free, so each lane is given channels
// that it can load with wide contiguous loads and convert with few instructions; A (keys) and B (queries)
// use the same map. PTX ISA, "Matrix fragments for mma.m16n8k16": lane = 4g + t; A regs hold
// (row g | g+8) × (cols 2t, 2t+1 | 2t+8, 2t+9); B regs hold rows (2t, 2t+1 | 2t+8, 2t+9) × col g;
// C holds rows g, g+8 × cols 2t, 2t+1.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ROOFLINE_HD __host__ __device__ inline
#else
#define ROOFLINE_HD inline
#endif

namespace roofline::validate::decode {

/// A k-slot of an m16n8k16 A row (or B column): 0 = col 2t, 1 = col 2t+1, 2 = col 2t+8, 3 = col 2t+9.
/// Byte-element keys (fp8, bf16): lane t owns the 16-byte chunks t, t+4, t+8, ... of a key row; k-step s
/// uses 4 consecutive channels of one chunk: slots 0,1 = channels c, c+1 and slots 2,3 = c+2, c+3, so a
/// 32-bit word (two bf16) or a 16-bit pair (two fp8) feeds one register directly.
ROOFLINE_HD int channel_bytes(int head_dim, int element_bytes, int t, int s, int slot) {
  const int per_chunk = 16 / element_bytes;  // channels in a 16-byte chunk
  const int steps_per_chunk = per_chunk / 4;  // k-steps fed by one chunk
  const int chunk = t + 4 * (s / steps_per_chunk);
  (void)head_dim;
  return chunk * per_chunk + 4 * (s % steps_per_chunk) + slot;
}

/// 2-bit keys: a row is head_dim/4 bytes (code of channel c in bits 2(c%4) of byte c/4). Lane t owns the
/// head_dim/16 bytes starting at t·head_dim/16, read as 32-bit words; word w gives k-steps 4w .. 4w+3.
/// Pair e (0..7) of a word holds code e of its low 16 bits and code e of its high 16 bits (channels
/// x and x+8); k-step s uses pair 2(s%4) for slots 0,1 and pair 2(s%4)+1 for slots 2,3.
ROOFLINE_HD int channel_2bit(int head_dim, int t, int s, int slot) {
  const int base = 4 * (t * (head_dim / 16) + 4 * (s / 4));  // first channel of the word
  const int e = 2 * (s % 4) + (slot >> 1);
  return base + e + 8 * (slot & 1);
}

/// The two codes (low half, high half) that pair e of a packed word decodes to: the bit trick used on
/// the device is (w >> (e < 5 ? 0 : 10)) & (3 << 2e') | 0x6400_6400 -> fp16 (1024 + c·4^e'), then
/// fma(x, 4^-e', -1024·4^-e') = c exactly, with e' = e < 5 ? e : e − 5. This is the host mirror.
ROOFLINE_HD void decode_pair_2bit(std::uint32_t w, int e, int* lo, int* hi) {
  const std::uint32_t src = e < 5 ? w : (w >> 10);
  const int ep = e < 5 ? e : e - 5;
  const std::uint32_t masked = src & (0x00030003u << (2 * ep));
  *lo = int((masked & 0xFFFFu) >> (2 * ep));
  *hi = int((masked >> 16) >> (2 * ep));
}

}  // namespace roofline::validate::decode
