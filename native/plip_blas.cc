// plip_blas: OpenBLAS-backed matmul kernels for PLIP-TS (Node-API addon, node-addon-api).
//
// Exports (all arrays are Float32Array, row-major, used zero-copy: the TypedArray's data pointer,
// already adjusted for byteOffset, is handed straight to BLAS):
//   linear(x, w, bias|null, m, k, n, out)  out[m,n] = x[m,k] · w[n,k]^T (+ bias[n])
//                                          sgemm(NoTrans, Trans), or sgemv when m == 1
//   matmul(a, b, m, k, n, out)             out[m,n] = a[m,k] · b[k,n]   sgemm(NoTrans, NoTrans)
//   linearHalf(x, w16, kind, bias|null, m, k, n, out)
//                                          out[m,n] = x[m,k] · w[n,k]^T (+ bias[n]) with w stored as 16-bit
//                                          patterns (Uint16Array; kind 0 = bf16, 1 = f16). m > 1: tiles of
//                                          w rows are widened (exactly) into a float32 scratch and fed to
//                                          the same sgemm as linear (bit-identical results); m == 1: a GEMV
//                                          reading the 16-bit weights directly (float32 accumulation).
//                                          Kernels in plip_half.cc: AVX-512, AVX2+FMA+F16C or portable C++,
//                                          the best the CPU supports (runtime check).
//   linearBf16Compute(x, w16, 0, bias|null, m, k, n, out)
//                                          the same with x rounded to bf16 and bf16 products on AVX512-BF16
//                                          (plip_bf16_dot.h: `--compute bf16`); bf16ComputeAvailable() says
//                                          whether the CPU has it
//   halfKernel([name])                     "avx512" | "avx2" | "portable" (the kernels in use); with a name,
//                                          selects it ("portable" always; the others where the CPU has them)
//   config()                               "<openblas_get_config()> | core=<corename> | threads=<n>"
//   numThreads()                           threads the addon splits products over (OpenBLAS's count at load)
//   setNumThreads(n)                       sets it (OpenBLAS itself always runs single-threaded)
//   opsAvailable, activate, softmaxRows, scaleMask: the decoder's elementwise ops (plip_ops.cc)
//   attnScores, attnMix: attention's per-head products, all heads in one call (plip_attn.cc)
//   normRows, addRange, add3Range, mulRange: TypeScript ops reproduced bit for bit (plip_exact.cc)
//
// Every argument is validated (type, integer dims in [0, 2^31), array lengths >= implied sizes, out not
// overlapping any input); violations throw TypeError / RangeError and BLAS is never called, so nothing
// is read or written out of bounds.

#include <napi.h>

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <climits>
#ifdef __linux__
#include <sys/mman.h>
#endif
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "plip_bf16_dot.h"
#include "plip_half.h"
#include "plip_bf16_gemm.h"

namespace plip_ops {
void RegisterOps(Napi::Env env, Napi::Object exports);
}
namespace plip_attn {
void RegisterAttn(Napi::Env env, Napi::Object exports);
}
namespace plip_exact {
void RegisterExact(Napi::Env env, Napi::Object exports);
}

#include "plip_napi.h"
#include "plip_pool.h"
#include "plip_amx.h"

namespace {

// An output of at least 4 MB that is written for the first time faults in every 4 KB page, one by one: on the
// 2-vCPU VMs this project runs on, a fresh [128 × 151936] logits buffer (78 MB) cost 30–110 ms of a 180 ms
// product. Asking for transparent huge pages on the 2 MB-aligned part of the range (Linux; THP in its default
// 'madvise' mode honours it) makes that 39 faults. Only advice: the contents and the result are unchanged.
void AdviseHugePages(void* p, size_t bytes) {
#ifdef __linux__
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (bytes < (size_t(4) << 20)) return;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);
#else
  (void)p, (void)bytes;
#endif
}

