// plip_bf16_gemm: see plip_bf16_gemm.h.
#include "plip_bf16_gemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define PLIP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace plip_bf16_gemm {
namespace {

// Weights of each panel row packed per run; 32 · KC floats (32 KB) stay in L1/L2 while every strip of x passes.
constexpr int kKc = 256;
constexpr int kPanel = 32;

inline float Bf16ToF32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// r[i] holds row i of a 16 × 16 block; afterwards r[c] holds column c.
PLIP_AVX512 inline __attribute__((always_inline)) void Transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + c], 128-bit lane L: column 4L + c of rows 4i .. 4i + 3
  __m512 u[16];
  for (int i = 0; i < 4; i++) {
    u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; c++) {
    const __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v2 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(v2, w2, 0xDD);
  }
}

// p[kk][q] = float(w[q·k + k0 + kk]) for q < rows, 0 for rows ≤ q < 32; kk < kc. w points at the panel's first row.
PLIP_AVX512 void PackPanel(const uint16_t* w, int k, int rows, int k0, int kc, float* p) {
  const int kc16 = kc & ~15;
  for (int q0 = 0; q0 < kPanel; q0 += 16) {
    const int nr = std::clamp(rows - q0, 0, 16);
    for (int kk = 0; kk < kc16; kk += 16) {
      __m512 r[16];
      for (int q = 0; q < 16; q++) {
        if (q < nr) {
          const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + size_t(q0 + q) * k + k0 + kk));
          r[q] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
        } else {
          r[q] = _mm512_setzero_ps();
        }
      }
      Transpose16(r);
      for (int c = 0; c < 16; c++) _mm512_store_ps(p + size_t(kk + c) * kPanel + q0, r[c]);
    }
    for (int kk = kc16; kk < kc; kk++)
      for (int q = 0; q < 16; q++) p[size_t(kk) * kPanel + q0 + q] = q < nr ? Bf16ToF32(w[size_t(q0 + q) * k + k0 + kk]) : 0.0f;
  }
}

// y[r, 0..32) = init + Σ_kk a[kk·R + r] · p[kk][0..32) for r < R (columns masked by m0 | m1), init = y[r, ·]
// or, for the first run (`first` non-null), first[0..32) (the bias, or zeros): 2R accumulators.
template <int R>
PLIP_AVX512 void Tile(const float* a, const float* p, int kc, float* y, int ldy, __mmask16 m0, __mmask16 m1, const float* first) {
  __m512 c0[R], c1[R];
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int kk = 0; kk < kc; kk++) {
    const __m512 b0 = _mm512_load_ps(p + size_t(kk) * kPanel), b1 = _mm512_load_ps(p + size_t(kk) * kPanel + 16);
    for (int r = 0; r < R; r++) {
      const __m512 av = _mm512_set1_ps(a[size_t(kk) * R + r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
  }
  for (int r = 0; r < R; r++) {
    float* yr = y + size_t(r) * ldy;
    const float* in = first ? first : yr;
    _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, in), c0[r]));
    _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, in + 16), c1[r]));
  }
}

using TileFn = void (*)(const float*, const float*, int, float*, int, __mmask16, __mmask16, const float*);
constexpr TileFn kTiles[kStripRows + 1] = {nullptr, Tile<1>, Tile<2>, Tile<3>, Tile<4>, Tile<5>, Tile<6>, Tile<7>, Tile<8>, Tile<9>, Tile<10>, Tile<11>, Tile<12>};

}  // namespace

PLIP_AVX512 void PackX(const float* x, int m, int k, float* px, int s0, int s1) {
  for (int s = s0; s < s1; s++) {
    const int i0 = s * kStripRows, R = std::min(kStripRows, m - i0);
    float* dst = px + size_t(i0) * k;
    for (int p = 0; p < k; p++)
      for (int r = 0; r < R; r++) dst[size_t(p) * R + r] = x[size_t(i0 + r) * k + p];
  }
}

PLIP_AVX512 void GemmRows(const float* px, int m, int k, const uint16_t* w, const float* bias, int j0, int j1, float* y, int ldy) {
  alignas(64) static thread_local float panel[kKc * kPanel];
  alignas(64) float init[kPanel];
  const int strips = Strips(m);
  for (int j = j0; j < j1; j += kPanel) {
    const int rows = std::min(kPanel, j1 - j);
    const __mmask16 m0 = __mmask16((1u << std::min(rows, 16)) - 1), m1 = __mmask16((1u << std::max(rows - 16, 0)) - 1);
    for (int q = 0; q < kPanel; q++) init[q] = bias && q < rows ? bias[j + q] : 0.0f;
    for (int k0 = 0; k0 < k; k0 += kKc) {
      const int kc = std::min(kKc, k - k0);
      PackPanel(w + size_t(j) * k, k, rows, k0, kc, panel);
      // The next run's weights (this panel's next KC, or the next panel's first) into L2 while the strips run:
      // 32 rows read as 32 short streams are more than the hardware prefetcher follows (a pack from memory
      // was bound by latency).
      const bool last = k0 + kc >= k;
      const int jn = last ? j + kPanel : j, k0n = last ? 0 : k0 + kc;
      const int rowsN = jn < j1 ? std::min(kPanel, j1 - jn) : 0, kcN = std::min(kKc, k - k0n);
      const int lineSpan = (kcN * 2 + 63) / 64 + 1, lines = rowsN * lineSpan, per = (lines + strips - 1) / strips;
      for (int s = 0; s < strips; s++) {
        for (int l = s * per, e = std::min(lines, l + per); l < e; l++) {
          const char* row = reinterpret_cast<const char*>(w + size_t(jn + l / lineSpan) * k + k0n);
          _mm_prefetch(row + 64 * (l % lineSpan), _MM_HINT_T1);
        }
        const int i0 = s * kStripRows, R = std::min(kStripRows, m - i0);
        kTiles[R](px + size_t(i0) * k + size_t(k0) * R, panel, kc, y + size_t(i0) * ldy + j, ldy, m0, m1, k0 == 0 ? init : nullptr);
      }
    }
  }
}

}  // namespace plip_bf16_gemm
#else
namespace plip_bf16_gemm {
void PackX(const float*, int, int, float*, int, int) {}
void GemmRows(const float*, int, int, const uint16_t*, const float*, int, int, float*, int) {}
}  // namespace plip_bf16_gemm
#endif
