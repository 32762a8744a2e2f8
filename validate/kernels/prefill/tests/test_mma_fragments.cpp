// CPU emulation of the data flow of mma_attention.cuh: tiles are placed in an emulated shared memory
// exactly as the kernel's cp.async loops place them, fragments are read with an emulated ldmatrix at the
// addresses mma_fragments.hpp gives, multiplied with an emulated mma.sync whose operand layouts are
// written here from the PTX ISA tables (independently of mma_fragments.hpp), and every accumulator is
// compared with a direct dot product over the (row, column) its C-layout position stands for.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "../mma_fragments.hpp"
#include "../prefill_quant.hpp"
#include "attention_data.hpp"
#include "roofline/precision.hpp"

using namespace roofline;
using namespace roofline::validate;
using namespace roofline::validate::prefill;

namespace {

// ---- PTX layouts (lane = 4g + t) ---------------------------------------------------------------------------
int lane_g(int lane) { return lane >> 2; }
int lane_t(int lane) { return lane & 3; }
// 16-bit m16n8k16
int a16_row(int lane, int r) { return lane_g(lane) + 8 * (r & 1); }
int a16_col(int lane, int r, int h) { return 2 * lane_t(lane) + h + 8 * (r >> 1); }
int b16_k(int lane, int r, int h) { return 2 * lane_t(lane) + h + 8 * r; }
// 8-bit m16n8k32
int a8_row(int lane, int r) { return lane_g(lane) + 8 * (r & 1); }
int a8_col(int lane, int r, int y) { return 4 * lane_t(lane) + y + 16 * (r >> 1); }
int b8_k(int lane, int r, int y) { return 4 * lane_t(lane) + y + 16 * r; }
// C (both)
int c_row(int lane, int e) { return lane_g(lane) + 8 * (e >> 1); }
int c_col(int lane, int e) { return 2 * lane_t(lane) + (e & 1); }

using Regs = std::array<std::array<std::uint32_t, 4>, 32>;  // [lane][register]
using Acc = std::array<std::array<double, 4>, 32>;          // [lane][C element]

// ldmatrix.x4: lanes 8q .. 8q+7 give the rows of matrix q; lane L gets row L/4, bytes 4(L%4) .. +3.
Regs ldmatrix_x4(const std::vector<std::uint8_t>& smem, const std::array<int, 32>& addr) {
  Regs r{};
  for (int lane = 0; lane < 32; ++lane)
    for (int q = 0; q < 4; ++q) std::memcpy(&r[lane][q], &smem[addr[8 * q + lane / 4] + 4 * (lane % 4)], 4);
  return r;
}
// .trans: lane L gets the 16-bit elements (row 2(L%4), col L/4) and (row 2(L%4)+1, col L/4).
Regs ldmatrix_x4_trans(const std::vector<std::uint8_t>& smem, const std::array<int, 32>& addr) {
  Regs r{};
  for (int lane = 0; lane < 32; ++lane)
    for (int q = 0; q < 4; ++q) {
      std::uint16_t lo, hi;
      std::memcpy(&lo, &smem[addr[8 * q + 2 * (lane % 4)] + 2 * (lane / 4)], 2);
      std::memcpy(&hi, &smem[addr[8 * q + 2 * (lane % 4) + 1] + 2 * (lane / 4)], 2);
      r[lane][q] = lo | (std::uint32_t(hi) << 16);
    }
  return r;
}

double half_of(std::uint32_t reg, int h) { return fp16_from_bits(std::uint16_t(reg >> (16 * h))); }
std::int8_t s8_of(std::uint32_t reg, int y) { return std::int8_t(reg >> (8 * y)); }
double e4m3_of(std::uint32_t reg, int y) { return decode_fp8_e4m3(std::uint8_t(reg >> (8 * y))); }

// D += A·B for one warp; a(lane, r) and b(lane, r) give the registers, value(reg, element) decodes.
template <class AVal, class BVal>
void mma16(Acc& acc, const std::array<std::array<std::uint32_t, 4>, 32>& a, const std::array<std::array<std::uint32_t, 2>, 32>& b,
           AVal a_val, BVal b_val) {
  double A[16][16] = {}, B[16][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) A[a16_row(lane, r)][a16_col(lane, r, h)] = a_val(a[lane][r], h);
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) B[b16_k(lane, r, h)][lane_g(lane)] = b_val(b[lane][r], h);
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e)
      for (int k = 0; k < 16; ++k) acc[lane][e] += A[c_row(lane, e)][k] * B[k][c_col(lane, e)];
}
template <class AVal, class BVal>
void mma8(Acc& acc, const std::array<std::array<std::uint32_t, 4>, 32>& a, const std::array<std::array<std::uint32_t, 2>, 32>& b,
          AVal a_val, BVal b_val) {
  double A[16][32] = {}, B[32][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r)
      for (int y = 0; y < 4; ++y) A[a8_row(lane, r)][a8_col(lane, r, y)] = a_val(a[lane][r], y);
    for (int r = 0; r < 2; ++r)
      for (int y = 0; y < 4; ++y) B[b8_k(lane, r, y)][lane_g(lane)] = b_val(b[lane][r], y);
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e)
      for (int k = 0; k < 32; ++k) acc[lane][e] += A[c_row(lane, e)][k] * B[k][c_col(lane, e)];
}