using namespace plip;

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
  AdviseHugePages(out.data, size_t(mn) * sizeof(float));
  // With a bias: pre-fill every row of out with it and accumulate (beta = 1). Without: gemm writes
  // out with beta = 0; gemv and k == 0 (where BLAS would reject lda = 0) get an explicit zero fill.
  if (hasBias) {
    for (int i = 0; i < m; i++) std::memcpy(out.data + size_t(i) * n, bias.data, size_t(n) * sizeof(float));
  } else if (m == 1 || k == 0) {
    std::memset(out.data, 0, size_t(mn) * sizeof(float));
  }
  if (k == 0) return env.Undefined();

  const float* xp = x.data;
  const float* wp = w.data;
  float* op = out.data;
  if (m == 1) {
    // y[n] = W[n,k] · x[k] + y, rows of W split over the pool (each output is one row's dot product)
    const int threads = nk < (uint64_t(1) << 16) ? 1 : Threads();
    GemvPool().Run(threads, [=](int part, int parts) {
      const auto [j0, j1] = GemvRows(n, part, parts);
      if (j0 < j1) cblas_sgemv(CblasRowMajor, CblasNoTrans, j1 - j0, k, 1.0f, wp + size_t(j0) * k, k, xp, 1, 1.0f, op + j0, 1);
    });
    return env.Undefined();
  }
  const float beta = hasBias ? 1.0f : 0.0f;
  const size_t blocks = RowBlocks(m, k, n, 1, Threads());
  GemvPool().Run(int(std::min<size_t>(blocks, size_t(Threads()))), [=](int part, int parts) {
    for (size_t t = size_t(part); t < blocks; t += size_t(parts)) {
      const size_t j0 = BlockEdge(t, blocks, n), nb = BlockEdge(t + 1, blocks, n) - j0;
      if (nb) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, int(nb), k, 1.0f, xp, k, wp + j0 * k, k, beta, op + j0, n);
    }
  });
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


// ---------------------------------------------------------------------------------------------------
// Half-precision weights (bf16 / f16), float32 accumulation.

struct U16View {
  const uint16_t* data = nullptr;
  size_t length = 0;  // elements
};

U16View GetU16(const Napi::CallbackInfo& info, size_t idx, const char* fn, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = info[idx];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array) {
    ThrowType(env, std::string(fn) + ": argument '" + name + "' must be a Uint16Array");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_status st = napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr);
  if (st != napi_ok) ThrowType(env, std::string(fn) + ": cannot read Uint16Array '" + name + "'");
  return U16View{static_cast<const uint16_t*>(data), length};
}

// Benchmarks only: widen and multiply every tile on the calling thread (no split over the pool).
std::atomic<bool> g_serialTiles{std::getenv("PLIP_HALF_SERIAL_TILES") != nullptr};

// Widened rows per sgemm call: about L2-sized, but large enough that m·rows·k stays above OpenBLAS's
// small-matrix cut-offs (see below).
size_t TileFloats(int m) {
  static const size_t forced = [] {
    const char* e = std::getenv("PLIP_HALF_TILE_FLOATS");
    return e ? size_t(std::strtoull(e, nullptr, 10)) : size_t(0);
  }();
  if (forced) return forced;
  return std::clamp<size_t>((size_t(1) << 22) / size_t(std::max(1, m)), size_t(1) << 19, size_t(1) << 20);
}

// The arguments of linearHalf / linearBf16Compute, validated.
struct HalfCall {
  const float* x;
  const uint16_t* w;
  const float* bias;  // [n] or null
  float* out;
  int kind, m, k, n;
};

// out ← the bias in every row, or zeros: where the kernels add their sums.
void InitOut(const HalfCall& c) {
  if (c.bias) {
    for (int i = 0; i < c.m; i++) std::memcpy(c.out + size_t(i) * c.n, c.bias, size_t(c.n) * sizeof(float));
  } else {
    std::memset(c.out, 0, size_t(c.m) * size_t(c.n) * sizeof(float));
  }
}

