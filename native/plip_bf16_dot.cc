// plip_bf16_dot: see plip_bf16_dot.h.
#include "plip_bf16_dot.h"

#include <cstddef>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define PLIP_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace plip_bf16_dot {
namespace {

#define PLIP_BLOCKS_TARGET PLIP_BF16
#include "plip_bf16_blocks.h"

// Y[i + r, j + q] += xb[i + r] · w[j + q] for r < R, q < J: R·J accumulators; one VDPBF16PS per pair of
// 32-weight rows (no conversion of w at all).
struct Kernel {
  const uint16_t* xb;
  int kp;
  const uint16_t* w;
  int k, ldy;
  float* y;
  template <int R, int J>
  PLIP_BF16 inline __attribute__((always_inline)) void Block(int i, int j, bool lead) const {
    const int k32 = k & ~31;
    const uint16_t* xi = xb + size_t(i) * kp;
    __m512 acc[R][J];
    const uint16_t* wr[J];
    StartBlock<R, J>(acc, wr, w, j, k);
    for (int p = 0; p < k32; p += 32) {
      if (lead) PrefetchRows<J>(wr, k, p);
      __m512i wv[J];
      for (int q = 0; q < J; q++) wv[q] = _mm512_loadu_si512(wr[q] + p);
      for (int r = 0; r < R; r++) {
        const __m512bh xv = (__m512bh)_mm512_loadu_si512(xi + size_t(r) * kp + p);
        for (int q = 0; q < J; q++) acc[r][q] = _mm512_dpbf16_ps(acc[r][q], xv, (__m512bh)wv[q]);
      }
    }
    if (k32 < k) {
      // the k % 32 tail: masked weights (zeros past the row) against x's zero padding
      const __mmask32 tail = __mmask32((uint64_t(1) << (k - k32)) - 1);
      __m512i wv[J];
      for (int q = 0; q < J; q++) wv[q] = _mm512_maskz_loadu_epi16(tail, wr[q] + k32);
      for (int r = 0; r < R; r++) {
        const __m512bh xv = (__m512bh)_mm512_loadu_si512(xi + size_t(r) * kp + k32);
        for (int q = 0; q < J; q++) acc[r][q] = _mm512_dpbf16_ps(acc[r][q], xv, (__m512bh)wv[q]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int q = 0; q < J; q++) y[size_t(i + r) * ldy + j + q] += _mm512_reduce_add_ps(acc[r][q]);
  }
};

}  // namespace

bool Available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bf16");
}

PLIP_BF16 void RoundRow(const float* x, int k, uint16_t* dst) {
  const int k16 = k & ~15;
  int p = 0;
  for (; p < k16; p += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + p), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + p)));
  if (p < k) {
    const __mmask16 tail = __mmask16((1u << (k - p)) - 1u);
    const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(tail, x + p));
    _mm256_mask_storeu_epi16(dst + p, tail, v);
  }
  std::memset(dst + k, 0, sizeof(uint16_t) * size_t(Padded(k) - k));
}

// 4 × 4 blocks, as the float32-activation kernel (plip_bf16_avx512.cc).
PLIP_BF16 void Gemm(const uint16_t* xb, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y) {
  BlockRun<4, 4>(Kernel{xb, Padded(k), w, k, n, y}, m, j0, j1);
}

}  // namespace plip_bf16_dot
#else
namespace plip_bf16_dot {
bool Available() { return false; }
void RoundRow(const float*, int, uint16_t*) {}
void Gemm(const uint16_t*, int, const uint16_t*, int, int, int, int, float*) {}
}  // namespace plip_bf16_dot
#endif
