// Horizontal reductions over 8 float lanes, shared by the AVX2 kernels of plip_half.cc and plip_ops.cc.
// Only for x86-64; callers compile them inside functions with target("avx2").
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace plip_avx2 {

__attribute__((target("avx2"))) inline float Sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2"))) inline float Max8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace plip_avx2
#endif