// (x, w16, kind, bias|null, m, k, n, out); false when out is empty. `bf16Only` refuses kind 1 (f16) before
// anything is written. Nothing is written to out here (InitOut, or a kernel that initialises it itself).
bool PrepareHalf(const Napi::CallbackInfo& info, const char* fn, HalfCall& c, bool bf16Only = false) {
  Napi::Env env = info.Env();
  RequireArgc(info, 8, fn, "(x, w16, kind, bias|null, m, k, n, out)");
  F32View x = GetF32(info, 0, fn, "x");
  U16View w = GetU16(info, 1, fn, "w16");
  const int kind = GetDim(info, 2, fn, "kind");
  if (kind != 0 && kind != 1) ThrowRange(env, std::string(fn) + ": kind must be 0 (bf16) or 1 (f16)");
  if (bf16Only && kind != 0) ThrowRange(env, std::string(fn) + ": kind must be 0: bf16 compute takes bf16 weights");
  F32View bias;
  bool hasBias = !(info[3].IsNull() || info[3].IsUndefined());
  if (hasBias) bias = GetF32(info, 3, fn, "bias");
  const int m = GetDim(info, 4, fn, "m");
  const int k = GetDim(info, 5, fn, "k");
  const int n = GetDim(info, 6, fn, "n");
  F32View out = GetF32(info, 7, fn, "out");

  const uint64_t mk = uint64_t(m) * uint64_t(k), nk = uint64_t(n) * uint64_t(k), mn = uint64_t(m) * uint64_t(n);
  RequireLen(env, fn, "x", x, mk, "m*k");
  if (w.length < nk) {
    ThrowRange(env, std::string(fn) + ": 'w16' has " + std::to_string(w.length) + " elements but n*k needs " + std::to_string(nk));
  }
  RequireLen(env, fn, "out", out, mn, "m*n");
  if (hasBias) RequireLen(env, fn, "bias", bias, uint64_t(n), "n");
  RequireNoOverlap(env, fn, out, mn, x, mk, "x");
  {
    auto o0 = reinterpret_cast<uintptr_t>(out.data), w0 = reinterpret_cast<uintptr_t>(w.data);
    if (mn && nk && o0 < w0 + nk * 2 && w0 < o0 + mn * sizeof(float)) ThrowRange(env, std::string(fn) + ": 'out' must not overlap 'w16'");
  }
  if (hasBias) RequireNoOverlap(env, fn, out, mn, bias, uint64_t(n), "bias");

  if (mn == 0) return false;
  AdviseHugePages(out.data, size_t(mn) * sizeof(float));
  c = HalfCall{x.data, w.data, hasBias ? bias.data : nullptr, out.data, kind, m, k, n};
  return true;
}