std::array<std::array<std::uint32_t, 2>, 32> pick(const Regs& r, int i0, int i1) {
  std::array<std::array<std::uint32_t, 2>, 32> b{};
  for (int lane = 0; lane < 32; ++lane) b[lane] = {r[lane][i0], r[lane][i1]};
  return b;
}

// Places a [rows][ROW_BYTES] tile as the kernel's cp.async loops do: chunk c of row r at swizzle(r, c).
template <int ROW_BYTES>
std::vector<std::uint8_t> place(const std::vector<std::uint8_t>& tile, int rows) {
  std::vector<std::uint8_t> smem(std::size_t(rows) * ROW_BYTES, 0xCD);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < ROW_BYTES / 16; ++c)
      std::memcpy(&smem[frag::swizzle<ROW_BYTES>(r, c)], &tile[std::size_t(r) * ROW_BYTES + 16 * c], 16);
  return smem;
}

std::vector<std::uint8_t> fp16_tile(const std::vector<int>& values) {
  std::vector<std::uint8_t> bytes(values.size() * 2);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint16_t b = fp16_bits(float(values[i]));
    std::memcpy(&bytes[2 * i], &b, 2);
  }
  return bytes;
}

std::vector<int> random_ints(std::size_t n, int lo, int hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> u(lo, hi);
  std::vector<int> x(n);
  for (int& v : x) v = u(rng);
  return x;
}

