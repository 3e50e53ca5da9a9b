// plip_bf16_avx512: see plip_bf16_avx512.h.
#include "plip_bf16_avx512.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define PLIP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace plip_bf16_avx512 {
namespace {

inline float Bf16ToF32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// x in the order the kernel consumes it: per 32 weights, the 16 at even offsets, then the 16 at odd ones
// (one 64-byte load of bf16 w holds weight 2i in the low and 2i + 1 in the high half of 32-bit lane i:
// a shift and a mask make them float32). The k % 32 tail is left in place.
void EvenOddInto(const float* x, int k, float* dst) {
  const int k32 = k & ~31;
  for (int p = 0; p < k32; p += 32)
    for (int q = 0; q < 16; q++) dst[p + q] = x[p + 2 * q], dst[p + 16 + q] = x[p + 2 * q + 1];
  std::memcpy(dst + k32, x + k32, sizeof(float) * size_t(k - k32));
}

#define PLIP_BLOCKS_TARGET PLIP_AVX512
#include "plip_bf16_blocks.h"

// The lane sums of 16 accumulators at once: s[4q + r] = Σ lanes of a[r][q], each summed in exactly the tree
// _mm512_reduce_add_ps uses (lane i + lane i+8, then i + i+4, i + i+2, i + i+1, the upper half first as GCC
// adds them), so every sum is the bits reduce_add gives it (a GEMV's 1 × 4 block and a 4 × 4 block agree),
// in 45 vector instructions instead of 16 reductions of 8 each.
PLIP_AVX512 inline __attribute__((always_inline)) void Reduce16(const __m512 (&a)[4][4], float* s) {
  __m512 x[8], y[4], z[2];
  for (int p = 0; p < 8; p++) {
    const __m512 u = a[p / 2][(2 * p) % 4], v = a[p / 2][(2 * p + 1) % 4];
    x[p] = _mm512_add_ps(_mm512_shuffle_f32x4(u, v, 0xEE), _mm512_shuffle_f32x4(u, v, 0x44));
  }
  // x[p]: 128-bit lanes 0, 1 = accumulator 2p's lanes i + (i + 8), i < 8; lanes 2, 3 = accumulator 2p + 1's
  for (int t = 0; t < 4; t++) y[t] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * t], x[2 * t + 1], 0xDD), _mm512_shuffle_f32x4(x[2 * t], x[2 * t + 1], 0x88));
  // y[t], 128-bit lane c: accumulator 4t + c, 4 partial sums
  for (int u = 0; u < 2; u++) z[u] = _mm512_add_ps(_mm512_shuffle_ps(y[2 * u], y[2 * u + 1], _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(y[2 * u], y[2 * u + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // z[u], 128-bit lane c: accumulators 8u + c (elements 0, 1) and 8u + 4 + c (elements 2, 3), 2 partial sums each
  const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // r, 128-bit lane c, element e: accumulator c + 4e, i.e. a[e][c]
  _mm512_storeu_ps(s, r);
}

// Y[i + r, j + q] += X[i + r] · w[j + q] for r < R, q < J: R·J accumulators, each weight made float32 once in a
// register for all R rows (x as EvenOddInto leaves it, in xp; the k % 32 tail from x itself).
struct Kernel {
  const float* xp;
  const float* x;
  const uint16_t* w;
  int k, ldy;
  float* y;
  template <int R, int J>
  PLIP_AVX512 inline __attribute__((always_inline)) void Block(int i, int j, bool lead) const {
    const int k32 = k & ~31;
    const __m512i high = _mm512_set1_epi32(int(0xFFFF0000u));
    const float* xi = xp + size_t(i) * k;
    __m512 acc[R][J];
    const uint16_t* wr[J];
    StartBlock<R, J>(acc, wr, w, j, k);
    for (int p = 0; p < k32; p += 32) {
      if (lead) PrefetchRows<J>(wr, k, p);
      __m512i wv[J];
      for (int q = 0; q < J; q++) wv[q] = _mm512_loadu_si512(wr[q] + p);
      __m512 xv[R];
      for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_ps(xi + size_t(r) * k + p);
      for (int q = 0; q < J; q++) {
        const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(wv[q], 16));
        for (int r = 0; r < R; r++) acc[r][q] = _mm512_fmadd_ps(xv[r], we, acc[r][q]);
      }
      for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_ps(xi + size_t(r) * k + p + 16);
      for (int q = 0; q < J; q++) {
        const __m512 wo = _mm512_castsi512_ps(_mm512_and_si512(wv[q], high));
        for (int r = 0; r < R; r++) acc[r][q] = _mm512_fmadd_ps(xv[r], wo, acc[r][q]);
      }
    }
    float sums[16];
    if constexpr (R == 4 && J == 4) Reduce16(acc, sums);
    for (int r = 0; r < R; r++)
      for (int q = 0; q < J; q++) {
        float s;
        if constexpr (R == 4 && J == 4) s = sums[4 * q + r];
        else s = _mm512_reduce_add_ps(acc[r][q]);
        for (int p = k32; p < k; p++) s += x[size_t(i + r) * k + p] * Bf16ToF32(wr[q][p]);
        y[size_t(i + r) * ldy + j + q] += s;
      }
  }
};

const float* EvenOdd(const float* x, int m, int k) {
  thread_local std::vector<float> buf;
  if (buf.size() < size_t(m) * k) buf.resize(size_t(m) * k);
  for (int i = 0; i < m; i++) EvenOddInto(x + size_t(i) * k, k, buf.data() + size_t(i) * k);
  return buf.data();
}

}  // namespace

// Four rows of w per pass (R·J = 1·4 accumulators): the GEMV is bound by memory, not by FMA latency.
PLIP_AVX512 void Gemv(const float* x, const uint16_t* w, int k, int j0, int j1, float* y) {
  BlockRun<1, 4>(Kernel{EvenOdd(x, 1, k), x, w, k, 1, y}, 1, j0, j1);
}

// 4 × 4 blocks: 16 accumulators, 4 rows of x and 4 of w in registers (5 × 4 measured alike; 6 × 4 and larger
// spill on AMD Zen 4).
PLIP_AVX512 void GemmSmall(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y) {
  BlockRun<4, 4>(Kernel{EvenOdd(x, m, k), x, w, k, n, y}, m, j0, j1);
}

}  // namespace plip_bf16_avx512
#else
namespace plip_bf16_avx512 {
void Gemv(const float*, const uint16_t*, int, int, int, float*) {}
void GemmSmall(const float*, int, const uint16_t*, int, int, int, int, float*) {}
}  // namespace plip_bf16_avx512
#endif
