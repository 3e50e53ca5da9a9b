// plip_exp: see plip_exp.h.
#include "plip_exp.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace plip_exp {

// V8's Math.exp (src/base/ieee754.cc, fdlibm's e_exp.c) operation for operation, so that sums of exponentials
// here equal the TypeScript ones bit for bit (test/tensor/native-exact.test.ts checks it against Math.exp).
double Exp(double x) {
  static const double one = 1.0, halF[2] = {0.5, -0.5}, o_threshold = 7.09782712893383973096e+02,
                      u_threshold = -7.45133219101941108420e+02, ln2HI[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01},
                      ln2LO[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10}, invln2 = 1.44269504088896338700e+00,
                      P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
                      P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08, E = 2.718281828459045;
  static volatile double huge = 1.0e+300, twom1000 = 9.33263618503218878990e-302, two1023 = 8.988465674311579539e307;
  double y, hi = 0.0, lo = 0.0, c, t, twopk;
  int32_t k = 0, xsb;
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  uint32_t hx = uint32_t(bits >> 32);
  xsb = (hx >> 31) & 1;
  hx &= 0x7FFFFFFF;
  if (hx >= 0x40862E42) {
    if (hx >= 0x7FF00000) {
      const uint32_t lx = uint32_t(bits);
      if (((hx & 0xFFFFF) | lx) != 0) return x + x;
      return (xsb == 0) ? x : 0.0;
    }
    if (x > o_threshold) return std::numeric_limits<double>::infinity();
    if (x < u_threshold) return twom1000 * twom1000;
  }
  if (hx > 0x3FD62E42) {
    if (hx < 0x3FF0A2B2) {
      if (x == 1.0) return E;
      hi = x - ln2HI[xsb];
      lo = ln2LO[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = static_cast<int>(invln2 * x + halF[xsb]);
      t = k;
      hi = x - t * ln2HI[0];
      lo = t * ln2LO[0];
    }
    x = hi - lo;
  } else if (hx < 0x3E300000) {
    if (huge + x > one) return one + x;
  } else {
    k = 0;
  }
  t = x * x;
  const uint64_t tw = k >= -1021 ? uint64_t(uint32_t(0x3FF00000 + (k << 20))) << 32 : uint64_t(uint32_t(0x3FF00000 + ((k + 1000) << 20))) << 32;
  std::memcpy(&twopk, &tw, 8);
  c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return one - ((x * c) / (c - 2.0) - x);
  y = one - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two1023;
    return y * twopk;
  }
  return y * twopk * twom1000;
}