// linearHalf(x, w16, kind, bias|null, m, k, n, out)
Napi::Value LinearHalf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HalfCall c;
  if (!PrepareHalf(info, "linearHalf", c)) return env.Undefined();
  const int kind = c.kind, m = c.m, k = c.k, n = c.n;
  // the packed bf16 GEMM writes bias + its first run itself (in parallel: one thread zeroing, and first
  // touching, a fresh [128 × 151936] logits buffer cost tens of ms)
  const int gemmIsa = plip_half::PackedBf16GemmIsa();
  const bool packed = kind == 0 && k > 0 && m > 1 && m > plip_half::GemmSmallMaxRows(kind) && gemmIsa >= 0;
  if (!packed) InitOut(c);
  if (k == 0) return env.Undefined();
  const uint64_t nk = uint64_t(n) * uint64_t(k);
  const float* xp = c.x;
  const uint16_t* wp = c.w;
  float* op = c.out;
  if (kind == 0 && plip_half::UsesAmx() && m > plip_half::GemmSmallMaxRows(kind)) {
    // AMX tiles (plip_amx.h): x split into three bf16 terms and packed once (blocks of 16 rows over the
    // pool), then rows of w over the pool in 64-row granules, read in place.
    thread_local std::vector<uint16_t> packedX;
    const size_t need = plip_amx::PackedElems(m, k);
    if (packedX.size() < need) packedX.resize(need);
    uint16_t* pk = packedX.data();
    const int mBlocks = (m + 15) / 16;
    const int threads = double(m) * double(n) * double(k) < 4e6 ? 1 : Threads();
    GemvPool().Run(std::min(threads, mBlocks), [=](int part, int parts) {
      plip_amx::PackX(xp, m, k, pk, int(int64_t(mBlocks) * part / parts), int(int64_t(mBlocks) * (part + 1) / parts));
    });
    GemvPool().Run(threads, [=](int part, int parts) {
      const auto [j0, j1] = GemvRows(n, part, parts);
      plip_amx::GemmRows(pk, m, k, wp, n, j0, j1, op);
    });
    return env.Undefined();
  }

  if (m == 1) {
    // Memory-bound: split rows of w over the worker pool, 64-row granules.
    const int threads = nk < (uint64_t(1) << 16) ? 1 : Threads();
    GemvPool().Run(threads, [=](int part, int parts) {
      const auto [j0, j1] = GemvRows(n, part, parts);
      if (j0 < j1) plip_half::GemvRows(xp, wp, k, j0, j1, op, kind);
    });
    return env.Undefined();
  }

  if (m <= plip_half::GemmSmallMaxRows(kind)) {
    // A few rows (batched decoding, one per sequence; incremental recomputation): w converted once for all m
    // rows, never widened into memory (plip_half.h says how each kernel sums). On avx512 every output equals
    // the m == 1 GEMV on its row bit for bit, so a sequence decodes to the same logits alone or in a batch.
    // Rows of w split over the pool as for the GEMV.
    const int threads = nk < (uint64_t(1) << 16) ? 1 : Threads();
    GemvPool().Run(threads, [=](int part, int parts) {
      const auto [j0, j1] = GemvRows(n, part, parts);
      if (j0 < j1) plip_half::GemmSmallRows(xp, m, wp, k, n, j0, j1, op, kind);
    });
    return env.Undefined();
  }

  if (packed) {
    // bf16 on AVX-512 or AVX2 (plip_bf16_gemm.h): x packed once in strips (over the pool), then rows of w over
    // the pool in 64-row granules, each thread packing its own panels of w as float32 in cache.
    thread_local std::vector<float> packedX;
    if (packedX.size() < plip_bf16_gemm::PackedXFloats(m, k)) packedX.resize(plip_bf16_gemm::PackedXFloats(m, k));
    float* pk = packedX.data();
    const float* bias = c.bias;
    const auto isa = plip_bf16_gemm::Isa(gemmIsa);
    const int strips = plip_bf16_gemm::Strips(isa, m);
    const int threads = Threads();
    GemvPool().Run(std::min(threads, strips), [=](int part, int parts) {
      plip_bf16_gemm::PackX(isa, xp, m, k, pk, int(int64_t(strips) * part / parts), int(int64_t(strips) * (part + 1) / parts));
    });
    GemvPool().Run(threads, [=](int part, int parts) {
      const auto [j0, j1] = GemvRows(n, part, parts);
      if (j0 < j1) plip_bf16_gemm::GemmRows(isa, pk, m, k, wp, bias, j0, j1, op, n);
    });
    return env.Undefined();
  }

  // Blocks of w rows, each about TileFloats(m) elements (L2-sized) unless w is smaller, never under the
  // small-matrix cut-off (RowBlocks). Each pool thread widens its own blocks and runs a single-threaded
  // sgemm on them, so widening is parallel too and no thread waits for another's tile; sgemm over a
  // block of rows sums every output element in the order one call over all of w would (bit-identical).
  const int threads = g_serialTiles.load(std::memory_order_relaxed) ? 1 : Threads();
  const size_t blocks = RowBlocks(m, k, n, std::max<size_t>(1, nk / TileFloats(m)), threads);
  size_t rows = 0;
  for (size_t t = 0; t < blocks; t++) rows = std::max(rows, BlockEdge(t + 1, blocks, n) - BlockEdge(t, blocks, n));
  GemvPool().Run(int(std::min<size_t>(blocks, size_t(threads))), [=](int part, int parts) {
    thread_local std::vector<float> mine;
    if (mine.size() < rows * size_t(k)) mine.resize(rows * size_t(k));
    for (size_t t = size_t(part); t < blocks; t += size_t(parts)) {
      const size_t j0 = BlockEdge(t, blocks, n), nb = BlockEdge(t + 1, blocks, n) - j0;
      if (nb == 0) continue;
      plip_half::Widen(wp + j0 * size_t(k), mine.data(), nb * size_t(k), kind);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, int(nb), k, 1.0f, xp, k, mine.data(), k, 1.0f, op + j0, n);
    }
  });
  return env.Undefined();
}

