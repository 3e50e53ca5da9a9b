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

#include "plip_exp.h"
#include "plip_napi.h"
#include "plip_pool.h"

namespace plip_exact {

using namespace plip;
using namespace plip_exp;

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
  ExpNonPositive(x.data, o.data, x.length);
  return Napi::Number::New(info.Env(), VectorExpLanes());
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
