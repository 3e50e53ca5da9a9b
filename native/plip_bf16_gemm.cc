// plip_bf16_gemm: see plip_bf16_gemm.h.
#include "plip_bf16_gemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define PLIP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define PLIP_AVX2 __attribute__((target("avx2,fma")))

namespace plip_bf16_gemm {
namespace {

// Weights of each panel row packed per run: a panel's run (32 KB on AVX-512, 16 KB on AVX2) stays in L1/L2 while
// every strip of x passes.
constexpr int kKc = 256;

inline float Bf16ToF32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A tile: y[r, 0..cols) = init + Σ_kk a[kk·R + r] · p[kk][0..Panel) for r < R, init = y[r, ·] or, for a
// panel's first run (`first` non-null), first[0..Panel) (the bias, or zeros).
using TileFn = void (*)(const float* a, const float* p, int kc, float* y, int ldy, int cols, const float* first);
// Packs p[kk][q] = float(w[q·k + k0 + kk]) for q < rows, 0 for rows ≤ q < Panel; kk < kc.
using PackFn = void (*)(const uint16_t* w, int k, int rows, int k0, int kc, float* p);

// ---- AVX-512: 32-row panels, 12-row strips (24 accumulators of 16 lanes)
namespace avx512 {
constexpr int kPanel = 32, kStrip = 12;

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

PLIP_AVX512 void Pack(const uint16_t* w, int k, int rows, int k0, int kc, float* p) {
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

template <int R>
PLIP_AVX512 void Tile(const float* a, const float* p, int kc, float* y, int ldy, int cols, const float* first) {
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
  const __mmask16 m0 = __mmask16((1u << std::min(cols, 16)) - 1), m1 = __mmask16((1u << std::max(cols - 16, 0)) - 1);
  for (int r = 0; r < R; r++) {
    float* yr = y + size_t(r) * ldy;
    const float* in = first ? first : yr;
    _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, in), c0[r]));
    _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, in + 16), c1[r]));
  }
}

constexpr TileFn kTiles[kStrip + 1] = {nullptr, Tile<1>, Tile<2>, Tile<3>, Tile<4>, Tile<5>, Tile<6>, Tile<7>, Tile<8>, Tile<9>, Tile<10>, Tile<11>, Tile<12>};
}  // namespace avx512

// ---- AVX2 + FMA: 16-row panels, 6-row strips (12 accumulators of 8 lanes, the Haswell sgemm shape)
namespace avx2 {
constexpr int kPanel = 16, kStrip = 6;

// r[i] holds row i of an 8 × 8 block; afterwards r[c] holds column c.
PLIP_AVX2 inline __attribute__((always_inline)) void Transpose8(__m256 (&r)[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + c], 128-bit lane L: column 4L + c of rows 4i .. 4i + 3
  for (int i = 0; i < 2; i++) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; c++) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

PLIP_AVX2 void Pack(const uint16_t* w, int k, int rows, int k0, int kc, float* p) {
  const int kc8 = kc & ~7;
  for (int q0 = 0; q0 < kPanel; q0 += 8) {
    const int nr = std::clamp(rows - q0, 0, 8);
    for (int kk = 0; kk < kc8; kk += 8) {
      __m256 r[8];
      for (int q = 0; q < 8; q++) {
        if (q < nr) {
          const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + size_t(q0 + q) * k + k0 + kk));
          r[q] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        } else {
          r[q] = _mm256_setzero_ps();
        }
      }
      Transpose8(r);
      for (int c = 0; c < 8; c++) _mm256_store_ps(p + size_t(kk + c) * kPanel + q0, r[c]);
    }
    for (int kk = kc8; kk < kc; kk++)
      for (int q = 0; q < 8; q++) p[size_t(kk) * kPanel + q0 + q] = q < nr ? Bf16ToF32(w[size_t(q0 + q) * k + k0 + kk]) : 0.0f;
  }
}

