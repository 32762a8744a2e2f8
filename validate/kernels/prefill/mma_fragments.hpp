// Fragment addressing of mma_attention.cuh, host and device, so that a CPU emulation of ldmatrix and
// mma.sync (tests/test_mma_fragments.cpp) checks the kernel's data flow against the PTX layouts.
// PTX ISA, "Matrix fragments for mma.m16n8k16 / m16n8k32" (lane = 4g + t):
//   16-bit A reg r, half h: row g + 8(r & 1), col 2t + h + 8(r >> 1);  B reg r, half h: k 2t + h + 8r, col g
//   8-bit  A reg r, byte y: row g + 8(r & 1), col 4t + y + 16(r >> 1); B reg r, byte y: k 4t + y + 16r, col g
//   C element e: row g + 8(e >> 1), col 2t + (e & 1)
// ldmatrix.x4: lanes 8q .. 8q+7 give the row addresses of matrix q; lane L receives in register q the
// 4 bytes at byte 4(L % 4) of row L / 4 (.trans: the 16-bit elements (2(L % 4), L / 4), (2(L % 4)+1, L / 4)).
// Tiles in shared memory are rows of 16-byte chunks; chunk c of row r sits at swizzle<ROW_BYTES>(r, c).
#pragma once

#include "prefill_math.hpp"

namespace roofline::validate::prefill::frag {

/// Byte offset of 16-byte chunk `chunk` of row `row` in a tile whose rows are ROW_BYTES long: the chunk
/// index is XORed with bits of the row so that the 8 rows an ldmatrix reads hit 8 distinct 16-byte bank
/// groups (rows of >= 128 bytes: row & 7; rows of 64 bytes: (row >> 1) & 3, two rows per 128 bytes).
template <int ROW_BYTES>
ROOFLINE_PREFILL_HD int swizzle(int row, int chunk) {
  static_assert(ROW_BYTES == 64 || ROW_BYTES % 128 == 0, "rows of 64 bytes or a multiple of 128");
  if constexpr (ROW_BYTES >= 128) {
    return row * ROW_BYTES + ((chunk ^ (row & 7)) << 4);
  } else {
    return row * ROW_BYTES + ((chunk ^ ((row >> 1) & 3)) << 4);
  }
}

// ---- S = Q·Kᵀ: k-step ks covers bytes 32ks .. 32ks+31 of a row (16 fp16 or 32 int8 channels) ----------
/// Q (A operand, m16 block mi of warp `warp`): matrices (rows 0-7 | 8-15) × (chunk 2ks | 2ks+1).
ROOFLINE_PREFILL_HD int q_row(int warp, int mi, int lane) { return warp * 32 + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8; }
ROOFLINE_PREFILL_HD int q_chunk(int ks, int lane) { return 2 * ks + (lane >> 4); }
/// K (B operand of the n8 blocks 2np, 2np+1): registers b0, b1 of block 2np, then b0, b1 of 2np+1.
ROOFLINE_PREFILL_HD int k_row(int np, int lane) { return np * 16 + (lane & 7) + ((lane >> 4) & 1) * 8; }
ROOFLINE_PREFILL_HD int k_chunk(int ks, int lane) { return 2 * ks + ((lane >> 3) & 1); }

// ---- O += P·V --------------------------------------------------------------------------------------------
/// V [key][d] fp16 through ldmatrix.trans (keys ks·16 ..; n8 blocks 2dp, 2dp+1): b0, b1 of 2dp, then 2dp+1.
ROOFLINE_PREFILL_HD int v_row(int ks, int lane) { return ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8; }
ROOFLINE_PREFILL_HD int v_chunk(int dp, int lane) { return 2 * dp + (lane >> 4); }
/// Vt [d][64 keys] int8 (fa2_int8): rows of the n8 blocks 4dq .. 4dq+3, chunk = the 16-key group ks;
/// register j holds 4 bytes of n8 block 4dq + j (keys 2t, 2t+1 → b0, keys 8+2t, 9+2t → b1).
ROOFLINE_PREFILL_HD int vt8_row(int dq, int lane) { return dq * 32 + (lane >> 3) * 8 + (lane & 7); }
/// Vt [d][64 keys] e4m3 (sage_int8_fp8), k32-step kc: b0, b1 (key groups 2kc, 2kc+1) of n8 block 2dp,
/// then of 2dp+1.
ROOFLINE_PREFILL_HD int vtf8_row(int dp, int lane) { return (2 * dp + (lane >> 4)) * 8 + (lane & 7); }
ROOFLINE_PREFILL_HD int vtf8_chunk(int kc, int lane) { return 2 * kc + ((lane >> 3) & 1); }

/// P as an fp16 A operand of k-step ks (16 keys): register reg, half h comes from S accumulator
/// s[p16_nb(ks, reg)][p16_e(reg, h)].
ROOFLINE_PREFILL_HD int p16_nb(int ks, int reg) { return 2 * ks + (reg >> 1); }
ROOFLINE_PREFILL_HD int p16_e(int reg, int h) { return 2 * (reg & 1) + h; }
/// P as an e4m3 A operand of k32-step kc: register reg, byte y comes from s[p8_nb(kc, reg, y)][p8_e(reg, y)].
/// Logical k = 4t + y (+16) then holds key vt_key_at_position(k) of the tile, which is how Vt is stored.
ROOFLINE_PREFILL_HD int p8_nb(int kc, int reg, int y) { return 4 * kc + 2 * (reg >> 1) + (y >> 1); }
ROOFLINE_PREFILL_HD int p8_e(int reg, int y) { return 2 * (reg & 1) + (y & 1); }

/// fp16 bits of 1152 + code for an int8 code: 0x6400 is 1024 and (code ^ 0x80) = code + 128 fills the
/// mantissa (device: one __byte_perm per two codes; then subtracting 1152 + zero is exact).
ROOFLINE_PREFILL_HD unsigned biased_int8_as_fp16_bits(int code) { return 0x6400u | (unsigned(code & 0xFF) ^ 0x80u); }

}  // namespace roofline::validate::prefill::frag