// S = Q·Kᵀ of one CTA tile (128 query rows, 64 keys) through the kernel's fragment addressing.
template <int D, bool INT8>
void check_qk(std::uint64_t seed) {
  constexpr int kRowBytes = INT8 ? D : 2 * D;
  const std::vector<int> q = random_ints(128 * D, INT8 ? -128 : -8, INT8 ? 127 : 8, seed);
  const std::vector<int> k = random_ints(64 * D, INT8 ? -128 : -8, INT8 ? 127 : 8, seed + 1);
  std::vector<std::uint8_t> qb, kb;
  if constexpr (INT8) {
    qb.assign(q.begin(), q.end());
    kb.assign(k.begin(), k.end());
  } else {
    qb = fp16_tile(q);
    kb = fp16_tile(k);
  }
  const auto q_s = place<kRowBytes>(qb, 128), k_s = place<kRowBytes>(kb, 64);
  int bad = 0;
  for (int warp = 0; warp < 4; ++warp) {
    Acc acc[2][8] = {};
    for (int ks = 0; ks < kRowBytes / 32; ++ks) {
      Regs a[2];
      for (int mi = 0; mi < 2; ++mi) {
        std::array<int, 32> addr;
        for (int l = 0; l < 32; ++l) addr[l] = frag::swizzle<kRowBytes>(frag::q_row(warp, mi, l), frag::q_chunk(ks, l));
        a[mi] = ldmatrix_x4(q_s, addr);
      }
      for (int np = 0; np < 4; ++np) {
        std::array<int, 32> addr;
        for (int l = 0; l < 32; ++l) addr[l] = frag::swizzle<kRowBytes>(frag::k_row(np, l), frag::k_chunk(ks, l));
        const Regs bk = ldmatrix_x4(k_s, addr);
        for (int mi = 0; mi < 2; ++mi) {
          if constexpr (INT8) {
            auto v = [](std::uint32_t r, int y) { return double(s8_of(r, y)); };
            mma8(acc[mi][2 * np], a[mi], pick(bk, 0, 1), v, v);
            mma8(acc[mi][2 * np + 1], a[mi], pick(bk, 2, 3), v, v);
          } else {
            mma16(acc[mi][2 * np], a[mi], pick(bk, 0, 1), half_of, half_of);
            mma16(acc[mi][2 * np + 1], a[mi], pick(bk, 2, 3), half_of, half_of);
          }
        }
      }
    }
    for (int mi = 0; mi < 2; ++mi)
      for (int nb = 0; nb < 8; ++nb)
        for (int lane = 0; lane < 32; ++lane)
          for (int e = 0; e < 4; ++e) {
            const int row = warp * 32 + mi * 16 + c_row(lane, e), key = nb * 8 + c_col(lane, e);
            double want = 0;
            for (int d = 0; d < D; ++d) want += double(q[row * D + d]) * k[key * D + d];
            bad += acc[mi][nb][lane][e] != want;
          }
  }
  CHECK(bad == 0);
}

