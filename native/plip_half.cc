// plip_half: bf16 / f16 weight kernels (see plip_half.h).
#include "plip_half.h"
#include "plip_amx.h"
#include "plip_bf16_avx512.h"

#include <atomic>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include "plip_avx2.h"
#define PLIP_X86 1
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports false "may be used uninitialized" warnings inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif

namespace plip_half {
namespace {

inline float Bf16ToF32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Exact f16 -> f32 (subnormals, inf; NaN payload kept in the top mantissa bits like src/io/dtype.ts).
inline float F16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    float f = float(mant) * 5.9604644775390625e-8f;  // mant * 2^-24, exact
    std::memcpy(&u, &f, 4);
    u |= sign;
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void WidenPortable(const uint16_t* s, float* d, size_t n, int kind) {
  if (kind == 0) {
    for (size_t i = 0; i < n; i++) d[i] = Bf16ToF32(s[i]);
  } else {
    for (size_t i = 0; i < n; i++) d[i] = F16ToF32(s[i]);
  }
}

// y[j] = sum_p x[p] * w[j, p] (+ y[j] when accumulate), rows [j0, j1).
void GemvPortable(const float* x, const uint16_t* w, int k, int j0, int j1, float* y, int kind) {
  for (int j = j0; j < j1; j++) {
    const uint16_t* row = w + size_t(j) * k;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int p = 0;
    if (kind == 0) {
      for (; p + 4 <= k; p += 4) {
        s0 += x[p] * Bf16ToF32(row[p]);
        s1 += x[p + 1] * Bf16ToF32(row[p + 1]);
        s2 += x[p + 2] * Bf16ToF32(row[p + 2]);
        s3 += x[p + 3] * Bf16ToF32(row[p + 3]);
      }
      for (; p < k; p++) s0 += x[p] * Bf16ToF32(row[p]);
    } else {
      for (; p + 4 <= k; p += 4) {
        s0 += x[p] * F16ToF32(row[p]);
        s1 += x[p + 1] * F16ToF32(row[p + 1]);
        s2 += x[p + 2] * F16ToF32(row[p + 2]);
        s3 += x[p + 3] * F16ToF32(row[p + 3]);
      }
      for (; p < k; p++) s0 += x[p] * F16ToF32(row[p]);
    }
    y[j] += (s0 + s1) + (s2 + s3);
  }
}

#ifdef PLIP_X86
__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) inline __m512 Load16(const uint16_t* p, int kind) {
  __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (kind == 0) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) inline __m512 LoadMasked16(const uint16_t* p, __mmask16 m, int kind) {
  __m256i h = _mm256_maskz_loadu_epi16(m, p);
  if (kind == 0) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) void WidenAvx512(const uint16_t* s, float* d, size_t n, int kind) {
  (void)kind;  // bf16 only: Widen sends f16 to the portable path
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_ps(d + i, Load16(s + i, 0));
    _mm512_storeu_ps(d + i + 16, Load16(s + i + 16, 0));
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, Load16(s + i, 0));
  for (; i < n; i++) d[i] = Bf16ToF32(s[i]);
}

#define PLIP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))