namespace {

#if defined(__x86_64__) || defined(_M_X64)
#define PLIP_EXACT_X86 1
#define PLIP_AVX512D __attribute__((target("avx512f,avx512dq,avx512vl")))
// Exp on 8 arguments x ≤ 0 (NaN excluded) at once: the branches of Exp taken lane by lane with masks, every
// lane computing Exp's operations in Exp's order (IEEE double arithmetic, no fused multiply-add), so each
// lane equals Exp bit for bit. Only for x ≤ 0: the log-softmax sum, where x = logit − max.
PLIP_AVX512D inline __attribute__((always_inline)) __m512d ExpNonPositive8v(__m512d x0) {
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d ax = _mm512_abs_pd(x0);
  // |x| thresholds as doubles, equivalent to Exp's high-word tests for these magnitudes
  const __m512i hx = _mm512_srli_epi64(_mm512_castpd_si512(ax), 32);
  const __mmask8 zeroLane = _mm512_cmp_pd_mask(x0, _mm512_set1_pd(-7.45133219101941108420e+02), _CMP_LT_OQ);  // underflow and −∞
  const __mmask8 tiny = _mm512_cmplt_epu64_mask(hx, _mm512_set1_epi64(0x3e300000));
  const __mmask8 reduce = _mm512_cmpgt_epu64_mask(hx, _mm512_set1_epi64(0x3FD62E42));
  const __mmask8 near = reduce & _mm512_cmplt_epu64_mask(hx, _mm512_set1_epi64(0x3FF0A2B2));
  const __mmask8 far = reduce & ~near;
  // argument reduction (x ≤ 0, so xsb = 1): near: hi = x − (−ln2HI), lo = −ln2LO, k = −1;
  // far: k = (int)(invln2·x − 0.5), hi = x − k·ln2HI, lo = k·ln2LO
  const __m512d ln2HI = _mm512_set1_pd(6.93147180369123816490e-01), ln2LO = _mm512_set1_pd(1.90821492927058770002e-10);
  const __m512d kf = _mm512_mul_pd(_mm512_set1_pd(1.44269504088896338700e+00), x0);
  const __m256i kfar = _mm512_cvttpd_epi32(_mm512_add_pd(kf, _mm512_set1_pd(-0.5)));
  const __m512d tfar = _mm512_cvtepi32_pd(kfar);
  __m512d hi = _mm512_setzero_pd(), lo = _mm512_setzero_pd();
  hi = _mm512_mask_sub_pd(hi, near, x0, _mm512_set1_pd(-6.93147180369123816490e-01));
  lo = _mm512_mask_mov_pd(lo, near, _mm512_set1_pd(-1.90821492927058770002e-10));
  hi = _mm512_mask_sub_pd(hi, far, x0, _mm512_mul_pd(tfar, ln2HI));
  lo = _mm512_mask_mov_pd(lo, far, _mm512_mul_pd(tfar, ln2LO));
  __m256i k = _mm256_setzero_si256();
  k = _mm256_mask_mov_epi32(k, near, _mm256_set1_epi32(-1));
  k = _mm256_mask_mov_epi32(k, far, kfar);
  const __m512d x = _mm512_mask_sub_pd(x0, reduce, hi, lo);
  const __m512d t = _mm512_mul_pd(x, x);
  // twopk = 2^k (k ≥ −1021) or 2^(k+1000)
  const __m512i k64 = _mm512_cvtepi32_epi64(k);
  const __mmask8 low = _mm512_cmplt_epi64_mask(k64, _mm512_set1_epi64(-1021));
  const __m512i kk = _mm512_mask_add_epi64(k64, low, k64, _mm512_set1_epi64(1000));
  const __m512d twopk = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(_mm512_set1_epi64(0x3ff00000), _mm512_slli_epi64(kk, 20)), 32));
  // c = x − t·(P1 + t·(P2 + t·(P3 + t·(P4 + t·P5))))
  __m512d poly = _mm512_mul_pd(t, _mm512_set1_pd(4.13813679705723846039e-08));
  poly = _mm512_mul_pd(t, _mm512_add_pd(_mm512_set1_pd(-1.65339022054652515390e-06), poly));
  poly = _mm512_mul_pd(t, _mm512_add_pd(_mm512_set1_pd(6.61375632143793436117e-05), poly));
  poly = _mm512_mul_pd(t, _mm512_add_pd(_mm512_set1_pd(-2.77777777770155933842e-03), poly));
  poly = _mm512_mul_pd(t, _mm512_add_pd(_mm512_set1_pd(1.66666666666666019037e-01), poly));
  const __m512d c = _mm512_sub_pd(x, poly);
  const __m512d xc = _mm512_mul_pd(x, c);
  const __m512d two = _mm512_set1_pd(2.0);
  const __mmask8 kzero = _mm512_cmpeq_epi64_mask(k64, _mm512_setzero_si512());
  // k == 0: one − ((x·c)/(c − 2) − x); computed only when a lane takes it (a division costs ~16 cycles)
  const __m512d r0 = kzero ? _mm512_sub_pd(one, _mm512_sub_pd(_mm512_div_pd(xc, _mm512_sub_pd(c, two)), x)) : one;
  // else y = one − ((lo − (x·c)/(2 − c)) − hi), then y·twopk (·2^-1000 when k < −1021)
  const __m512d y = _mm512_sub_pd(one, _mm512_sub_pd(_mm512_sub_pd(lo, _mm512_div_pd(xc, _mm512_sub_pd(two, c))), hi));
  __m512d rk = _mm512_mul_pd(y, twopk);
  rk = _mm512_mask_mul_pd(rk, low, rk, _mm512_set1_pd(9.33263618503218878990e-302));
  __m512d r = _mm512_mask_mov_pd(rk, kzero, r0);
  r = _mm512_mask_add_pd(r, tiny, one, x0);  // |x| < 2^-28: one + x
  r = _mm512_mask_mov_pd(r, zeroLane, _mm512_setzero_pd());
  return r;
}
// 8·N arguments from xin (N vectors): one vector's chain is long (~80 cycles) and the vectors are independent,
// so N of them in flight overlap (measured on AMD Zen 4, a 151,936-logit log-softmax sum: N = 4 0.39–0.42 ms,
// one at a time 0.95–1.01 ms, N = 8 as N = 4; the same bits).
template <int N>
PLIP_AVX512D inline __attribute__((always_inline)) void ExpNonPositive8N(const __m512d* x, double* out) {
  __m512d r[N];
  for (int u = 0; u < N; u++) r[u] = ExpNonPositive8v(x[u]);
  for (int u = 0; u < N; u++) _mm512_storeu_pd(out + 8 * u, r[u]);
}
PLIP_AVX512D void ExpNonPositive8(const double* xin, double* out) {
  const __m512d x = _mm512_loadu_pd(xin);
  ExpNonPositive8N<1>(&x, out);
}
#define PLIP_AVX2D __attribute__((target("avx2")))
// ExpNonPositive8's operations on 4 lanes with AVX2 (no mask registers: compares give all-ones lanes, blends
// select), in the same order, so each lane equals Exp bit for bit. hx < 2^31, so AVX2's signed 64-bit compares
// order it as the unsigned ones above do. One division serves both branches: c − 2 = −(2 − c) exactly and IEEE
// division is sign-symmetric, so (x·c)/(c − 2) = −q bit for bit.
// N vectors at once, statement by statement across them: each vector's dependency chain is long (~80 cycles)
// and independent of the others; interleaved in program order they overlap (measured on Zen 3: N = 4 1.45×
// faster than one at a time).
template <int N>
PLIP_AVX2D inline __attribute__((always_inline)) void ExpNonPositive4N(const __m256d* x0, double* out) {
#define PLIP_U for (int u = 0; u < N; u++)
  const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(), two = _mm256_set1_pd(2.0);
  const __m256d ln2HI = _mm256_set1_pd(6.93147180369123816490e-01), ln2LO = _mm256_set1_pd(1.90821492927058770002e-10);
  __m256d zeroLane[N], tiny[N], nearD[N], farD[N], reduceD[N], hi[N], lo[N], x[N], t[N], poly[N], c[N], xc[N], q[N], r[N], tw[N];
  __m256i k64[N], low[N];
  PLIP_U {
    const __m256d ax = _mm256_and_pd(x0[u], _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL)));
    const __m256i hx = _mm256_srli_epi64(_mm256_castpd_si256(ax), 32);
    zeroLane[u] = _mm256_cmp_pd(x0[u], _mm256_set1_pd(-7.45133219101941108420e+02), _CMP_LT_OQ);
    tiny[u] = _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(0x3e300000), hx));
    const __m256i reduce = _mm256_cmpgt_epi64(hx, _mm256_set1_epi64x(0x3FD62E42));
    const __m256i near = _mm256_and_si256(reduce, _mm256_cmpgt_epi64(_mm256_set1_epi64x(0x3FF0A2B2), hx));
    const __m256i far = _mm256_andnot_si256(near, reduce);
    nearD[u] = _mm256_castsi256_pd(near), farD[u] = _mm256_castsi256_pd(far), reduceD[u] = _mm256_castsi256_pd(reduce);
    k64[u] = near;  // −1 where near (all ones), else 0
  }
  __m128i kfar[N];
  PLIP_U kfar[u] = _mm256_cvttpd_epi32(_mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(1.44269504088896338700e+00), x0[u]), _mm256_set1_pd(-0.5)));
  PLIP_U {
    const __m256d tfar = _mm256_cvtepi32_pd(kfar[u]);
    hi[u] = _mm256_blendv_pd(zero, _mm256_sub_pd(x0[u], _mm256_set1_pd(-6.93147180369123816490e-01)), nearD[u]);
    lo[u] = _mm256_blendv_pd(zero, _mm256_set1_pd(-1.90821492927058770002e-10), nearD[u]);
    hi[u] = _mm256_blendv_pd(hi[u], _mm256_sub_pd(x0[u], _mm256_mul_pd(tfar, ln2HI)), farD[u]);
    lo[u] = _mm256_blendv_pd(lo[u], _mm256_mul_pd(tfar, ln2LO), farD[u]);
    k64[u] = _mm256_blendv_epi8(k64[u], _mm256_cvtepi32_epi64(kfar[u]), _mm256_castpd_si256(farD[u]));
  }
  PLIP_U x[u] = _mm256_blendv_pd(x0[u], _mm256_sub_pd(hi[u], lo[u]), reduceD[u]);
  PLIP_U t[u] = _mm256_mul_pd(x[u], x[u]);
  PLIP_U {
    low[u] = _mm256_cmpgt_epi64(_mm256_set1_epi64x(-1021), k64[u]);
    const __m256i kk = _mm256_add_epi64(k64[u], _mm256_and_si256(low[u], _mm256_set1_epi64x(1000)));
    tw[u] = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_set1_epi64x(0x3ff00000), _mm256_slli_epi64(kk, 20)), 32));
  }
  PLIP_U poly[u] = _mm256_mul_pd(t[u], _mm256_set1_pd(4.13813679705723846039e-08));
  PLIP_U poly[u] = _mm256_mul_pd(t[u], _mm256_add_pd(_mm256_set1_pd(-1.65339022054652515390e-06), poly[u]));
  PLIP_U poly[u] = _mm256_mul_pd(t[u], _mm256_add_pd(_mm256_set1_pd(6.61375632143793436117e-05), poly[u]));
  PLIP_U poly[u] = _mm256_mul_pd(t[u], _mm256_add_pd(_mm256_set1_pd(-2.77777777770155933842e-03), poly[u]));
  PLIP_U poly[u] = _mm256_mul_pd(t[u], _mm256_add_pd(_mm256_set1_pd(1.66666666666666019037e-01), poly[u]));
  PLIP_U c[u] = _mm256_sub_pd(x[u], poly[u]);
  PLIP_U xc[u] = _mm256_mul_pd(x[u], c[u]);
  PLIP_U q[u] = _mm256_div_pd(xc[u], _mm256_sub_pd(two, c[u]));
  PLIP_U {
    const __m256d r0 = _mm256_sub_pd(one, _mm256_sub_pd(_mm256_xor_pd(q[u], _mm256_set1_pd(-0.0)), x[u]));
    const __m256d y = _mm256_sub_pd(one, _mm256_sub_pd(_mm256_sub_pd(lo[u], q[u]), hi[u]));
    __m256d rk = _mm256_mul_pd(y, tw[u]);
    rk = _mm256_blendv_pd(rk, _mm256_mul_pd(rk, _mm256_set1_pd(9.33263618503218878990e-302)), _mm256_castsi256_pd(low[u]));
    const __m256d kzero = _mm256_castsi256_pd(_mm256_cmpeq_epi64(k64[u], _mm256_setzero_si256()));
    r[u] = _mm256_blendv_pd(rk, r0, kzero);
    r[u] = _mm256_blendv_pd(r[u], _mm256_add_pd(one, x0[u]), tiny[u]);
    r[u] = _mm256_blendv_pd(r[u], zero, zeroLane[u]);
  }
  PLIP_U _mm256_storeu_pd(out + 4 * u, r[u]);
