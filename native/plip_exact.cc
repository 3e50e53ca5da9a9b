// plip_exact: decoder ops that reproduce the TypeScript ones (src/model/ops.ts, src/model/forward.ts) bit for
// bit — the same float64 arithmetic in the same order, each result rounded to float32 once, as a JS store
// into a Float32Array does (part of the plip_blas addon). They exist because V8 runs these loops 3–5× slower
// than C++ (about a tenth of a Qwen2.5-0.5B-dims prefill); moving them changes no result. Built with
// -ffp-contract=off (binding.gyp): a fused multiply-add would round differently.
//
// Exports (Float32Array, used zero-copy):
//   normRows(x, rows, d, kind, eps, offset, g, b|null, out)
//       kind 0 RMSNorm: out = fround(x / sqrt(mean(x²) + eps)) · (offset + g) + b
//       kind 1 LayerNorm: out = (x − mean) / sqrt(var + eps) · (offset + g) + b   (biased variance)
//   addRange(out, a, b, lo, hi)       out[i] = a[i] + b[i]
//   add3Range(out, a, b, c, lo, hi)   out[i] = a[i] + b[i] + c[i]   (float64 sum, one rounding)
//   mulRange(x, y, lo, hi)            x[i] = x[i] · y[i]
//   scatterHeads(src, dst, T, H, group, Dh, cap, at)   the KV cache write: dst[h, at + t] = src[t, ⌊h / group⌋]
//   logSoftmaxParts(logits) → [bad, max, Σexp(x−max)], subtractInto(logits, c, out), klFromLogProbs(lp, lq, p|null):
//       the loops of src/metrics/distribution.ts logSoftmax / klFromLogProbs, with V8's exp (fdlibm) ported
//   expInto(x, out)                   out[i] = exp(x[i]) (V8's Math.exp; for the equality test)
//   expNonPositiveInto(x, out)        the same for x ≤ 0 through the vector version the log-softmax sum uses
//                                     (8 lanes AVX-512, 4 lanes AVX2; LogProbRows.probs); returns the lane count

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#include <string>

#include "plip_napi.h"
#include "plip_pool.h"

