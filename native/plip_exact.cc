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

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "plip_napi.h"

namespace plip_exact {

using namespace plip;

namespace {

int64_t Index(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) { return GetDim(info, i, fn, name); }

double Real(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string(fn) + ": '" + name + "' must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
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
  for (int r = 0; r < rows; r++) {
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
  exports.Set("addRange", Napi::Function::New(env, AddRange, "addRange"));
  exports.Set("add3Range", Napi::Function::New(env, Add3Range, "add3Range"));
  exports.Set("mulRange", Napi::Function::New(env, MulRange, "mulRange"));
}

}  // namespace plip_exact