// Where the AVX-512 f16 GEMV reads rows of w: the f16 weights themselves, or a float32 copy of some rows made
// with the same conversions (GemmSmallAvx512). Both hand the FMAs identical operands, so one kernel body gives
// identical sums from either source. (bf16 has its own register-blocked kernels: plip_bf16_avx512.h.)
struct U16Rows {
  const uint16_t* w;
  int k;
  PLIP_AVX512 __m512 Load(int j, int p) const { return Load16(w + size_t(j) * k + p, 1); }
  PLIP_AVX512 void Load32(int j, int p, __m512& lo, __m512& hi) const {
    lo = Load(j, p);
    hi = Load(j, p + 16);
  }
  PLIP_AVX512 __m512 LoadMasked(int j, int p, __mmask16 m) const { return LoadMasked16(w + size_t(j) * k + p, m, 1); }
  // Rows are short and read as four interleaved streams, which the hardware prefetcher ramps up on too late
  // (see the AVX2 GEMV): fetch 2 KB ahead in each; past a row's end this lands in the rows read next.
  PLIP_AVX512 void Prefetch(int j, int p) const { _mm_prefetch(reinterpret_cast<const char*>(w + size_t(j) * k + p + 1024), _MM_HINT_T0); }
};
struct F32Rows {
  const float* rows;  // rows j0.. of w, widened, k floats apart
  int k, j0;
  PLIP_AVX512 __m512 Load(int j, int p) const { return _mm512_loadu_ps(rows + size_t(j - j0) * k + p); }
  PLIP_AVX512 void Load32(int j, int p, __m512& lo, __m512& hi) const {
    lo = Load(j, p);
    hi = Load(j, p + 16);
  }
  PLIP_AVX512 __m512 LoadMasked(int j, int p, __mmask16 m) const { return _mm512_maskz_loadu_ps(m, rows + size_t(j - j0) * k + p); }
  void Prefetch(int, int) const {}  // L1-resident
};

// y[j] += x · w[j] for j in [j0, j1) of f16 w. Four rows of w per pass share each load of x;
// two accumulators per row hide FMA latency; rows past the last multiple of four take a one-accumulator loop.
template <class Rows>
PLIP_AVX512 void GemvAvx512T(const float* x, const Rows& w, int k, int j0, int j1, float* y) {
  const int k32 = k & ~31;
  const int k16 = k & ~15;
  const __mmask16 tail = __mmask16((1u << (k - k16)) - 1u);
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
    int p = 0;
    for (; p < k32; p += 32) {
      w.Prefetch(j, p), w.Prefetch(j + 1, p), w.Prefetch(j + 2, p), w.Prefetch(j + 3, p);
      const __m512 xv = _mm512_loadu_ps(x + p), xw = _mm512_loadu_ps(x + p + 16);
      __m512 l0, h0, l1, h1, l2, h2, l3, h3;
      w.Load32(j, p, l0, h0), w.Load32(j + 1, p, l1, h1), w.Load32(j + 2, p, l2, h2), w.Load32(j + 3, p, l3, h3);
      a0 = _mm512_fmadd_ps(xv, l0, a0);
      a1 = _mm512_fmadd_ps(xv, l1, a1);
      a2 = _mm512_fmadd_ps(xv, l2, a2);
      a3 = _mm512_fmadd_ps(xv, l3, a3);
      b0 = _mm512_fmadd_ps(xw, h0, b0);
      b1 = _mm512_fmadd_ps(xw, h1, b1);
      b2 = _mm512_fmadd_ps(xw, h2, b2);
      b3 = _mm512_fmadd_ps(xw, h3, b3);
    }
    for (; p < k16; p += 16) {
      __m512 xv = _mm512_loadu_ps(x + p);
      a0 = _mm512_fmadd_ps(xv, w.Load(j, p), a0);
      a1 = _mm512_fmadd_ps(xv, w.Load(j + 1, p), a1);
      a2 = _mm512_fmadd_ps(xv, w.Load(j + 2, p), a2);
      a3 = _mm512_fmadd_ps(xv, w.Load(j + 3, p), a3);
    }
    if (tail) {
      __m512 xv = _mm512_maskz_loadu_ps(tail, x + p);
      b0 = _mm512_fmadd_ps(xv, w.LoadMasked(j, p, tail), b0);
      b1 = _mm512_fmadd_ps(xv, w.LoadMasked(j + 1, p, tail), b1);
      b2 = _mm512_fmadd_ps(xv, w.LoadMasked(j + 2, p, tail), b2);
      b3 = _mm512_fmadd_ps(xv, w.LoadMasked(j + 3, p, tail), b3);
    }
    y[j] += _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
    y[j + 1] += _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
    y[j + 2] += _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
    y[j + 3] += _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
  }
  for (; j < j1; j++) {
    __m512 a0 = _mm512_setzero_ps();
    int p = 0;
    for (; p < k32; p += 32) {
      __m512 lo, hi;
      w.Load32(j, p, lo, hi);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p), lo, a0);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p + 16), hi, a0);
    }
    for (; p < k16; p += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p), w.Load(j, p), a0);
    if (tail) a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + p), w.LoadMasked(j, p, tail), a0);
    y[j] += _mm512_reduce_add_ps(a0);
  }
}