#undef PLIP_U
}
bool CpuHasAvx2d() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
bool CpuHasAvx512d() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
// 8: the AVX-512 lanes, 4: AVX2, 0: scalar Exp only (PLIP_EXACT_SCALAR set)
const int g_vecExp = std::getenv("PLIP_EXACT_SCALAR") != nullptr ? 0 : CpuHasAvx512d() ? 8 : CpuHasAvx2d() ? 4 : 0;
#endif

#ifdef PLIP_EXACT_X86
// The AVX2 loop of AddExpShifted: exponentials 4 at a time, the sum in sequence, from x[*i]; advances *i.
// The running sum lives in locals: through a reference it went to memory and back for every term (~3× slower).
PLIP_AVX2D Neumaier AddExpShifted4(const float* x, size_t n, double m, Neumaier sum, size_t* at) {
  alignas(32) double e[16];
  const __m256d mv = _mm256_set1_pd(m);
  size_t i = *at;
  for (; i + 16 <= n; i += 16) {
    __m256d a[4];
    for (int u = 0; u < 4; u++) a[u] = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * u)), mv);
    ExpNonPositive4N<4>(a, e);
    for (int q = 0; q < 16; q++) sum.Add(e[q]);
  }
  *at = i;
  return sum;
}

// The AVX-512 loop of AddExpShifted: exponentials 32 at a time (4 vectors in flight), then 8 at a time, the
// sum in sequence, from x[*i]; advances *i.
PLIP_AVX512D Neumaier AddExpShifted8(const float* x, size_t n, double m, Neumaier sum, size_t* at) {
  alignas(64) double e[32];
  const __m512d mv = _mm512_set1_pd(m);
  size_t i = *at;
  for (; i + 32 <= n; i += 32) {
    __m512d a[4];
    for (int u = 0; u < 4; u++) a[u] = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8 * u)), mv);
    ExpNonPositive8N<4>(a, e);
    for (int q = 0; q < 32; q++) sum.Add(e[q]);
  }
  for (; i + 8 <= n; i += 8) {
    const __m512d a = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), mv);
    ExpNonPositive8N<1>(&a, e);
    for (int q = 0; q < 8; q++) sum.Add(e[q]);
  }
  *at = i;
  return sum;
}

