// plip_napi.h: argument checks shared by the addon's Node-API entry points (plip_blas.cc, plip_attn.cc).
// Every violation throws TypeError / RangeError naming the function and argument, before any kernel runs.
#pragma once

#include <napi.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

namespace plip {

struct F32View {
  float* data = nullptr;
  size_t length = 0;  // elements
};

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] inline void ThrowRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

inline F32View GetF32(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
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

inline int GetDim(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
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

inline void RequireLen(Napi::Env env, const char* fn, const char* name, const F32View& a, uint64_t need, const char* shape) {
  if (a.length < need) {
    ThrowRange(env, std::string(fn) + ": '" + name + "' has " + std::to_string(a.length) + " elements but " + shape +
                        " needs " + std::to_string(need));
  }
}

inline bool Overlaps(const F32View& a, uint64_t an, const F32View& b, uint64_t bn) {
  if (an == 0 || bn == 0) return false;
  auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  return a0 < b0 + bn * sizeof(float) && b0 < a0 + an * sizeof(float);
}

inline void RequireNoOverlap(Napi::Env env, const char* fn, const F32View& out, uint64_t outN, const F32View& in, uint64_t inN,
                      const char* name) {
  if (Overlaps(out, outN, in, inN)) ThrowRange(env, std::string(fn) + ": 'out' must not overlap '" + name + "'");
}

inline void RequireArgc(const Napi::CallbackInfo& info, size_t n, const char* fn, const char* sig) {
  if (info.Length() < n) {
    ThrowType(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments " + sig + ", got " +
                              std::to_string(info.Length()));
  }
}

}  // namespace plip
