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

// Y[r, j + q] += X[r] · w[j + q] for r < R, q < J: R·J accumulators, each weight made float32 once in a
// register for all R rows. `lead` marks the pass that brings these rows of w in from memory; it prefetches
// (the rows are short and read as J interleaved streams, which the hardware prefetcher ramps up on too late)
// into L2, not L1: the rows of x a batched call streams through L1 (16 × 896 floats = 57 KB) would evict
// them. Measured on AMD Zen 4 (2 vCPUs), a Qwen2.5-0.5B-dims bf16 decode step, interleaved in one process:
// 38 ms with both prefetches to L2, 55–59 ms to L1; a 16-row step 142–154 vs 157–164 ms.
template <int R, int J>
PLIP_AVX512 inline __attribute__((always_inline)) void Block(const float* xp, const float* x, const uint16_t* w, int k, int j,
                                                              float* y, int ldy, bool lead) {
  const int k32 = k & ~31;
  const bool shortRows = k <= 2048;
  const __m512i high = _mm512_set1_epi32(int(0xFFFF0000u));
  __m512 acc[R][J];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < J; q++) acc[r][q] = _mm512_setzero_ps();
  const uint16_t* wr[J];
  for (int q = 0; q < J; q++) wr[q] = w + size_t(j + q) * k;
  for (int p = 0; p < k32; p += 32) {
    if (lead) {
      // 2 KB ahead in each stream, and for short rows the next J rows (contiguous) linearly at the rate
      // this pass consumes them (J lines per step)
      for (int q = 0; q < J; q++) _mm_prefetch(reinterpret_cast<const char*>(wr[q] + p + 1024), _MM_HINT_T1);
      if (shortRows) {
        const char* next = reinterpret_cast<const char*>(wr[0] + size_t(J) * k) + size_t(p) * 2 * J;
        for (int q = 0; q < J; q++) _mm_prefetch(next + 64 * q, _MM_HINT_T1);
      }
    }
    __m512i wv[J];
    for (int q = 0; q < J; q++) wv[q] = _mm512_loadu_si512(wr[q] + p);
    __m512 xv[R];
    for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_ps(xp + size_t(r) * k + p);
    for (int q = 0; q < J; q++) {
      const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(wv[q], 16));
      for (int r = 0; r < R; r++) acc[r][q] = _mm512_fmadd_ps(xv[r], we, acc[r][q]);
    }
    for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_ps(xp + size_t(r) * k + p + 16);
    for (int q = 0; q < J; q++) {
      const __m512 wo = _mm512_castsi512_ps(_mm512_and_si512(wv[q], high));
      for (int r = 0; r < R; r++) acc[r][q] = _mm512_fmadd_ps(xv[r], wo, acc[r][q]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < J; q++) {
      float s = _mm512_reduce_add_ps(acc[r][q]);
      for (int p = k32; p < k; p++) s += x[size_t(r) * k + p] * Bf16ToF32(wr[q][p]);
      y[size_t(r) * ldy + j + q] += s;
    }
}

// All m rows of x against rows [j, j + J) of w: blocks of R rows, the rest in smaller blocks.
template <int R, int J>
PLIP_AVX512 void Rows(const float* xp, const float* x, int m, const uint16_t* w, int k, int n, int j, float* y, bool lead) {
  int i = 0;
  for (; i + R <= m; i += R) Block<R, J>(xp + size_t(i) * k, x + size_t(i) * k, w, k, j, y + size_t(i) * n, n, lead && i == 0);
  if constexpr (R > 1) {
    if (m - i >= 1) Rows<R - 1, J>(xp + size_t(i) * k, x + size_t(i) * k, m - i, w, k, n, j, y + size_t(i) * n, lead && i == 0);
  }
}

template <int R, int J>
PLIP_AVX512 void Run(const float* xp, const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y) {
  int j = j0;
  for (; j + J <= j1; j += J) Rows<R, J>(xp, x, m, w, k, n, j, y, true);
  if constexpr (J > 1) {
    if (j1 - j >= 1) Run<R, J - 1>(xp, x, m, w, k, n, j, j1, y);
  }
}

const float* EvenOdd(const float* x, int m, int k) {
  thread_local std::vector<float> buf;
  if (buf.size() < size_t(m) * k) buf.resize(size_t(m) * k);
  for (int i = 0; i < m; i++) EvenOddInto(x + size_t(i) * k, k, buf.data() + size_t(i) * k);
  return buf.data();
}

}  // namespace

// Four rows of w per pass (R·J = 1·4 accumulators): the GEMV is bound by memory, not by FMA latency.
PLIP_AVX512 void Gemv(const float* x, const uint16_t* w, int k, int j0, int j1, float* y) {
  Run<1, 4>(EvenOdd(x, 1, k), x, 1, w, k, 1, j0, j1, y);
}

// 4 × 4 blocks: 16 accumulators, 4 rows of x and 4 of w in registers (5 × 4 measured alike; 6 × 4 and larger
// spill on AMD Zen 4).
PLIP_AVX512 void GemmSmall(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y) {
  Run<4, 4>(EvenOdd(x, m, k), x, m, w, k, n, j0, j1, y);
}

}  // namespace plip_bf16_avx512
#else
namespace plip_bf16_avx512 {
void Gemv(const float*, const uint16_t*, int, int, int, float*) {}
void GemmSmall(const float*, int, const uint16_t*, int, int, int, int, float*) {}
}  // namespace plip_bf16_avx512
#endif
