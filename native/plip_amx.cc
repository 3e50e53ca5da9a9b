// plip_amx: float32 activations × bf16 weights on AMX tiles (see plip_amx.h).
//
// Roles: the weight rows are the A operand, loaded straight from w (16 rows × 32 bf16 per tile, no
// packing); the split activations are the B operand, packed once per call into the VNNI layout AMX
// wants (pairs of consecutive k for 16 rows of x). C tiles come out [16 n × 16 m] and are transposed
// into y while they are added. Eight tile registers: C 0–3 (2 n-tiles × 2 m-tiles), A 4–5, B 6–7.
#include "plip_amx.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define PLIP_AMX_BUILD 1
#define PLIP_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl")))
#define PLIP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif

namespace plip_amx {

size_t PackedElems(int m, int k) {
  return size_t((m + 15) / 16) * size_t((k + 31) / 32) * size_t(kTerms) * 512;
}

#ifdef PLIP_AMX_BUILD
namespace {

bool Probe() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool avx512 = (b & (1u << 16)) && (b & (1u << 30));  // avx512f, avx512bw
  const bool amxBf16 = d & (1u << 22), amxTile = d & (1u << 24);
  if (!avx512 || !amxBf16 || !amxTile) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // osxsave
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xe6) != 0xe6) return false;  // the OS saves AVX-512 state
  // Linux hands out the 8 KB tile-data state only on request (arch_prctl ARCH_REQ_XCOMP_PERM, feature 18);
  // the permission is per process, so every pool thread may use the tiles afterwards.
  constexpr long kReqXcompPerm = 0x1023, kXtileData = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
}

struct TileConfig {
  uint8_t palette = 1, startRow = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

PLIP_AVX512 inline __m512i Combine(__m512i te, __m512i to) {
  return _mm512_or_si512(_mm512_and_si512(to, _mm512_set1_epi32(int(0xffff0000u))), _mm512_srli_epi32(te, 16));
}

// The exact split x = t1 + t2 + t3 of 16 floats (each term's bf16 in its high half).
PLIP_AVX512 inline void Split3(__m512 v, __m512i& t1, __m512i& t2, __m512i& t3) {
  const __m512i hiMask = _mm512_set1_epi32(int(0xffff0000u)), expMask = _mm512_set1_epi32(0x7f800000);
  __m512i b = _mm512_castps_si512(v);
  t1 = _mm512_and_si512(b, hiMask);
  // x - t1 is exact (same sign and exponent); a non-finite x keeps all of itself in the first term
  __mmask16 finite = _mm512_cmpneq_epi32_mask(_mm512_and_si512(b, expMask), expMask);
  __m512 r1 = _mm512_maskz_sub_ps(finite, v, _mm512_castsi512_ps(t1));
  t2 = _mm512_and_si512(_mm512_castps_si512(r1), hiMask);
  // r1 holds at most 16 significant bits and t2 takes the top 8: the rest is exact in bf16
  t3 = _mm512_castps_si512(_mm512_sub_ps(r1, _mm512_castsi512_ps(t2)));
}

// Even/odd k columns of 16 rows of x (lanes = rows) → row r of the B tile of each term: dword c holds
// the bf16 terms of x[c, 2r] (low half) and x[c, 2r+1] (high half). Term s goes to dst + 512·s.
PLIP_AVX512 inline void SplitPair(__m512 e, __m512 o, uint16_t* dst) {
  __m512i e1, e2, e3, o1, o2, o3;
  Split3(e, e1, e2, e3);
  Split3(o, o1, o2, o3);
  _mm512_storeu_si512(dst, Combine(e1, o1));
  _mm512_storeu_si512(dst + 512, Combine(e2, o2));
  _mm512_storeu_si512(dst + 1024, Combine(e3, o3));
}

// C tile (rows = 16 outputs j, columns = 16 rows i of x) added into y[i, j], transposed by gathering columns.
PLIP_AVX512 inline void AddTransposed(const float* tile, float* y, int n, int rowsJ, int rowsI) {
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(16));
  const __mmask16 mask = __mmask16(rowsJ >= 16 ? 0xffff : (1u << rowsJ) - 1);
  for (int c = 0; c < rowsI; c++) {
    __m512 col = _mm512_i32gather_ps(idx, tile + c, 4);
    float* dst = y + size_t(c) * size_t(n);
    _mm512_mask_storeu_ps(dst, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, dst), col));
  }
}

// One block: NT (1–2) tiles of 16 w rows × MT (1–2) tiles of 16 x rows, over all of k.
template <int NT, int MT>
PLIP_AMX void Block(const uint16_t* a0, size_t stride0, const uint16_t* a1, size_t stride1, const uint16_t* b, size_t bNext, int kb, float* tmp) {
  _tile_zero(0);
  if constexpr (MT == 2) _tile_zero(1);
  if constexpr (NT == 2) _tile_zero(2);
  if constexpr (NT == 2 && MT == 2) _tile_zero(3);
  for (int q = 0; q < kb; q++) {
    _tile_loadd(4, a0 + size_t(q) * 32, stride0);
    if constexpr (NT == 2) _tile_loadd(5, a1 + size_t(q) * 32, stride1);
    const uint16_t* bq = b + size_t(q) * kTerms * 512;
    for (int s = 0; s < kTerms; s++, bq += 512) {
      _tile_loadd(6, bq, 64);
      if constexpr (MT == 2) _tile_loadd(7, bq + bNext, 64);
      _tile_dpbf16ps(0, 4, 6);
      if constexpr (MT == 2) _tile_dpbf16ps(1, 4, 7);
      if constexpr (NT == 2) _tile_dpbf16ps(2, 5, 6);
      if constexpr (NT == 2 && MT == 2) _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, tmp, 64);
  if constexpr (MT == 2) _tile_stored(1, tmp + 256, 64);
  if constexpr (NT == 2) _tile_stored(2, tmp + 512, 64);
  if constexpr (NT == 2 && MT == 2) _tile_stored(3, tmp + 768, 64);
}

// Static storage: GCC treats ldtilecfg's operand as one byte and drops stores to a local config it thinks
// unread (the unused tiles' fields were left as stack garbage, and ldtilecfg faulted).
TileConfig MakeConfig() {
  TileConfig cfg;
  for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  return cfg;
}
alignas(64) const TileConfig kConfig = MakeConfig();

PLIP_AMX void LoadConfig() { _tile_loadconfig(&kConfig); }
PLIP_AMX void Release() { _tile_release(); }

}  // namespace