// P (as S accumulators of one m16 block) · V through the kernel's packing and addressing. Mode 0: fp16 V
// [key][d] via ldmatrix.trans; 1: int8 Vt with zero point; 2: e4m3 P and e4m3 Vt.
template <int D, int MODE>
void check_pv(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // s[nb][lane][e]: P of (row c_row, key nb·8 + c_col); values exact in fp16 and e4m3.
  double s[8][32][4];
  double P[16][64];
  std::uniform_int_distribution<int> pu(0, 15);
  for (int nb = 0; nb < 8; ++nb)
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        s[nb][lane][e] = pu(rng) / 16.0;
        P[c_row(lane, e)][nb * 8 + c_col(lane, e)] = s[nb][lane][e];
      }
  const int zero = MODE == 1 ? -7 : 0;
  std::vector<int> vcodes = random_ints(64 * D, MODE == 0 ? -8 : -128, MODE == 0 ? 8 : 127, seed + 5);
  if constexpr (MODE == 2)
    for (int& c : vcodes)
      if ((c & 0x7F) == 0x7F) c = 0x7E;  // e4m3 0x7F / 0xFF are NaN
  auto v_value = [&](int key, int d) {
    const int c = vcodes[key * D + d];
    if (MODE == 0) return double(c);
    if (MODE == 1) return double(c - zero);
    return double(decode_fp8_e4m3(std::uint8_t(c)));
  };
  Acc o[D / 8] = {};
  if constexpr (MODE == 0) {
    const auto v_s = place<2 * D>(fp16_tile(vcodes), 64);
    for (int ks = 0; ks < 4; ++ks) {
      std::array<std::array<std::uint32_t, 4>, 32> pa{};
      for (int lane = 0; lane < 32; ++lane)
        for (int reg = 0; reg < 4; ++reg) {
          const std::uint16_t lo = fp16_bits(float(s[frag::p16_nb(ks, reg)][lane][frag::p16_e(reg, 0)]));
          const std::uint16_t hi = fp16_bits(float(s[frag::p16_nb(ks, reg)][lane][frag::p16_e(reg, 1)]));
          pa[lane][reg] = lo | (std::uint32_t(hi) << 16);
        }
      for (int dp = 0; dp < D / 16; ++dp) {
        std::array<int, 32> addr;
        for (int l = 0; l < 32; ++l) addr[l] = frag::swizzle<2 * D>(frag::v_row(ks, l), frag::v_chunk(dp, l));
        const Regs bv = ldmatrix_x4_trans(v_s, addr);
        mma16(o[2 * dp], pa, pick(bv, 0, 1), half_of, half_of);
        mma16(o[2 * dp + 1], pa, pick(bv, 2, 3), half_of, half_of);
      }
    }
  } else {
    // The transposed tile as the quantiser writes it (pack_vt), rows d of 64 bytes.
    const AttentionShape one{1, 1, 1, 1, 64, D};
    std::vector<std::uint8_t> natural(vcodes.size());
    for (std::size_t i = 0; i < vcodes.size(); ++i) natural[i] = std::uint8_t(vcodes[i]);
    const auto v_s = place<64>(pack_vt(one, natural, 0), D);
    if constexpr (MODE == 1) {
      for (int ks = 0; ks < 4; ++ks) {
        std::array<std::array<std::uint32_t, 4>, 32> pa{};
        for (int lane = 0; lane < 32; ++lane)
          for (int reg = 0; reg < 4; ++reg)
            pa[lane][reg] = fp16_bits(float(s[frag::p16_nb(ks, reg)][lane][frag::p16_e(reg, 0)])) |
                            (std::uint32_t(fp16_bits(float(s[frag::p16_nb(ks, reg)][lane][frag::p16_e(reg, 1)]))) << 16);
        for (int dq = 0; dq < D / 32; ++dq) {
          std::array<int, 32> addr;
          for (int l = 0; l < 32; ++l) addr[l] = frag::swizzle<64>(frag::vt8_row(dq, l), ks);
          const Regs bv = ldmatrix_x4(v_s, addr);
          for (int j = 0; j < 4; ++j) {
            // Device: __byte_perm builds fp16 (1152 + code) for bytes (0, 1) → b0 and (2, 3) → b1, then
            // subtracts 1152 + zero; here the same bit formula, decoded.
            std::array<std::array<std::uint32_t, 2>, 32> b{};
            for (int lane = 0; lane < 32; ++lane)
              for (int r = 0; r < 2; ++r) {
                const std::uint32_t word = bv[lane][j];
                const double x0 = fp16_from_bits(std::uint16_t(frag::biased_int8_as_fp16_bits(s8_of(word, 2 * r)))) - (1152 + zero);
                const double x1 = fp16_from_bits(std::uint16_t(frag::biased_int8_as_fp16_bits(s8_of(word, 2 * r + 1)))) - (1152 + zero);
                b[lane][r] = fp16_bits(float(x0)) | (std::uint32_t(fp16_bits(float(x1))) << 16);
              }
            mma16(o[4 * dq + j], pa, b, half_of, half_of);
          }
        }
      }
    } else {
      std::array<std::array<std::uint32_t, 4>, 32> pa[2]{};
      for (int kc = 0; kc < 2; ++kc)
        for (int lane = 0; lane < 32; ++lane)
          for (int reg = 0; reg < 4; ++reg) {
            std::uint32_t w = 0;
            for (int y = 0; y < 4; ++y)
              w |= std::uint32_t(encode_fp8_e4m3(float(s[frag::p8_nb(kc, reg, y)][lane][frag::p8_e(reg, y)]))) << (8 * y);
            pa[kc][lane][reg] = w;
          }
      for (int dp = 0; dp < D / 16; ++dp) {
        Regs bv[2];
        for (int kc = 0; kc < 2; ++kc) {
          std::array<int, 32> addr;
          for (int l = 0; l < 32; ++l) addr[l] = frag::swizzle<64>(frag::vtf8_row(dp, l), frag::vtf8_chunk(kc, l));
          bv[kc] = ldmatrix_x4(v_s, addr);
        }
        for (int half = 0; half < 2; ++half)
          for (int kc = 0; kc < 2; ++kc) mma8(o[2 * dp + half], pa[kc], pick(bv[kc], 2 * half, 2 * half + 1), e4m3_of, e4m3_of);
      }
    }
  }
  int bad = 0;
  for (int dn = 0; dn < D / 8; ++dn)
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        const int row = c_row(lane, e), d = dn * 8 + c_col(lane, e);
        double want = 0;
        for (int key = 0; key < 64; ++key) want += P[row][key] * v_value(key, d);
        bad += o[dn][lane][e] != want;
      }
  INFO("mode " << MODE << ", D " << D);
  CHECK(bad == 0);
}