PLIP_AVX512 void GemvF16Avx512(const float* x, const uint16_t* w, int k, int j0, int j1, float* y) {
  GemvAvx512T(x, U16Rows{w, k}, k, j0, j1, y);
}

// Y[i, j] += X[i] · w[j] for the m rows of X, j in [j0, j1) (j0 a multiple of 4) of f16 w: each group of four
// rows of w is converted once (as the GEMV converts them) into an L1-sized float32 block, then the GEMV body runs on it
// for every row of X. Each output equals GemvAvx512 on that row of X bit for bit (rows are grouped in fours
// from j0 in both), at a fraction of the memory traffic of m GEMVs.
PLIP_AVX512 void GemmSmallF16Avx512(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y) {
  thread_local std::vector<float> buf;
  if (buf.size() < size_t(4) * k) buf.resize(size_t(4) * k);
  const int k16 = k & ~15;
  const __mmask16 tail = __mmask16((1u << (k - k16)) - 1u);
  const U16Rows src{w, k};
  const int k32 = k & ~31;
  for (int jb = j0; jb < j1; jb += 4) {
    const int nb = std::min(4, j1 - jb);
    for (int r = 0; r < nb; r++) {
      // the operands the GEMV's loads produce, stored in the order it consumes them
      float* dst = buf.data() + size_t(r) * k;
      int p = 0;
      for (; p < k32; p += 32) {
        __m512 lo, hi;
        src.Load32(jb + r, p, lo, hi);
        _mm512_storeu_ps(dst + p, lo);
        _mm512_storeu_ps(dst + p + 16, hi);
      }
      for (; p < k16; p += 16) _mm512_storeu_ps(dst + p, src.Load(jb + r, p));
      if (tail) _mm512_mask_storeu_ps(dst + p, tail, src.LoadMasked(jb + r, p, tail));
    }
    const F32Rows rows{buf.data(), k, jb};
    for (int i = 0; i < m; i++) GemvAvx512T(x + size_t(i) * k, rows, k, jb, jb + nb, y + size_t(i) * n);
  }
}

#define PLIP_AVX2 __attribute__((target("avx2,fma,f16c")))

// 8 bf16 weights as float32 (shifting into the high half is the exact widening)
PLIP_AVX2 inline __m256 LoadBf16x8(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
PLIP_AVX2 inline __m256 LoadF16x8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
using plip_avx2::Sum8;

PLIP_AVX2 void WidenAvx2(const uint16_t* s, float* d, size_t n, int kind) {
  (void)kind;  // bf16 only: Widen sends f16 to the portable path
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(d + i, LoadBf16x8(s + i));
    _mm256_storeu_ps(d + i + 8, LoadBf16x8(s + i + 8));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, LoadBf16x8(s + i));
  for (; i < n; i++) d[i] = Bf16ToF32(s[i]);
}