namespace plip_exact {

using namespace plip;

namespace {

struct F64View {
  double* data = nullptr;
  size_t length = 0;
};

int64_t Index(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) { return GetDim(info, i, fn, name); }

double Real(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string(fn) + ": '" + name + "' must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}


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

// src/metrics/distribution.ts KahanSum (Neumaier), operation for operation.
struct Neumaier {
  double s = 0, c = 0;
  void Add(double v) {
    const double t = s + v;
    if (std::fabs(s) >= std::fabs(v)) c += s - t + v;
    else c += v - t + s;
    s = t;
  }
  double Value() const { return s + c; }
};


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
#endif

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

F64View GetF64(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
  Napi::Value v = info[idx];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowType(info.Env(), std::string(fn) + ": argument '" + name + "' must be a Float64Array");
  auto a = v.As<Napi::Float64Array>();
  return F64View{a.Data(), a.ElementLength()};
}

// expInto(x: Float64Array, out: Float64Array): out[i] = exp(x[i]) (tests: equality with Math.exp).
Napi::Value ExpInto(const Napi::CallbackInfo& info) {
  RequireArgc(info, 2, "expInto", "(x, out)");
  F64View x = GetF64(info, 0, "expInto", "x"), o = GetF64(info, 1, "expInto", "out");
  if (o.length < x.length) ThrowRange(info.Env(), "expInto: 'out' is shorter than 'x'");
  for (size_t i = 0; i < x.length; i++) o.data[i] = Exp(x.data[i]);
  return info.Env().Undefined();
}

#ifdef PLIP_EXACT_X86
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

// expNonPositiveInto(x: Float64Array, out: Float64Array): out[i] = exp(x[i]) for x[i] ≤ 0 through the vector
// path the log-softmax sum uses where the CPU has one (tests: equality with Math.exp); returns its lane count
// (8 AVX-512, 4 AVX2, 0 scalar only).
Napi::Value ExpNonPositiveInto(const Napi::CallbackInfo& info) {
  static const char* fn = "expNonPositiveInto";
  RequireArgc(info, 2, fn, "(x, out)");
  F64View x = GetF64(info, 0, fn, "x"), o = GetF64(info, 1, fn, "out");
  if (o.length < x.length) ThrowRange(info.Env(), std::string(fn) + ": 'out' is shorter than 'x'");
  for (size_t i = 0; i < x.length; i++)
    if (!(x.data[i] <= 0)) ThrowRange(info.Env(), std::string(fn) + ": x[" + std::to_string(i) + "] is not <= 0");
  size_t i = 0;
  int lanes = 0;
#ifdef PLIP_EXACT_X86
  lanes = g_vecExp;
  if (lanes == 8) ExpNonPositiveInto8(x.data, o.data, x.length, i);
  if (lanes == 4) ExpNonPositiveInto4(x.data, o.data, x.length, i);
#endif
  for (; i < x.length; i++) o.data[i] = Exp(x.data[i]);
  return Napi::Number::New(info.Env(), lanes);
}

// [status, max, sumExp] of one row: status −1, or the index of the first NaN/+∞ (then nothing else is set).
void Parts(const float* x, size_t n, double* o) {
  double m = -std::numeric_limits<double>::infinity();
  o[0] = -1;
  for (size_t i = 0; i < n; i++) {
    const double v = x[i];
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) {
      o[0] = double(i);
      return;
    }
    if (v > m) m = v;
  }
  Neumaier acc;
  if (m != -std::numeric_limits<double>::infinity()) AddExpShifted(x, n, m, acc);
  o[1] = m;
  o[2] = acc.Value();
}

// logSoftmaxParts(logits: Float32Array) → [status, max, sumExp]: status −1, or the index of the first NaN/+∞
// logit; max the largest logit; sumExp = Σ exp(x − max) (Neumaier), as logSoftmax in distribution.ts.
Napi::Value LogSoftmaxParts(const Napi::CallbackInfo& info) {
  static const char* fn = "logSoftmaxParts";
  RequireArgc(info, 1, fn, "(logits)");
  F32View x = GetF32(info, 0, fn, "logits");
  Napi::Env env = info.Env();
  double parts[3];
  Parts(x.data, x.length, parts);
  Napi::Array r = Napi::Array::New(env, 3);
  r.Set(0u, Napi::Number::New(env, parts[0]));
  if (parts[0] >= 0) return r;
  r.Set(1u, Napi::Number::New(env, parts[1]));
  r.Set(2u, Napi::Number::New(env, parts[2]));
  return r;
}

// subtractInto(logits: Float32Array, c: number, out: Float64Array): out[i] = logits[i] − c.
Napi::Value SubtractInto(const Napi::CallbackInfo& info) {
  RequireArgc(info, 3, "subtractInto", "(logits, c, out)");
  F32View x = GetF32(info, 0, "subtractInto", "logits");
  const double c = Real(info, 1, "subtractInto", "c");
  F64View o = GetF64(info, 2, "subtractInto", "out");
  if (o.length < x.length) ThrowRange(info.Env(), "subtractInto: 'out' is shorter than 'logits'");
  for (size_t i = 0; i < x.length; i++) o.data[i] = double(x.data[i]) - c;
  return info.Env().Undefined();
}

// klFromLogProbs(logP, logQ, probP|null) as in distribution.ts (without its size checks, done in TypeScript).
double Kl(const double* lp, const double* lq, const double* pp, size_t n);

Napi::Value KlFromLogProbs(const Napi::CallbackInfo& info) {
  static const char* fn = "klFromLogProbs";
  RequireArgc(info, 3, fn, "(logP, logQ, probP|null)");
  F64View lp = GetF64(info, 0, fn, "logP"), lq = GetF64(info, 1, fn, "logQ");
  const bool hasP = !(info[2].IsNull() || info[2].IsUndefined());
  F64View pp;
  if (hasP) pp = GetF64(info, 2, fn, "probP");
  if (lq.length < lp.length || (hasP && pp.length < lp.length)) ThrowRange(info.Env(), std::string(fn) + ": arrays of different sizes");
  return Napi::Number::New(info.Env(), Kl(lp.data, lq.data, hasP ? pp.data : nullptr, lp.length));
}

// Arrays of typed arrays (one row each), read on the calling thread before the pool touches them.
template <class View, class Arr>
std::vector<View> TypedRows(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name, napi_typedarray_type type, const char* typeName) {
  Napi::Value v = info[idx];
  if (!v.IsArray()) ThrowType(info.Env(), std::string(fn) + ": argument '" + name + "' must be an array of typed arrays");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<View> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != type)
      ThrowType(info.Env(), std::string(fn) + ": " + name + "[" + std::to_string(i) + "] must be a " + typeName);
    auto t = e.As<Arr>();
    out[i] = View{t.Data(), t.ElementLength()};
  }
  return out;
}
std::vector<F32View> F32Rows(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
  return TypedRows<F32View, Napi::Float32Array>(info, idx, fn, name, napi_float32_array, "Float32Array");
}
std::vector<F64View> F64Rows(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
  return TypedRows<F64View, Napi::Float64Array>(info, idx, fn, name, napi_float64_array, "Float64Array");
}
// Rows of one call split over the pool (plip::ParallelRanges), each row by one thread in its own order: the
// same bits as one row at a time. Rows are large (a vocabulary), so even two are worth splitting.
template <class View, class Fn>
void ForRows(const std::vector<View>& rows, Fn fn) {
  int64_t work = 0;
  for (const View& r : rows) work += int64_t(r.length);
  ParallelRanges(int64_t(rows.size()), 1, work, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) fn(size_t(r));
  });
}

