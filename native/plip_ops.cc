// plip_ops: the decoder's elementwise and row-wise work in AVX-512 or AVX2 (part of the plip_blas addon).
//
// What a prefill spends outside GEMM in TypeScript is mostly exp: SiLU / tanh-GELU over [T, d_mlp] and the
// softmax over [H, T, S] in every layer (about 40% of a GPT-2-small prefill on one core). These kernels do
// the same arithmetic with a vectorised expf (Cephes polynomial, ≤ 2 ulp on [-87, 88]) and float32
// accumulation; results differ from the TypeScript ops (float64 Math.exp) by a few float32 ulps
// (test/tensor/native-ops.test.ts). Non-finite activations take the TypeScript formula (NaN stays NaN), −∞ scores give exactly 0.
//
// Exports (registered by RegisterOps; all arrays Float32Array / Int32Array, used zero-copy, in place):
//   opsAvailable()                              true when the CPU has avx512f, or avx2 + fma (8-lane versions
//                                               of the same kernels); callers fall back to the TypeScript ops otherwise
//   opsIsa()                                    "avx512" | "avx2" | "none"
//   activate(x, n, kind)                        kind 0 = SiLU x·σ(x); 1 = tanh-GELU x·σ(2u), u = √(2/π)(x + 0.044715x³)
//   softmaxRows(x, rows, n)                     row-wise softmax of x[rows, n]; an all −∞ row becomes zeros
//   firstNonFinite(x, n)                        index of the first NaN/±∞ in x[0..n), or −1
//   scaleMask(s, heads, T, S, qpos, scale, window, cap)
//                                               s[h, t, j] · scale (then tanh softcap when cap > 0), −∞ where
//                                               key j > qpos[t] or qpos[t] − j ≥ window (window ≤ 0: none)

#include <napi.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "plip_pool.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include "plip_avx2.h"
#define PLIP_OPS_X86 1
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif

namespace plip_ops {

using plip::ParallelRanges;

[[noreturn]] void Throw(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

float* F32(const Napi::CallbackInfo& info, size_t i, const char* fn, size_t need) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    Throw(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be a Float32Array");
  auto a = info[i].As<Napi::Float32Array>();
  if (a.ElementLength() < need) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": array too short");
  return a.Data();
}

int64_t Int(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsNumber()) Throw(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < INT32_MIN || d > INT32_MAX) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be an int32");
  return int64_t(d);
}

#ifdef PLIP_OPS_X86
bool CpuOk() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

#define T512 __attribute__((target("avx512f")))

// e^x for 16 lanes: x clamped to [-87.34, 88.38], 2^n · p(r) with a two-constant Cody–Waite reduction.
T512 inline __m512 Exp(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3365447504f)), _mm512_set1_ps(88.3762626647949f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(y, n);
}

T512 void ActivateAvx512(float* p, int64_t n, int kind) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 c = _mm512_set1_ps(0.7978845608028654f), a = _mm512_set1_ps(0.044715f);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, p + i), y;
    if (kind == 0) {
      y = _mm512_div_ps(v, _mm512_add_ps(one, Exp(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    } else {
      // 0.5·v·(1 + tanh u) = v·σ(2u) = v / (1 + e^{−2u}): no cancellation for negative v in float32
      __m512 u = _mm512_mul_ps(c, _mm512_fmadd_ps(_mm512_mul_ps(a, v), _mm512_mul_ps(v, v), v));
      y = _mm512_div_ps(v, _mm512_add_ps(one, Exp(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u))));
    }
    _mm512_mask_storeu_ps(p + i, m, y);
    // non-finite inputs (NaN, ±∞) take the TypeScript formula in float64, so they give what it gives (NaN
    // for most) instead of a clamped finite value
    __mmask16 bad = m & _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    while (bad) {
      int l = __builtin_ctz(bad);
      bad &= bad - 1;
      double x = p[i + l];
      if (kind == 0) p[i + l] = float(x / (1 + std::exp(-x)));
      else p[i + l] = float(x - x / (1 + std::exp(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))));
    }
  }
}

T512 void SoftmaxRowAvx512(float* p, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 mx = ninf;
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, p + i));
  }
  float top = _mm512_reduce_max_ps(mx);
  bool nan = false;
  for (int64_t i = 0; i < n; i++) nan |= std::isnan(p[i]);
  if (nan) {
    for (int64_t i = 0; i < n; i++) p[i] = NAN;  // as the TypeScript softmax: NaN anywhere poisons the row
    return;
  }
  if (top == -INFINITY) {
    for (int64_t i = 0; i < n; i++) p[i] = 0.0f;
    return;
  }
  const __m512 t = _mm512_set1_ps(top);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, p + i);
    __mmask16 live = m & _mm512_cmp_ps_mask(v, ninf, _CMP_NEQ_OQ);  // −∞ (masked) keys give exactly 0
    __m512 e = _mm512_maskz_mov_ps(live, Exp(_mm512_sub_ps(v, t)));
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(p + i, m, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(p + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + i), inv));
  }
}
T512 int64_t FirstNonFiniteAvx512(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, p + i);
    __mmask16 bad = m & _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    if (bad) return i + __builtin_ctz(bad);
  }
  return -1;
}