// bf16 rows, 16 weights per 256-bit load: unpacking with zero words gives w << 16 (the float32 value) for
// weights 0–3, 8–11 (lo) and 4–7, 12–15 (hi) of each 16, so x is read in that order (xp, permuted once per
// call). One load and two unpacks per 16 weights instead of two widening loads and two shifts.
PLIP_AVX2 void GemvBf16Avx2(const float* x, const uint16_t* w, int k, int j0, int j1, float* y) {
  const int k16 = k & ~15;
  thread_local std::vector<float> perm;
  if (perm.size() < size_t(k16)) perm.resize(size_t(k16));
  float* xp = perm.data();
  for (int p = 0; p < k16; p += 16)
    for (int q = 0; q < 4; q++) {
      xp[p + q] = x[p + q];
      xp[p + 4 + q] = x[p + 8 + q];
      xp[p + 8 + q] = x[p + 4 + q];
      xp[p + 12 + q] = x[p + 12 + q];
    }
  const __m256i zero = _mm256_setzero_si256();
  const bool shortRows = k <= 2048;
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    const uint16_t* r[4] = {w + size_t(j) * k, w + size_t(j + 1) * k, w + size_t(j + 2) * k, w + size_t(j + 3) * k};
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int p = 0;
    for (; p < k16; p += 16) {
      if ((p & 31) == 0) {
        // rows are short (k of ~1–5k weights) and read as four interleaved streams, which the hardware
        // prefetcher ramps up on too late: fetch 2 KB ahead in each (past a row's end this lands in the rows
        // read next). Measured on AMD Zen 3: 0.68 → 0.42 ms for [896] · [4864 × 896]ᵀ on 2 threads.
        _mm_prefetch(reinterpret_cast<const char*>(r[0] + p + 1024), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(r[1] + p + 1024), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(r[2] + p + 1024), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(r[3] + p + 1024), _MM_HINT_T0);
      }
      if (shortRows) {
        // and for rows of ≤ 2048 weights the four rows of the next group (contiguous: 4·k weights) linearly,
        // spread over this group's steps at the rate the four streams consume (128 bytes per step). Measured
        // on AMD Zen 3, one core streaming from memory: [896] · [4864 × 896]ᵀ 7–9 → 10–12 GB/s, the 152k-row LM
        // head 30–40 → 23–28 ms; with longer rows (k = 4864) it slowed the GEMV, so they keep the above only.
        const char* next = reinterpret_cast<const char*>(r[0] + size_t(4) * k) + size_t(p) * 8;
        _mm_prefetch(next, _MM_HINT_T0);
        _mm_prefetch(next + 64, _MM_HINT_T0);
      }
      __m256 xl = _mm256_loadu_ps(xp + p), xh = _mm256_loadu_ps(xp + p + 8);
      __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[0] + p));
      __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[1] + p));
      __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[2] + p));
      __m256i v3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[3] + p));
      a0 = _mm256_fmadd_ps(xl, _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v0)), a0);
      a1 = _mm256_fmadd_ps(xl, _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v1)), a1);
      a2 = _mm256_fmadd_ps(xl, _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v2)), a2);
      a3 = _mm256_fmadd_ps(xl, _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v3)), a3);
      b0 = _mm256_fmadd_ps(xh, _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v0)), b0);
      b1 = _mm256_fmadd_ps(xh, _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v1)), b1);
      b2 = _mm256_fmadd_ps(xh, _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v2)), b2);
      b3 = _mm256_fmadd_ps(xh, _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v3)), b3);
    }
    float s[4] = {Sum8(_mm256_add_ps(a0, b0)), Sum8(_mm256_add_ps(a1, b1)), Sum8(_mm256_add_ps(a2, b2)),
                  Sum8(_mm256_add_ps(a3, b3))};
    for (; p < k; p++)
      for (int q = 0; q < 4; q++) s[q] += x[p] * Bf16ToF32(r[q][p]);
    for (int q = 0; q < 4; q++) y[j + q] += s[q];
  }
  for (; j < j1; j++) {
    const uint16_t* r0 = w + size_t(j) * k;
    __m256 a0 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps();
    int p = 0;
    for (; p < k16; p += 16) {
      __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + p));
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + p), _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v0)), a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + p + 8), _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v0)), b0);
    }
    float s = Sum8(_mm256_add_ps(a0, b0));
    for (; p < k; p++) s += x[p] * Bf16ToF32(r0[p]);
    y[j] += s;
  }
}