// logSoftmaxPartsRows(rows: Float32Array[]) → Float64Array [3·R]: logSoftmaxParts of each row.
Napi::Value LogSoftmaxPartsRows(const Napi::CallbackInfo& info) {
  static const char* fn = "logSoftmaxPartsRows";
  RequireArgc(info, 1, fn, "(rows)");
  const std::vector<F32View> rows = F32Rows(info, 0, fn, "rows");
  Napi::Float64Array res = Napi::Float64Array::New(info.Env(), 3 * rows.size());
  double* o = res.Data();
  ForRows(rows, [&](size_t r) { Parts(rows[r].data, rows[r].length, o + 3 * r); });
  return res;
}

// subtractRowsInto(rows: Float32Array[], c: Float64Array, outs: Float64Array[]): outs[r][i] = rows[r][i] − c[r].
Napi::Value SubtractRowsInto(const Napi::CallbackInfo& info) {
  static const char* fn = "subtractRowsInto";
  RequireArgc(info, 3, fn, "(rows, c, outs)");
  const std::vector<F32View> rows = F32Rows(info, 0, fn, "rows");
  F64View c = GetF64(info, 1, fn, "c");
  const std::vector<F64View> outs = F64Rows(info, 2, fn, "outs");
  if (c.length < rows.size() || outs.size() != rows.size()) ThrowRange(info.Env(), std::string(fn) + ": rows, c and outs differ in length");
  for (size_t r = 0; r < rows.size(); r++)
    if (outs[r].length < rows[r].length) ThrowRange(info.Env(), std::string(fn) + ": outs[" + std::to_string(r) + "] is shorter than rows[" + std::to_string(r) + "]");
  ForRows(rows, [&](size_t r) {
    const float* x = rows[r].data;
    double* y = outs[r].data;
    const double cr = c.data[r];
    for (size_t i = 0; i < rows[r].length; i++) y[i] = double(x[i]) - cr;
  });
  return info.Env().Undefined();
}

// KL of one pair as klFromLogProbs (hasP: probP given).
double Kl(const double* lp, const double* lq, const double* pp, size_t n) {
  const double ninf = -std::numeric_limits<double>::infinity();
  Neumaier acc;
  for (size_t i = 0; i < n; i++) {
    const double l = lp[i];
    if (l == ninf) continue;
    const double p = pp ? pp[i] : Exp(l);
    if (p == 0) continue;
    const double q = lq[i];
    if (q == ninf) return std::numeric_limits<double>::infinity();
    acc.Add(p * (l - q));
  }
  const double kl = acc.Value();
  return kl > 0 ? kl : 0;
}

// klRows(logP: Float64Array[], logQ: Float64Array[], probP: Float64Array[] | null) → Float64Array [R].
Napi::Value KlRows(const Napi::CallbackInfo& info) {
  static const char* fn = "klRows";
  RequireArgc(info, 3, fn, "(logP, logQ, probP|null)");
  const std::vector<F64View> lp = F64Rows(info, 0, fn, "logP"), lq = F64Rows(info, 1, fn, "logQ");
  const bool hasP = !(info[2].IsNull() || info[2].IsUndefined());
  std::vector<F64View> pp;
  if (hasP) pp = F64Rows(info, 2, fn, "probP");
  if (lq.size() != lp.size() || (hasP && pp.size() != lp.size())) ThrowRange(info.Env(), std::string(fn) + ": logP, logQ and probP differ in length");
  for (size_t r = 0; r < lp.size(); r++)
    if (lq[r].length < lp[r].length || (hasP && pp[r].length < lp[r].length)) ThrowRange(info.Env(), std::string(fn) + ": arrays of different sizes in row " + std::to_string(r));
  Napi::Float64Array res = Napi::Float64Array::New(info.Env(), lp.size());
  double* o = res.Data();
  ForRows(lp, [&](size_t r) { o[r] = Kl(lp[r].data, lq[r].data, hasP ? pp[r].data : nullptr, lp[r].length); });
  return res;
}