// ---- the same kernels in AVX2 + FMA (8 lanes; no masks, so the last partial vector goes through a
// padded stack copy). Same polynomial and reduction; 2^n is applied as two exact halves, since AVX2 has
// no scalef and n reaches 128 at the top of the clamp.
#define T256 __attribute__((target("avx2,fma")))

bool CpuAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

T256 inline __m256 Exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3365447504f)), _mm256_set1_ps(88.3762626647949f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // y · 2^n with n in [-126, 128]: 2^h · 2^(n−h), h = n >> 1, both factors normal, the first product exact
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i h = _mm256_srai_epi32(ni, 1);
  __m256i bias = _mm256_set1_epi32(127);
  __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
}

// lanes holding NaN or ±∞, as a bit mask (v − v is NaN exactly there)
T256 inline int NonFinite8(__m256 v) { return _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_NEQ_UQ)); }

T256 void ActivateBlock8(float* p, int kind) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 v = _mm256_loadu_ps(p), y;
  if (kind == 0) {
    y = _mm256_div_ps(v, _mm256_add_ps(one, Exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
  } else {
    __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), v), _mm256_mul_ps(v, v), v));
    y = _mm256_div_ps(v, _mm256_add_ps(one, Exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u))));
  }
  _mm256_storeu_ps(p, y);
  for (int bad = NonFinite8(v); bad; bad &= bad - 1) {
    int l = __builtin_ctz(bad);
    double x = p[l];
    if (kind == 0) p[l] = float(x / (1 + std::exp(-x)));
    else p[l] = float(x - x / (1 + std::exp(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))));
  }
}

T256 void ActivateAvx2(float* p, int64_t n, int kind) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) ActivateBlock8(p + i, kind);
  if (i < n) {
    float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t l = 0; l < n - i; l++) t[l] = p[i + l];
    ActivateBlock8(t, kind);
    for (int64_t l = 0; l < n - i; l++) p[i + l] = t[l];
  }
}

using plip_avx2::Max8;
using plip_avx2::Sum8;

// q[0..8) ← e^(q − t), exactly 0 where q is −∞ (masked keys); returns sum + those values
T256 inline __m256 ExpBlock8(float* q, __m256 t, __m256 sum) {
  __m256 v = _mm256_loadu_ps(q);
  __m256 live = _mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ);
  __m256 e = _mm256_and_ps(live, Exp8(_mm256_sub_ps(v, t)));
  _mm256_storeu_ps(q, e);
  return _mm256_add_ps(sum, e);
}

T256 void SoftmaxRowAvx2(float* p, int64_t n) {
  bool nan = false;
  for (int64_t i = 0; i < n; i++) nan |= std::isnan(p[i]);
  if (nan) {
    for (int64_t i = 0; i < n; i++) p[i] = NAN;  // as the TypeScript softmax: NaN anywhere poisons the row
    return;
  }
  const int64_t n8 = n & ~int64_t(7);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 mx = ninf;
  for (int64_t i = 0; i < n8; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(p + i));
  float top = Max8(mx);
  for (int64_t i = n8; i < n; i++) top = std::max(top, p[i]);
  if (top == -INFINITY) {
    for (int64_t i = 0; i < n; i++) p[i] = 0.0f;
    return;
  }
  const __m256 t = _mm256_set1_ps(top);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t i = 0; i < n8; i += 8) sum = ExpBlock8(p + i, t, sum);
  if (n8 < n) {
    float tl[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int64_t l = 0; l < n - n8; l++) tl[l] = p[n8 + l];
    sum = ExpBlock8(tl, t, sum);
    for (int64_t l = 0; l < n - n8; l++) p[n8 + l] = tl[l];
  }
  const float inv = 1.0f / Sum8(sum);
  const __m256 iv = _mm256_set1_ps(inv);
  for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), iv));
  for (int64_t i = n8; i < n; i++) p[i] *= inv;
}

T256 int64_t FirstNonFiniteAvx2(const float* p, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    if (int bad = NonFinite8(_mm256_loadu_ps(p + i))) return i + __builtin_ctz(bad);
  for (; i < n; i++)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

enum Isa { kNone = 0, kAvx2 = 1, kAvx512 = 2 };
int PickIsa() { return CpuOk() ? kAvx512 : CpuAvx2() ? kAvx2 : kNone; }
#else
enum Isa { kNone = 0, kAvx2 = 1, kAvx512 = 2 };
int PickIsa() { return kNone; }
int64_t FirstNonFiniteAvx512(const float*, int64_t) { return -1; }
void ActivateAvx512(float*, int64_t, int) {}
void SoftmaxRowAvx512(float*, int64_t) {}
int64_t FirstNonFiniteAvx2(const float*, int64_t) { return -1; }
void ActivateAvx2(float*, int64_t, int) {}
void SoftmaxRowAvx2(float*, int64_t) {}
#endif

const int g_isa = PickIsa();
const bool g_ok = g_isa != kNone;

Napi::Value OpsAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), g_ok); }
Napi::Value OpsIsa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), g_isa == kAvx512 ? "avx512" : g_isa == kAvx2 ? "avx2" : "none");
}