// f16 rows: four per pass share each 8-wide load of x; two accumulators per row (8 in all) cover the FMA
// latency × throughput of two FMA ports.
PLIP_AVX2 void GemvF16Avx2(const float* x, const uint16_t* w, int k, int j0, int j1, float* y) {
  const int k16 = k & ~15;
  const int k8 = k & ~7;
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    const uint16_t* r[4] = {w + size_t(j) * k, w + size_t(j + 1) * k, w + size_t(j + 2) * k, w + size_t(j + 3) * k};
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int p = 0;
    for (; p < k16; p += 16) {
      __m256 xv = _mm256_loadu_ps(x + p);
      __m256 xw = _mm256_loadu_ps(x + p + 8);
      a0 = _mm256_fmadd_ps(xv, LoadF16x8(r[0] + p), a0);
      a1 = _mm256_fmadd_ps(xv, LoadF16x8(r[1] + p), a1);
      a2 = _mm256_fmadd_ps(xv, LoadF16x8(r[2] + p), a2);
      a3 = _mm256_fmadd_ps(xv, LoadF16x8(r[3] + p), a3);
      b0 = _mm256_fmadd_ps(xw, LoadF16x8(r[0] + p + 8), b0);
      b1 = _mm256_fmadd_ps(xw, LoadF16x8(r[1] + p + 8), b1);
      b2 = _mm256_fmadd_ps(xw, LoadF16x8(r[2] + p + 8), b2);
      b3 = _mm256_fmadd_ps(xw, LoadF16x8(r[3] + p + 8), b3);
    }
    if (p < k8) {
      __m256 xv = _mm256_loadu_ps(x + p);
      a0 = _mm256_fmadd_ps(xv, LoadF16x8(r[0] + p), a0);
      a1 = _mm256_fmadd_ps(xv, LoadF16x8(r[1] + p), a1);
      a2 = _mm256_fmadd_ps(xv, LoadF16x8(r[2] + p), a2);
      a3 = _mm256_fmadd_ps(xv, LoadF16x8(r[3] + p), a3);
      p += 8;
    }
    float s[4] = {Sum8(_mm256_add_ps(a0, b0)), Sum8(_mm256_add_ps(a1, b1)), Sum8(_mm256_add_ps(a2, b2)),
                  Sum8(_mm256_add_ps(a3, b3))};
    for (; p < k; p++)
      for (int q = 0; q < 4; q++) s[q] += x[p] * F16ToF32(r[q][p]);
    for (int q = 0; q < 4; q++) y[j + q] += s[q];
  }
  for (; j < j1; j++) {
    const uint16_t* r0 = w + size_t(j) * k;
    __m256 a0 = _mm256_setzero_ps();
    int p = 0;
    for (; p < k8; p += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), LoadF16x8(r0 + p), a0);
    float s = Sum8(a0);
    for (; p < k; p++) s += x[p] * F16ToF32(r0[p]);
    y[j] += s;
  }
}

// A few rows of x times bf16 w (batched decoding, incremental recomputation), register-blocked: R rows of x
// by J rows of w, R·J accumulators of 8 lanes, each weight converted once in registers for all R rows
// (no float32 copy of w, unlike the widened tiles, whose sgemm packs and re-reads them). x is read in the
// order the two conversions give the weights of each 16: a 32-bit lane holds weights 2i (low half, << 16 is
// its float32 value) and 2i + 1 (high half, masked); so the evens of each 16 of x, then the odds (xp).
// Measured on one AMD Zen 3 core, [16×896]·[4864×896]ᵀ: 1.9 ms vs 3.0 ms widened tiles + sgemm.
template <int R, int J>
PLIP_AVX2 inline __attribute__((always_inline)) void SmallBlockBf16Avx2(const float* xp, const float* x, const uint16_t* w, int k,
                                                                        int j, float* y, int ldy, bool prefetch) {
  const int k16 = k & ~15;
  const __m256i high = _mm256_set1_epi32(int(0xFFFF0000u));
  __m256 acc[R][J];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < J; q++) acc[r][q] = _mm256_setzero_ps();
  const uint16_t* wr[J];
  for (int q = 0; q < J; q++) wr[q] = w + size_t(j + q) * k;
  for (int p = 0; p < k16; p += 16) {
    // the first block of x rows brings these w rows in from memory: fetch the next J rows meanwhile
    if (prefetch && (p & 31) == 0)
      for (int q = 0; q < J; q++) _mm_prefetch(reinterpret_cast<const char*>(wr[q] + size_t(J) * k + p), _MM_HINT_T0);
    __m256 xv[R];
    for (int r = 0; r < R; r++) xv[r] = _mm256_loadu_ps(xp + size_t(r) * k + p);
    for (int q = 0; q < J; q++) {
      const __m256 wv = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[q] + p)), 16));
      for (int r = 0; r < R; r++) acc[r][q] = _mm256_fmadd_ps(xv[r], wv, acc[r][q]);
    }
    for (int r = 0; r < R; r++) xv[r] = _mm256_loadu_ps(xp + size_t(r) * k + p + 8);
    for (int q = 0; q < J; q++) {
      const __m256 wv = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[q] + p)), high));
      for (int r = 0; r < R; r++) acc[r][q] = _mm256_fmadd_ps(xv[r], wv, acc[r][q]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < J; q++) {
      float s = Sum8(acc[r][q]);
      for (int p = k16; p < k; p++) s += x[size_t(r) * k + p] * Bf16ToF32(wr[q][p]);
      y[size_t(r) * ldy + j + q] += s;
    }
}