Napi::Value NormRows(const Napi::CallbackInfo& info) {
  static const char* fn = "normRows";
  Napi::Env env = info.Env();
  RequireArgc(info, 9, fn, "(x, rows, d, kind, eps, offset, g, b|null, out)");
  F32View x = GetF32(info, 0, fn, "x");
  const int rows = GetDim(info, 1, fn, "rows"), d = GetDim(info, 2, fn, "d"), kind = GetDim(info, 3, fn, "kind");
  if (kind > 1) ThrowRange(env, std::string(fn) + ": kind must be 0 (RMSNorm) or 1 (LayerNorm)");
  const double eps = Real(info, 4, fn, "eps"), offset = Real(info, 5, fn, "offset");
  F32View g = GetF32(info, 6, fn, "g");
  const bool hasB = !(info[7].IsNull() || info[7].IsUndefined());
  F32View b;
  if (hasB) b = GetF32(info, 7, fn, "b");
  F32View out = GetF32(info, 8, fn, "out");
  const uint64_t n = uint64_t(rows) * uint64_t(d);
  RequireLen(env, fn, "x", x, n, "rows*d");
  RequireLen(env, fn, "out", out, n, "rows*d");
  RequireLen(env, fn, "g", g, uint64_t(d), "d");
  if (hasB) RequireLen(env, fn, "b", b, uint64_t(d), "d");
  const float* gp = g.data;
  const float* bp = hasB ? b.data : nullptr;
  // rows split over the pool (each row by one thread, in its order: the same bits)
  ParallelRanges(rows, 1, int64_t(n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x.data + size_t(r) * d;
      float* orow = out.data + size_t(r) * d;
      if (kind == 0) {
        double ss = 0;
        for (int i = 0; i < d; i++) ss += double(xr[i]) * double(xr[i]);
        const double inv = 1 / std::sqrt(ss / d + eps);
        for (int i = 0; i < d; i++) {
          const double t = double(float(double(xr[i]) * inv));
          orow[i] = float(t * (offset + double(gp[i])) + (bp ? double(bp[i]) : 0.0));
        }
      } else {
        double mean = 0;
        for (int i = 0; i < d; i++) mean += double(xr[i]);
        mean /= d;
        double v = 0;
        for (int i = 0; i < d; i++) {
          const double t = double(xr[i]) - mean;
          v += t * t;
        }
        const double inv = 1 / std::sqrt(v / d + eps);
        for (int i = 0; i < d; i++) orow[i] = float((double(xr[i]) - mean) * inv * (offset + double(gp[i])) + (bp ? double(bp[i]) : 0.0));
      }
    }
  });
  return env.Undefined();
}

// scatterHeads(src, dst, T, H, group, Dh, cap, at): dst[h, at + t, :] = src[t, ⌊h / group⌋, :] — the KV cache
// write of src/model/kv-cache.ts (a copy; heads split over the pool when large).
Napi::Value ScatterHeads(const Napi::CallbackInfo& info) {
  static const char* fn = "scatterHeads";
  Napi::Env env = info.Env();
  RequireArgc(info, 8, fn, "(src, dst, T, H, group, Dh, cap, at)");
  F32View src = GetF32(info, 0, fn, "src"), dst = GetF32(info, 1, fn, "dst");
  const int T = GetDim(info, 2, fn, "T"), H = GetDim(info, 3, fn, "H"), group = GetDim(info, 4, fn, "group"), Dh = GetDim(info, 5, fn, "Dh");
  const int cap = GetDim(info, 6, fn, "cap"), at = GetDim(info, 7, fn, "at");
  if (group < 1 || H % group != 0) ThrowRange(env, std::string(fn) + ": group must divide H");
  if (int64_t(at) + T > cap) ThrowRange(env, std::string(fn) + ": at + T exceeds cap");
  const int Hs = H / group;
  RequireLen(env, fn, "src", src, uint64_t(T) * uint64_t(Hs) * uint64_t(Dh), "T*(H/group)*Dh");
  RequireLen(env, fn, "dst", dst, uint64_t(H) * uint64_t(cap) * uint64_t(Dh), "H*cap*Dh");
  ParallelRanges(H, 1, int64_t(T) * H * Dh, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; h++) {
      const float* s = src.data + size_t(h / group) * Dh;
      float* d = dst.data + (size_t(h) * cap + at) * Dh;
      for (int t = 0; t < T; t++) std::memcpy(d + size_t(t) * Dh, s + size_t(t) * Hs * Dh, sizeof(float) * size_t(Dh));
    }
  });
  return env.Undefined();
}