PLIP_AVX2D void ExpNonPositiveInto4(const double* x, double* o, size_t n, size_t& i) {
  for (; i + 16 <= n; i += 16) {
    __m256d a[4];
    for (int u = 0; u < 4; u++) a[u] = _mm256_loadu_pd(x + i + 4 * u);
    ExpNonPositive4N<4>(a, o + i);
  }
}
PLIP_AVX512D void ExpNonPositiveInto8(const double* x, double* o, size_t n, size_t& i) {
  for (; i + 32 <= n; i += 32) {
    __m512d a[4];
    for (int u = 0; u < 4; u++) a[u] = _mm512_loadu_pd(x + i + 8 * u);
    ExpNonPositive8N<4>(a, o + i);
  }
  for (; i + 8 <= n; i += 8) ExpNonPositive8(x + i, o + i);
}
#endif

}  // namespace

// acc += Σ Exp(x[i] − m) in order, for x[i] ≤ m (m the maximum): exponentials 8 at a time where the CPU allows,
// the Neumaier sum always in sequence.
void AddExpShifted(const float* x, size_t n, double m, Neumaier& out) {
  Neumaier acc = out;
  size_t i = 0;
#ifdef PLIP_EXACT_X86
  if (g_vecExp == 8) {
    acc = AddExpShifted8(x, n, m, acc, &i);
  } else if (g_vecExp == 4) {
    acc = AddExpShifted4(x, n, m, acc, &i);
  }
#endif
  for (; i < n; i++) acc.Add(Exp(double(x[i]) - m));
  out = acc;
}

void ExpNonPositive(const double* x, double* o, size_t n) {
  size_t i = 0;
#ifdef PLIP_EXACT_X86
  if (g_vecExp == 8) ExpNonPositiveInto8(x, o, n, i);
  if (g_vecExp == 4) ExpNonPositiveInto4(x, o, n, i);
#endif
  for (; i < n; i++) o[i] = Exp(x[i]);
}

int VectorExpLanes() {
#ifdef PLIP_EXACT_X86
  return g_vecExp;
#else
  return 0;
#endif
}

}  // namespace plip_exp