template <int J>
PLIP_AVX2 void SmallRowsBf16Avx2(const float* xp, const float* x, int m, const uint16_t* w, int k, int n, int j, float* y) {
  int i = 0;
  for (; i + 3 <= m; i += 3) SmallBlockBf16Avx2<3, J>(xp + size_t(i) * k, x + size_t(i) * k, w, k, j, y + size_t(i) * n, n, i == 0);
  if (m - i == 2) SmallBlockBf16Avx2<2, J>(xp + size_t(i) * k, x + size_t(i) * k, w, k, j, y + size_t(i) * n, n, i == 0);
  if (m - i == 1) SmallBlockBf16Avx2<1, J>(xp + size_t(i) * k, x + size_t(i) * k, w, k, j, y + size_t(i) * n, n, i == 0);
}

// Y[i, j] += X[i] · w[j] for the m rows of X and rows j in [j0, j1) of bf16 w; groups of three w rows.
PLIP_AVX2 void GemmSmallBf16Avx2(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y) {
  thread_local std::vector<float> perm;
  if (perm.size() < size_t(m) * k) perm.resize(size_t(m) * k);
  const int k16 = k & ~15;
  for (int i = 0; i < m; i++) {
    const float* xi = x + size_t(i) * k;
    float* d = perm.data() + size_t(i) * k;
    for (int p = 0; p < k16; p += 16)
      for (int q = 0; q < 8; q++) d[p + q] = xi[p + 2 * q], d[p + 8 + q] = xi[p + 2 * q + 1];
    std::memcpy(d + k16, xi + k16, sizeof(float) * size_t(k - k16));
  }
  int j = j0;
  for (; j + 3 <= j1; j += 3) SmallRowsBf16Avx2<3>(perm.data(), x, m, w, k, n, j, y);
  if (j1 - j == 2) SmallRowsBf16Avx2<2>(perm.data(), x, m, w, k, n, j, y);
  if (j1 - j == 1) SmallRowsBf16Avx2<1>(perm.data(), x, m, w, k, n, j, y);
}

bool CpuHasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("f16c");
}
bool CpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
bool CpuHasAvx512() { return false; }
bool CpuHasAvx2() { return false; }
#endif

// kAmx: bf16 products of more than GemmSmallMaxRows(0) rows on AMX tiles (plip_amx.cc); everything else as kAvx512.
enum Kernel { kPortable = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };
std::atomic<int> g_kernel{plip_amx::Available() && CpuHasAvx512() ? kAmx : CpuHasAvx512() ? kAvx512 : CpuHasAvx2() ? kAvx2 : kPortable};

}  // namespace

void Widen(const uint16_t* s, float* d, size_t n, int kind) {
  // f16 always widens in portable code: vcvtph2ps quiets signalling NaNs, and tiles must be bit-exact
  if (kind == 1) return WidenPortable(s, d, n, kind);
#ifdef PLIP_X86
  switch (g_kernel.load(std::memory_order_relaxed)) {
    case kAvx512:
    case kAmx: return WidenAvx512(s, d, n, kind);
    case kAvx2: return WidenAvx2(s, d, n, kind);
  }
#endif
  WidenPortable(s, d, n, kind);
}

