// plip_blas: OpenBLAS-backed matmul kernels for PLIP-TS (Node-API addon, node-addon-api).
//
// Exports (all arrays are Float32Array, row-major, used zero-copy: the TypedArray's data pointer,
// already adjusted for byteOffset, is handed straight to BLAS):
//   linear(x, w, bias|null, m, k, n, out)  out[m,n] = x[m,k] · w[n,k]^T (+ bias[n])
//                                          sgemm(NoTrans, Trans), or sgemv when m == 1
//   matmul(a, b, m, k, n, out)             out[m,n] = a[m,k] · b[k,n]   sgemm(NoTrans, NoTrans)
//   config()                               "<openblas_get_config()> | core=<corename> | threads=<n>"
//   numThreads()                           openblas_get_num_threads()
//   setNumThreads(n)                       openblas_set_num_threads(n)
//
// Every argument is validated (type, integer dims in [0, 2^31), array lengths >= implied sizes, out not
// overlapping any input); violations throw TypeError / RangeError and BLAS is never called, so nothing
// is read or written out of bounds.

#include <napi.h>

#include <cblas.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

struct F32View {
  float* data = nullptr;
  size_t length = 0;  // elements
};

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

F32View GetF32(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = info[idx];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowType(env, std::string(fn) + ": argument '" + name + "' must be a Float32Array");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  // `data` is already offset by the view's byteOffset (Node-API guarantees this).
  napi_status st = napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr);
  if (st != napi_ok) ThrowType(env, std::string(fn) + ": cannot read Float32Array '" + name + "'");
  return F32View{static_cast<float*>(data), length};
}

int GetDim(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = info[idx];
  if (!v.IsNumber()) ThrowType(env, std::string(fn) + ": dimension '" + name + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d)) {
    ThrowRange(env, std::string(fn) + ": dimension '" + name + "' must be a finite integer");
  }
  if (d < 0 || d > static_cast<double>(INT_MAX)) {
    ThrowRange(env, std::string(fn) + ": dimension '" + name + "' must be in [0, " + std::to_string(INT_MAX) + "]");
  }
  return static_cast<int>(d);
}

void RequireLen(Napi::Env env, const char* fn, const char* name, const F32View& a, uint64_t need, const char* shape) {
  if (a.length < need) {
    ThrowRange(env, std::string(fn) + ": '" + name + "' has " + std::to_string(a.length) + " elements but " + shape +
                        " needs " + std::to_string(need));
  }
}

bool Overlaps(const F32View& a, uint64_t an, const F32View& b, uint64_t bn) {
  if (an == 0 || bn == 0) return false;
  auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  return a0 < b0 + bn * sizeof(float) && b0 < a0 + an * sizeof(float);
}

void RequireNoOverlap(Napi::Env env, const char* fn, const F32View& out, uint64_t outN, const F32View& in, uint64_t inN,
                      const char* name) {
  if (Overlaps(out, outN, in, inN)) ThrowRange(env, std::string(fn) + ": 'out' must not overlap '" + name + "'");
}

void RequireArgc(const Napi::CallbackInfo& info, size_t n, const char* fn, const char* sig) {
  if (info.Length() < n) {
    ThrowType(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments " + sig + ", got " +
                              std::to_string(info.Length()));
  }
}