// linearBf16Compute(x, w16, kind, bias|null, m, k, n, out): as linearHalf for bf16 w (kind 0), with x rounded to
// bf16 and bf16 products (plip_bf16_dot.h; `--compute bf16`). Throws where the CPU lacks avx512_bf16.
Napi::Value LinearBf16Compute(const Napi::CallbackInfo& info) {
  static const char* fn = "linearBf16Compute";
  Napi::Env env = info.Env();
  if (!plip_bf16_dot::Available()) ThrowRange(env, std::string(fn) + ": this CPU lacks avx512_bf16 (bf16ComputeAvailable() tells)");
  HalfCall c;
  if (!PrepareHalf(info, fn, c, /*bf16Only=*/true)) return env.Undefined();
  InitOut(c);
  if (c.k == 0) return env.Undefined();
  const int m = c.m, k = c.k, n = c.n, kp = plip_bf16_dot::Padded(k);
  thread_local std::vector<uint16_t> xb;
  if (xb.size() < size_t(m) * kp) xb.resize(size_t(m) * kp);
  for (int i = 0; i < m; i++) plip_bf16_dot::RoundRow(c.x + size_t(i) * k, k, xb.data() + size_t(i) * kp);
  const uint16_t* xp = xb.data();
  const uint16_t* wp = c.w;
  float* op = c.out;
  const int threads = double(m) * double(n) * double(k) < double(uint64_t(1) << 16) ? 1 : Threads();
  GemvPool().Run(threads, [=](int part, int parts) {
    const auto [j0, j1] = GemvRows(n, part, parts);
    if (j0 < j1) plip_bf16_dot::Gemm(xp, m, wp, k, n, j0, j1, op);
  });
  return env.Undefined();
}

Napi::Value Bf16ComputeAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), plip_bf16_dot::Available());
}

Napi::Value HalfKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && info[0].IsString()) {
    std::string err = plip_half::SelectKernel(info[0].As<Napi::String>().Utf8Value());
    if (!err.empty()) ThrowRange(env, "halfKernel: " + err);
  }
  return Napi::String::New(env, plip_half::KernelName());
}

// halfSmallRows(kind) → most rows of x the current kernel's small-m path takes for that dtype (0: none).
Napi::Value HalfSmallRows(const Napi::CallbackInfo& info) {
  RequireArgc(info, 1, "halfSmallRows", "(kind)");
  const int kind = GetDim(info, 0, "halfSmallRows", "kind");
  if (kind != 0 && kind != 1) ThrowRange(info.Env(), "halfSmallRows: kind must be 0 (bf16) or 1 (f16)");
  return Napi::Number::New(info.Env(), plip_half::GemmSmallMaxRows(kind));
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  std::string s = openblas_get_config();
  // Trailing spaces in the config string are common; trim them.
  while (!s.empty() && s.back() == ' ') s.pop_back();
  s += " | core=";
  s += openblas_get_corename();
  s += " | threads=" + std::to_string(Threads());
  return Napi::String::New(info.Env(), s);
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Threads());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgc(info, 1, "setNumThreads", "(n)");
  int t = GetDim(info, 0, "setNumThreads", "n");
  if (t < 1) ThrowRange(env, "setNumThreads: n must be >= 1");
  g_threads.store(t, std::memory_order_relaxed);
  openblas_set_num_threads(1);
  return Napi::Number::New(env, Threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // OpenBLAS's thread count at load (OPENBLAS_NUM_THREADS, else one per core) becomes the addon's own.
  g_threads.store(std::max(1, openblas_get_num_threads()), std::memory_order_relaxed);
  openblas_set_num_threads(1);
  plip_ops::RegisterOps(env, exports);    // elementwise / row-wise ops (plip_ops.cc)
  plip_attn::RegisterAttn(env, exports);  // attention's per-head products (plip_attn.cc)
  plip_exact::RegisterExact(env, exports);  // bit-exact copies of TypeScript ops (plip_exact.cc)
  exports.Set("linear", Napi::Function::New(env, Linear, "linear"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("linearHalf", Napi::Function::New(env, LinearHalf, "linearHalf"));
  exports.Set("halfKernel", Napi::Function::New(env, HalfKernel, "halfKernel"));
  exports.Set("linearBf16Compute", Napi::Function::New(env, LinearBf16Compute, "linearBf16Compute"));
  exports.Set("bf16ComputeAvailable", Napi::Function::New(env, Bf16ComputeAvailable, "bf16ComputeAvailable"));
  exports.Set("halfSmallRows", Napi::Function::New(env, HalfSmallRows, "halfSmallRows"));
  exports.Set("config", Napi::Function::New(env, Config, "config"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  return exports;
}

}  // namespace

NODE_API_MODULE(plip_blas, Init)