// The 8 row addresses of every ldmatrix matrix fall in 8 distinct 16-byte bank groups (no conflicts).
template <int ROW_BYTES>
bool conflict_free(const std::array<int, 32>& addr) {
  for (int q = 0; q < 4; ++q) {
    std::set<int> groups;
    for (int r = 0; r < 8; ++r) groups.insert((addr[8 * q + r] / 16) % 8);
    if (groups.size() != 8) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("swizzle is a bijection of the 16-byte chunks of a tile") {
  auto bijective = [](auto swz, int rows, int row_bytes) {
    std::set<int> seen;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < row_bytes / 16; ++c) seen.insert(swz(r, c));
    return int(seen.size()) == rows * row_bytes / 16 && *seen.rbegin() == rows * row_bytes - 16;
  };
  CHECK(bijective([](int r, int c) { return frag::swizzle<64>(r, c); }, 128, 64));
  CHECK(bijective([](int r, int c) { return frag::swizzle<128>(r, c); }, 128, 128));
  CHECK(bijective([](int r, int c) { return frag::swizzle<256>(r, c); }, 128, 256));
}

TEST_CASE("every ldmatrix of the kernel is free of bank conflicts") {
  std::array<int, 32> a{};
  for (int ks = 0; ks < 4; ++ks)
    for (int l = 0; l < 32; ++l) a[l] = frag::swizzle<256>(frag::q_row(1, 1, l), frag::q_chunk(ks, l));
  CHECK(conflict_free<256>(a));
  for (int l = 0; l < 32; ++l) a[l] = frag::swizzle<64>(frag::q_row(2, 0, l), frag::q_chunk(1, l));
  CHECK(conflict_free<64>(a));
  for (int l = 0; l < 32; ++l) a[l] = frag::swizzle<128>(frag::k_row(3, l), frag::k_chunk(2, l));
  CHECK(conflict_free<128>(a));
  for (int l = 0; l < 32; ++l) a[l] = frag::swizzle<256>(frag::v_row(2, l), frag::v_chunk(5, l));
  CHECK(conflict_free<256>(a));
  for (int l = 0; l < 32; ++l) a[l] = frag::swizzle<64>(frag::vt8_row(3, l), 2);
  CHECK(conflict_free<64>(a));
  for (int l = 0; l < 32; ++l) a[l] = frag::swizzle<64>(frag::vtf8_row(5, l), frag::vtf8_chunk(1, l));
  CHECK(conflict_free<64>(a));
}

TEST_CASE("fp16 bits 0x6400 | (code ^ 0x80) are 1152 + code for every int8 code") {
  for (int code = -128; code <= 127; ++code)
    CHECK(fp16_from_bits(std::uint16_t(frag::biased_int8_as_fp16_bits(code))) == 1152.0f + code);
}

TEST_CASE("S = Q·Kᵀ through ldmatrix + mma: fp16 and int8, D 64 and 128") {
  check_qk<64, false>(1);
  check_qk<128, false>(2);
  check_qk<64, true>(3);
  check_qk<128, true>(4);
}

TEST_CASE("O = P·V through the P packing and the V layouts: fp16, int8 transposed, e4m3 transposed") {
  check_pv<64, 0>(11);
  check_pv<128, 0>(12);
  check_pv<64, 1>(13);
  check_pv<128, 1>(14);
  check_pv<64, 2>(15);
  check_pv<128, 2>(16);
}
