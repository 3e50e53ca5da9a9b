// plip_attn: attention's two per-head products for every head in one call (part of the plip_blas addon).
//
// A forward pass multiplies queries by keys and patterns by values once per head and layer (GPT-2 small at
// 128 tokens: 288 products of ~1 MFLOP each). One call per layer reads the heads in place (q and z are
// [T, H, Dh], the cache is head-major) instead of copying each head out and back, and splits heads over the
// addon's pool; each head's product is the same single-threaded sgemm / sgemv a per-head `linear` / `matmul`
// call makes, so results do not change.
//
// Exports (Float32Array, row-major, zero-copy):
//   attnScores(q, keys, kHeadStride, H, T, S, Dh, out)
//       out[h, t, j] = Σ_i q[t, h, i] · keys[h·kHeadStride + j·Dh + i]        q [T, H, Dh] → out [H, T, S]
//   attnMix(pattern, values, vHeadStride, H, T, S, Dh, z)
//       z[t, h, d] = Σ_j pattern[h, t, j] · values[h·vHeadStride + j·Dh + d]   pattern [H, T, S] → z [T, H, Dh]

#include <napi.h>

#include <cblas.h>

#include <cstring>

#include "plip_napi.h"
#include "plip_pool.h"

namespace plip_attn {

using namespace plip;

namespace {

struct Dims {
  int H, T, S, Dh, stride;
};

// Validates (a, cache, stride, H, T, S, Dh, b): a and b are the [T, H, Dh] / [H, T, S] sides; `aIsQ` says
// which of them is the query-side [T, H, Dh] array.
Dims Check(const Napi::CallbackInfo& info, const char* fn, const char* aName, const char* bName, bool aIsQ, F32View& a,
           F32View& cache, F32View& b) {
  Napi::Env env = info.Env();
  RequireArgc(info, 8, fn, aIsQ ? "(q, keys, kHeadStride, H, T, S, Dh, out)" : "(pattern, values, vHeadStride, H, T, S, Dh, z)");
  a = GetF32(info, 0, fn, aName);
  cache = GetF32(info, 1, fn, aIsQ ? "keys" : "values");
  Dims d{GetDim(info, 3, fn, "H"), GetDim(info, 4, fn, "T"), GetDim(info, 5, fn, "S"), GetDim(info, 6, fn, "Dh"),
         GetDim(info, 2, fn, "headStride")};
  b = GetF32(info, 7, fn, bName);
  const uint64_t H = uint64_t(d.H), T = uint64_t(d.T), S = uint64_t(d.S), Dh = uint64_t(d.Dh);
  if (uint64_t(d.stride) < S * Dh) ThrowRange(env, std::string(fn) + ": headStride must be at least S*Dh = " + std::to_string(S * Dh));
  const uint64_t thd = T * H * Dh, hts = H * T * S, need = H ? (H - 1) * uint64_t(d.stride) + S * Dh : 0;
  RequireLen(env, fn, aName, a, aIsQ ? thd : hts, aIsQ ? "T*H*Dh" : "H*T*S");
  RequireLen(env, fn, aIsQ ? "keys" : "values", cache, need, "(H-1)*headStride + S*Dh");
  RequireLen(env, fn, bName, b, aIsQ ? hts : thd, aIsQ ? "H*T*S" : "T*H*Dh");
  const uint64_t bn = aIsQ ? hts : thd;
  RequireNoOverlap(env, fn, b, bn, a, aIsQ ? thd : hts, aName);
  RequireNoOverlap(env, fn, b, bn, cache, need, aIsQ ? "keys" : "values");
  return d;
}

// Heads split over the pool when the call is large enough to pay for waking it.
template <class F>
void ForHeads(const Dims& d, F&& head) {
  const double flops = 2.0 * d.H * d.T * d.S * d.Dh;
  const int parts = flops < 2e5 ? 1 : std::min(Threads(), d.H);
  GemvPool().Run(parts, [&](int part, int n) {
    for (int h = d.H * part / n; h < d.H * (part + 1) / n; h++) head(h);
  });
}

Napi::Value AttnScores(const Napi::CallbackInfo& info) {
  F32View q, keys, out;
  const Dims d = Check(info, "attnScores", "q", "out", true, q, keys, out);
  if (!d.H || !d.T || !d.S) return info.Env().Undefined();
  if (!d.Dh) {
    std::memset(out.data, 0, sizeof(float) * size_t(d.H) * d.T * d.S);
    return info.Env().Undefined();
  }
  const int ld = d.H * d.Dh;
  ForHeads(d, [&](int h) {
    const float* qh = q.data + size_t(h) * d.Dh;
    const float* kh = keys.data + size_t(h) * d.stride;
    float* oh = out.data + size_t(h) * d.T * d.S;
    if (d.T == 1) {
      std::memset(oh, 0, sizeof(float) * size_t(d.S));  // as linear(): y = K·q + 0
      cblas_sgemv(CblasRowMajor, CblasNoTrans, d.S, d.Dh, 1.0f, kh, d.Dh, qh, 1, 1.0f, oh, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d.T, d.S, d.Dh, 1.0f, qh, ld, kh, d.Dh, 0.0f, oh, d.S);
    }
  });
  return info.Env().Undefined();
}

Napi::Value AttnMix(const Napi::CallbackInfo& info) {
  F32View pattern, values, z;
  const Dims d = Check(info, "attnMix", "pattern", "z", false, pattern, values, z);
  if (!d.H || !d.T || !d.Dh) return info.Env().Undefined();
  const int ld = d.H * d.Dh;
  ForHeads(d, [&](int h) {
    const float* ph = pattern.data + size_t(h) * d.T * d.S;
    const float* vh = values.data + size_t(h) * d.stride;
    float* zh = z.data + size_t(h) * d.Dh;
    if (d.S == 0) {
      for (int t = 0; t < d.T; t++) std::memset(zh + size_t(t) * ld, 0, sizeof(float) * size_t(d.Dh));
    } else if (d.T == 1) {
      std::memset(zh, 0, sizeof(float) * size_t(d.Dh));  // as matmul(): z = Vᵀ·p + 0
      cblas_sgemv(CblasRowMajor, CblasTrans, d.S, d.Dh, 1.0f, vh, d.Dh, ph, 1, 1.0f, zh, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d.T, d.Dh, d.S, 1.0f, ph, d.S, vh, d.Dh, 0.0f, zh, ld);
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void RegisterAttn(Napi::Env env, Napi::Object exports) {
  exports.Set("attnScores", Napi::Function::New(env, AttnScores, "attnScores"));
  exports.Set("attnMix", Napi::Function::New(env, AttnMix, "attnMix"));
}

}  // namespace plip_attn