void RequireOk(Napi::Env env, const char* fn) {
  if (!g_ok) throw Napi::Error::New(env, std::string(fn) + ": needs avx512f or avx2+fma (opsAvailable() is false); use the TypeScript ops");
}

Napi::Value Activate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) Throw(env, "activate(x, n, kind)");
  RequireOk(env, "activate");
  int64_t n = Int(info, 1, "activate"), kind = Int(info, 2, "activate");
  if (n < 0 || (kind != 0 && kind != 1)) throw Napi::RangeError::New(env, "activate: n >= 0 and kind 0 (silu) or 1 (gelu_tanh)");
  float* p = F32(info, 0, "activate", size_t(n));
  // elementwise in blocks of 16 (AVX-512) / 8 lanes: parts on multiples of 16 give every element the same bits
  ParallelRanges(n, 16, n, [&](int64_t lo, int64_t hi) {
    if (g_isa == kAvx512) ActivateAvx512(p + lo, hi - lo, int(kind));
    else ActivateAvx2(p + lo, hi - lo, int(kind));
  });
  return env.Undefined();
}

Napi::Value SoftmaxRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) Throw(env, "softmaxRows(x, rows, n)");
  RequireOk(env, "softmaxRows");
  int64_t rows = Int(info, 1, "softmaxRows"), n = Int(info, 2, "softmaxRows");
  if (rows < 0 || n < 0) throw Napi::RangeError::New(env, "softmaxRows: rows, n >= 0");
  float* p = F32(info, 0, "softmaxRows", size_t(rows) * size_t(n));
  ParallelRanges(rows, 1, rows * n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) (g_isa == kAvx512 ? SoftmaxRowAvx512 : SoftmaxRowAvx2)(p + r * n, n);
  });
  return env.Undefined();
}

Napi::Value ScaleMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) Throw(env, "scaleMask(s, heads, T, S, qpos, scale, window, cap)");
  int64_t H = Int(info, 1, "scaleMask"), T = Int(info, 2, "scaleMask"), S = Int(info, 3, "scaleMask"), win = Int(info, 6, "scaleMask");
  if (H < 0 || T < 0 || S < 0) throw Napi::RangeError::New(env, "scaleMask: heads, T, S >= 0");
  float* s = F32(info, 0, "scaleMask", size_t(H) * size_t(T) * size_t(S));
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) Throw(env, "scaleMask: qpos must be an Int32Array");
  auto qa = info[4].As<Napi::Int32Array>();
  if (qa.ElementLength() < size_t(T)) throw Napi::RangeError::New(env, "scaleMask: qpos shorter than T");
  const int32_t* qpos = qa.Data();
  if (!info[5].IsNumber() || !info[7].IsNumber()) Throw(env, "scaleMask: scale and cap must be numbers");
  const double scale = info[5].As<Napi::Number>().DoubleValue();
  const double cap = info[7].As<Napi::Number>().DoubleValue();
  ParallelRanges(H * T, 1, H * T * S, [&](int64_t r0, int64_t r1) {
    for (int64_t ht = r0; ht < r1; ht++) {
      float* row = s + ht * S;
      const int64_t q = qpos[ht % T];
      for (int64_t j = 0; j < S; j++) {
        if (j > q || (win > 0 && q - j >= win)) {
          row[j] = -INFINITY;
          continue;
        }
        // the TypeScript op's arithmetic: float32 score × scale in float64, stored as float32
        double v = double(row[j]) * scale;
        if (cap > 0) v = std::tanh(v / cap) * cap;
        row[j] = float(v);
      }
    }
  });
  return env.Undefined();
}

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) Throw(env, "firstNonFinite(x, n)");
  RequireOk(env, "firstNonFinite");
  int64_t n = Int(info, 1, "firstNonFinite");
  if (n < 0) throw Napi::RangeError::New(env, "firstNonFinite: n >= 0");
  const float* p = F32(info, 0, "firstNonFinite", size_t(n));
  return Napi::Number::New(env, double(g_isa == kAvx512 ? FirstNonFiniteAvx512(p, n) : FirstNonFiniteAvx2(p, n)));
}

void RegisterOps(Napi::Env env, Napi::Object exports) {
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite, "firstNonFinite"));
  exports.Set("opsAvailable", Napi::Function::New(env, OpsAvailable, "opsAvailable"));
  exports.Set("opsIsa", Napi::Function::New(env, OpsIsa, "opsIsa"));
  exports.Set("activate", Napi::Function::New(env, Activate, "activate"));
  exports.Set("softmaxRows", Napi::Function::New(env, SoftmaxRows, "softmaxRows"));
  exports.Set("scaleMask", Napi::Function::New(env, ScaleMask, "scaleMask"));
}

}  // namespace plip_ops