// linear(x, w, bias|null, m, k, n, out): out[m,n] = x[m,k] · w[n,k]^T (+ bias)
Napi::Value Linear(const Napi::CallbackInfo& info) {
  static const char* fn = "linear";
  Napi::Env env = info.Env();
  RequireArgc(info, 7, fn, "(x, w, bias|null, m, k, n, out)");
  F32View x = GetF32(info, 0, fn, "x");
  F32View w = GetF32(info, 1, fn, "w");
  F32View bias;
  bool hasBias = !(info[2].IsNull() || info[2].IsUndefined());
  if (hasBias) bias = GetF32(info, 2, fn, "bias");
  const int m = GetDim(info, 3, fn, "m");
  const int k = GetDim(info, 4, fn, "k");
  const int n = GetDim(info, 5, fn, "n");
  F32View out = GetF32(info, 6, fn, "out");

  const uint64_t mk = uint64_t(m) * uint64_t(k), nk = uint64_t(n) * uint64_t(k), mn = uint64_t(m) * uint64_t(n);
  RequireLen(env, fn, "x", x, mk, "m*k");
  RequireLen(env, fn, "w", w, nk, "n*k");
  RequireLen(env, fn, "out", out, mn, "m*n");
  if (hasBias) RequireLen(env, fn, "bias", bias, uint64_t(n), "n");
  RequireNoOverlap(env, fn, out, mn, x, mk, "x");
  RequireNoOverlap(env, fn, out, mn, w, nk, "w");
  if (hasBias) RequireNoOverlap(env, fn, out, mn, bias, uint64_t(n), "bias");

  if (mn == 0) return env.Undefined();
  // With a bias: pre-fill every row of out with it and accumulate (beta = 1). Without: gemm writes
  // out with beta = 0; gemv and k == 0 (where BLAS would reject lda = 0) get an explicit zero fill.
  if (hasBias) {
    for (int i = 0; i < m; i++) std::memcpy(out.data + size_t(i) * n, bias.data, size_t(n) * sizeof(float));
  } else if (m == 1 || k == 0) {
    std::memset(out.data, 0, size_t(mn) * sizeof(float));
  }
  if (k == 0) return env.Undefined();

  if (m == 1) {
    // y[n] = W[n,k] · x[k] + y
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w.data, k, x.data, 1, 1.0f, out.data, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x.data, k, w.data, k, hasBias ? 1.0f : 0.0f,
                out.data, n);
  }
  return env.Undefined();
}

// matmul(a, b, m, k, n, out): out[m,n] = a[m,k] · b[k,n]
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  static const char* fn = "matmul";
  Napi::Env env = info.Env();
  RequireArgc(info, 6, fn, "(a, b, m, k, n, out)");
  F32View a = GetF32(info, 0, fn, "a");
  F32View b = GetF32(info, 1, fn, "b");
  const int m = GetDim(info, 2, fn, "m");
  const int k = GetDim(info, 3, fn, "k");
  const int n = GetDim(info, 4, fn, "n");
  F32View out = GetF32(info, 5, fn, "out");

  const uint64_t mk = uint64_t(m) * uint64_t(k), kn = uint64_t(k) * uint64_t(n), mn = uint64_t(m) * uint64_t(n);
  RequireLen(env, fn, "a", a, mk, "m*k");
  RequireLen(env, fn, "b", b, kn, "k*n");
  RequireLen(env, fn, "out", out, mn, "m*n");
  RequireNoOverlap(env, fn, out, mn, a, mk, "a");
  RequireNoOverlap(env, fn, out, mn, b, kn, "b");

  if (mn == 0) return env.Undefined();
  if (k == 0) {
    std::memset(out.data, 0, size_t(mn) * sizeof(float));
    return env.Undefined();
  }
  if (m == 1) {
    // out[n] = b[k,n]^T · a[k]
    std::memset(out.data, 0, size_t(n) * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, b.data, n, a.data, 1, 1.0f, out.data, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data, k, b.data, n, 0.0f, out.data, n);
  }
  return env.Undefined();
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  std::string s = openblas_get_config();
  // Trailing spaces in the config string are common; trim them.
  while (!s.empty() && s.back() == ' ') s.pop_back();
  s += " | core=";
  s += openblas_get_corename();
  s += " | threads=" + std::to_string(openblas_get_num_threads());
  return Napi::String::New(info.Env(), s);
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), openblas_get_num_threads());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgc(info, 1, "setNumThreads", "(n)");
  int t = GetDim(info, 0, "setNumThreads", "n");
  if (t < 1) ThrowRange(env, "setNumThreads: n must be >= 1");
  openblas_set_num_threads(t);
  return Napi::Number::New(env, openblas_get_num_threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("linear", Napi::Function::New(env, Linear, "linear"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("config", Napi::Function::New(env, Config, "config"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  return exports;
}

}  // namespace

NODE_API_MODULE(plip_blas, Init)