// Validated [lo, hi) for arrays that must each hold hi elements.
void Range(const Napi::CallbackInfo& info, size_t loIdx, const char* fn, std::initializer_list<const F32View*> arrays, int64_t& lo,
           int64_t& hi) {
  lo = Index(info, loIdx, fn, "lo");
  hi = Index(info, loIdx + 1, fn, "hi");
  if (hi < lo) ThrowRange(info.Env(), std::string(fn) + ": hi must be >= lo");
  for (const F32View* a : arrays) RequireLen(info.Env(), fn, "array", *a, uint64_t(hi), "hi");
}

Napi::Value AddRange(const Napi::CallbackInfo& info) {
  static const char* fn = "addRange";
  RequireArgc(info, 5, fn, "(out, a, b, lo, hi)");
  F32View o = GetF32(info, 0, fn, "out"), a = GetF32(info, 1, fn, "a"), b = GetF32(info, 2, fn, "b");
  int64_t lo, hi;
  Range(info, 3, fn, {&o, &a, &b}, lo, hi);
  // float32 + float32 rounded once from float64 equals the float32 sum (no double-rounding issue for +).
  for (int64_t i = lo; i < hi; i++) o.data[i] = float(double(a.data[i]) + double(b.data[i]));
  return info.Env().Undefined();
}

Napi::Value Add3Range(const Napi::CallbackInfo& info) {
  static const char* fn = "add3Range";
  RequireArgc(info, 6, fn, "(out, a, b, c, lo, hi)");
  F32View o = GetF32(info, 0, fn, "out"), a = GetF32(info, 1, fn, "a"), b = GetF32(info, 2, fn, "b"), c = GetF32(info, 3, fn, "c");
  int64_t lo, hi;
  Range(info, 4, fn, {&o, &a, &b, &c}, lo, hi);
  for (int64_t i = lo; i < hi; i++) o.data[i] = float(double(a.data[i]) + double(b.data[i]) + double(c.data[i]));
  return info.Env().Undefined();
}

Napi::Value MulRange(const Napi::CallbackInfo& info) {
  static const char* fn = "mulRange";
  RequireArgc(info, 4, fn, "(x, y, lo, hi)");
  F32View x = GetF32(info, 0, fn, "x"), y = GetF32(info, 1, fn, "y");
  int64_t lo, hi;
  Range(info, 2, fn, {&x, &y}, lo, hi);
  for (int64_t i = lo; i < hi; i++) x.data[i] = float(double(x.data[i]) * double(y.data[i]));
  return info.Env().Undefined();
}

}  // namespace

void RegisterExact(Napi::Env env, Napi::Object exports) {
  exports.Set("normRows", Napi::Function::New(env, NormRows, "normRows"));
  exports.Set("scatterHeads", Napi::Function::New(env, ScatterHeads, "scatterHeads"));
  exports.Set("addRange", Napi::Function::New(env, AddRange, "addRange"));
  exports.Set("add3Range", Napi::Function::New(env, Add3Range, "add3Range"));
  exports.Set("mulRange", Napi::Function::New(env, MulRange, "mulRange"));
  exports.Set("expInto", Napi::Function::New(env, ExpInto, "expInto"));
  exports.Set("expNonPositiveInto", Napi::Function::New(env, ExpNonPositiveInto, "expNonPositiveInto"));
  exports.Set("logSoftmaxParts", Napi::Function::New(env, LogSoftmaxParts, "logSoftmaxParts"));
  exports.Set("subtractInto", Napi::Function::New(env, SubtractInto, "subtractInto"));
  exports.Set("klFromLogProbs", Napi::Function::New(env, KlFromLogProbs, "klFromLogProbs"));
  exports.Set("logSoftmaxPartsRows", Napi::Function::New(env, LogSoftmaxPartsRows, "logSoftmaxPartsRows"));
  exports.Set("subtractRowsInto", Napi::Function::New(env, SubtractRowsInto, "subtractRowsInto"));
  exports.Set("klRows", Napi::Function::New(env, KlRows, "klRows"));
}

}  // namespace plip_exact