bool Available() {
  static const bool ok = Probe();
  return ok;
}

PLIP_AVX512 void PackX(const float* x, int m, int k, uint16_t* packed, int mb0, int mb1) {
  const int KB = (k + 31) / 32;
  const __m512i rowIdx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(k));
  for (int mb = mb0; mb < mb1; mb++) {
    const int rows = std::min(16, m - mb * 16);
    const __mmask16 rowMask = __mmask16(rows >= 16 ? 0xffff : rows <= 0 ? 0 : (1u << rows) - 1);
    const float* base = x + size_t(mb) * 16 * size_t(k);
    for (int q = 0; q < KB; q++) {
      uint16_t* tile = packed + (size_t(mb) * KB + q) * kTerms * 512;
      for (int r = 0; r < 16; r++) {
        const int p = q * 32 + 2 * r;
        const __mmask16 me = p < k ? rowMask : 0, mo = p + 1 < k ? rowMask : 0;
        __m512 e = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), me, rowIdx, base + std::min(p, k - 1), 4);
        __m512 o = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mo, rowIdx, base + std::min(p + 1, k - 1), 4);
        SplitPair(e, o, tile + r * 32);
      }
    }
  }
}

void GemmRows(const uint16_t* packed, int m, int k, const uint16_t* w, int n, int j0, int j1, float* y) {
  if (j0 >= j1 || m <= 0 || k <= 0 || !Available()) return;  // Available() also requests the tile state
  const int KB = (k + 31) / 32, MB = (m + 15) / 16;
  const size_t kPad = size_t(KB) * 32, bNext = size_t(KB) * kTerms * 512;
  alignas(64) float tmp[1024];
  // Rows past the end of w, or a k that is not a multiple of 32, are read from a zero-padded copy.
  thread_local std::vector<uint16_t> pad;
  auto tileSource = [&](int j, const uint16_t*& src, size_t& stride, int slot) {
    if (k % 32 == 0 && j + 16 <= n) {
      src = w + size_t(j) * size_t(k), stride = size_t(k) * 2;
      return;
    }
    if (pad.size() < 32 * kPad) pad.resize(32 * kPad);
    uint16_t* d = pad.data() + size_t(slot) * 16 * kPad;
    for (int r = 0; r < 16; r++) {
      uint16_t* row = d + size_t(r) * kPad;
      if (j + r < n) {
        std::memcpy(row, w + size_t(j + r) * size_t(k), size_t(k) * 2);
        std::memset(row + k, 0, (kPad - size_t(k)) * 2);
      } else {
        std::memset(row, 0, kPad * 2);
      }
    }
    src = d, stride = kPad * 2;
  };
  // Chunks of w rows (~256 KB) stay in L2 while every pair of x-row tiles passes over them.
  const int chunk = std::max(32, int((size_t(256) << 10) / (size_t(k) * 2)) / 32 * 32);
  LoadConfig();
  for (int c0 = j0; c0 < j1; c0 += chunk) {
    const int c1 = std::min(j1, c0 + chunk);
    for (int mb = 0; mb < MB; mb += 2) {
      const int mt = std::min(2, MB - mb);
      const uint16_t* b = packed + size_t(mb) * bNext;
      for (int j = c0; j < c1; j += 32) {
        const int nt = j + 16 < c1 ? 2 : 1;
        const uint16_t *a0, *a1 = nullptr;
        size_t s0, s1 = 0;
        tileSource(j, a0, s0, 0);
        if (nt == 2) tileSource(j + 16, a1, s1, 1);
        if (nt == 2 && mt == 2) Block<2, 2>(a0, s0, a1, s1, b, bNext, KB, tmp);
        else if (nt == 2) Block<2, 1>(a0, s0, a1, s1, b, bNext, KB, tmp);
        else if (mt == 2) Block<1, 2>(a0, s0, nullptr, 0, b, bNext, KB, tmp);
        else Block<1, 1>(a0, s0, nullptr, 0, b, bNext, KB, tmp);
        for (int u = 0; u < nt; u++) {
          const int jr = std::min(16, c1 - (j + u * 16));
          for (int v = 0; v < mt; v++) {
            const int i0 = (mb + v) * 16;
            AddTransposed(tmp + (u * 2 + v) * 256, y + size_t(i0) * size_t(n) + size_t(j + u * 16), n, jr, std::min(16, m - i0));
          }
        }
      }
    }
  }
  Release();
}

#else  // not x86-64 GCC/Clang: no AMX

bool Available() { return false; }
void PackX(const float*, int, int, uint16_t*, int, int) {}
void GemmRows(const uint16_t*, int, int, const uint16_t*, int, int, int, float*) {}

#endif

}  // namespace plip_amx