void GemvRows(const float* x, const uint16_t* w, int k, int j0, int j1, float* y, int kind) {
#ifdef PLIP_X86
  switch (g_kernel.load(std::memory_order_relaxed)) {
    case kAvx512:
    case kAmx: return kind == 0 ? plip_bf16_avx512::Gemv(x, w, k, j0, j1, y) : GemvF16Avx512(x, w, k, j0, j1, y);
    case kAvx2: return kind == 0 ? GemvBf16Avx2(x, w, k, j0, j1, y) : GemvF16Avx2(x, w, k, j0, j1, y);
  }
#endif
  GemvPortable(x, w, k, j0, j1, y, kind);
}

bool GemmSmallRows(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y, int kind) {
  if (m > GemmSmallMaxRows(kind)) return false;
#ifdef PLIP_X86
  switch (g_kernel.load(std::memory_order_relaxed)) {
    case kAvx512:
    case kAmx:
      if (kind == 0) return plip_bf16_avx512::GemmSmall(x, m, w, k, n, j0, j1, y), true;
      return GemmSmallF16Avx512(x, m, w, k, n, j0, j1, y), true;
    case kAvx2: return GemmSmallBf16Avx2(x, m, w, k, n, j0, j1, y), true;
  }
#endif
  (void)x, (void)w, (void)k, (void)n, (void)j0, (void)j1, (void)y;
  return false;
}

int GemmSmallMaxRows(int kind) {
  static const int forced = [] {
    const char* e = std::getenv("PLIP_HALF_SMALL_M");  // benchmarking only
    return e ? std::atoi(e) : -1;
  }();
#ifdef PLIP_X86
  switch (g_kernel.load(std::memory_order_relaxed)) {
    case kAvx512: return forced >= 0 ? forced : kind == 0 ? 64 : 8;
    case kAmx: return forced >= 0 ? forced : 8;
    // bf16 only (f16 keeps the widened tiles); past ~32 rows sgemm on widened tiles wins again (Zen 3)
    case kAvx2: return kind == 0 ? (forced >= 0 ? forced : 32) : 0;
  }
#endif
  (void)kind;
  return 0;
}

const char* KernelName() {
  switch (g_kernel.load()) {
    case kAmx: return "amx";
    case kAvx512: return "avx512";
    case kAvx2: return "avx2";
  }
  return "portable";
}

bool UsesAmx() { return g_kernel.load(std::memory_order_relaxed) == kAmx; }

int PackedBf16GemmIsa() {
  static const bool off = [] {
    const char* e = std::getenv("PLIP_BF16_GEMM");  // benchmarking only: 0 = widened tiles + sgemm
    return e && std::string(e) == "0";
  }();
  if (off) return -1;
  switch (g_kernel.load(std::memory_order_relaxed)) {
    case kAvx512: return 0;  // plip_bf16_gemm::kAvx512
    case kAvx2: return 1;    // plip_bf16_gemm::kAvx2
  }
  return -1;
}

std::string SelectKernel(const std::string& name) {
  if (name == "portable") {
    g_kernel = kPortable;
  } else if (name == "avx2") {
    if (!CpuHasAvx2()) return "this CPU lacks avx2/fma/f16c; 'portable' is always available";
    g_kernel = kAvx2;
  } else if (name == "avx512") {
    if (!CpuHasAvx512()) return "this CPU lacks avx512f/bw/vl; use 'avx2' where supported, or 'portable'";
    g_kernel = kAvx512;
  } else if (name == "amx") {
    if (!plip_amx::Available() || !CpuHasAvx512()) return "this CPU lacks amx_tile/amx_bf16 (or the kernel refused the tile state); use 'avx512', 'avx2' or 'portable'";
    g_kernel = kAmx;
  } else {
    return "expected 'amx', 'avx512', 'avx2' or 'portable', got '" + name + "'";
  }
  return "";
}

}  // namespace plip_half