template <int R>
PLIP_AVX2 void Tile(const float* a, const float* p, int kc, float* y, int ldy, int cols, const float* first) {
  __m256 c0[R], c1[R];
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int kk = 0; kk < kc; kk++) {
    const __m256 b0 = _mm256_load_ps(p + size_t(kk) * kPanel), b1 = _mm256_load_ps(p + size_t(kk) * kPanel + 8);
    for (int r = 0; r < R; r++) {
      const __m256 av = _mm256_set1_ps(a[size_t(kk) * R + r]);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
  }
  if (cols == kPanel) {
    // plain stores: AMD Zen microcodes vmaskmovps stores (tens of cycles each)
    for (int r = 0; r < R; r++) {
      float* yr = y + size_t(r) * ldy;
      const float* in = first ? first : yr;
      _mm256_storeu_ps(yr, _mm256_add_ps(_mm256_loadu_ps(in), c0[r]));
      _mm256_storeu_ps(yr + 8, _mm256_add_ps(_mm256_loadu_ps(in + 8), c1[r]));
    }
    return;
  }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane), m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
  for (int r = 0; r < R; r++) {
    float* yr = y + size_t(r) * ldy;
    const float* in = first ? first : yr;
    _mm256_maskstore_ps(yr, m0, _mm256_add_ps(_mm256_maskload_ps(in, m0), c0[r]));
    _mm256_maskstore_ps(yr + 8, m1, _mm256_add_ps(_mm256_maskload_ps(in + 8, m1), c1[r]));
  }
}

constexpr TileFn kTiles[kStrip + 1] = {nullptr, Tile<1>, Tile<2>, Tile<3>, Tile<4>, Tile<5>, Tile<6>};
}  // namespace avx2

struct Kernel {
  int panel, strip;
  PackFn pack;
  const TileFn* tiles;
};
const Kernel kKernels[2] = {{avx512::kPanel, avx512::kStrip, avx512::Pack, avx512::kTiles}, {avx2::kPanel, avx2::kStrip, avx2::Pack, avx2::kTiles}};

}  // namespace

int StripRows(Isa isa) { return kKernels[isa].strip; }

void PackX(Isa isa, const float* x, int m, int k, float* px, int s0, int s1) {
  const int S = kKernels[isa].strip;
  for (int s = s0; s < s1; s++) {
    const int i0 = s * S, R = std::min(S, m - i0);
    float* dst = px + size_t(i0) * k;
    for (int p = 0; p < k; p++)
      for (int r = 0; r < R; r++) dst[size_t(p) * R + r] = x[size_t(i0 + r) * k + p];
  }
}

void GemmRows(Isa isa, const float* px, int m, int k, const uint16_t* w, const float* bias, int j0, int j1, float* y, int ldy) {
  const Kernel& K = kKernels[isa];
  alignas(64) static thread_local float panel[kKc * 32];
  alignas(64) float init[32];
  const int strips = (m + K.strip - 1) / K.strip;
  for (int j = j0; j < j1; j += K.panel) {
    const int rows = std::min(K.panel, j1 - j);
    for (int q = 0; q < K.panel; q++) init[q] = bias && q < rows ? bias[j + q] : 0.0f;
    for (int k0 = 0; k0 < k; k0 += kKc) {
      const int kc = std::min(kKc, k - k0);
      K.pack(w + size_t(j) * k, k, rows, k0, kc, panel);
      // The next run's weights (this panel's next KC, or the next panel's first) into L2 while the strips run:
      // a panel's rows read as that many short streams are more than the hardware prefetcher follows (a pack
      // from memory was bound by latency).
      const bool last = k0 + kc >= k;
      const int jn = last ? j + K.panel : j, k0n = last ? 0 : k0 + kc;
      const int rowsN = jn < j1 ? std::min(K.panel, j1 - jn) : 0, kcN = std::min(kKc, k - k0n);
      const int lineSpan = (kcN * 2 + 63) / 64 + 1, lines = rowsN * lineSpan, per = (lines + strips - 1) / strips;
      for (int s = 0; s < strips; s++) {
        for (int l = s * per, e = std::min(lines, l + per); l < e; l++) {
          const char* row = reinterpret_cast<const char*>(w + size_t(jn + l / lineSpan) * k + k0n);
          _mm_prefetch(row + 64 * (l % lineSpan), _MM_HINT_T1);
        }
        const int i0 = s * K.strip, R = std::min(K.strip, m - i0);
        K.tiles[R](px + size_t(i0) * k + size_t(k0) * R, panel, kc, y + size_t(i0) * ldy + j, ldy, rows, k0 == 0 ? init : nullptr);
      }
    }
  }
}

}  // namespace plip_bf16_gemm
#else
namespace plip_bf16_gemm {
int StripRows(Isa) { return 1; }
void PackX(Isa, const float*, int, int, float*, int, int) {}
void GemmRows(Isa, const float*, int, int, const uint16_t*, const float*, int, int, float*, int) {}
}  // namespace plip_bf16_gemm
#endif
