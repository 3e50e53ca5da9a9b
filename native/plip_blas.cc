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
//   halfKernel([name])                     "avx512" | "avx2" | "portable" (the kernels in use); with a name,
//                                          selects it ("portable" always; the others where the CPU has them)
//   config()                               "<openblas_get_config()> | core=<corename> | threads=<n>"
//   numThreads()                           openblas_get_num_threads()
//   setNumThreads(n)                       openblas_set_num_threads(n)
//   opsAvailable, activate, softmaxRows, scaleMask: the decoder's elementwise ops (plip_ops.cc)
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
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "plip_half.h"

namespace plip_ops {
void RegisterOps(Napi::Env env, Napi::Object exports);
}

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

// Benchmarks/tests: force the one-tile-at-a-time path (sgemm multi-threaded inside each tile).
std::atomic<bool> g_serialTiles{std::getenv("PLIP_HALF_SERIAL_TILES") != nullptr};

// ---- a small persistent worker pool for the GEMV (OpenBLAS's own pool is not reachable from here).
// Workers sleep on a condition variable between calls; the calling thread takes the first share.
// Spin briefly before sleeping: a decode step makes ~170 GEMV calls a few tens of µs apart, and waking a
// thread blocked on a condition variable costs more than many of those calls take (OpenBLAS's own threads
// spin the same way). After kSpinMicros without work a thread blocks.
constexpr int64_t kSpinMicros = 200;
inline void CpuRelax() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
template <class Pred>
bool SpinUntil(Pred done) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0;; i++) {
    if (done()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(kSpinMicros)) return done();
  }
}

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  // Runs fn(part, parts) for part in [0, parts) on up to `parts` threads (the caller included); returns
  // when all are done.
  void Run(int parts, const std::function<void(int, int)>& fn) {
    if (parts <= 1) {
      fn(0, 1);
      return;
    }
    Ensure(parts - 1);
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);  // publishes job_, parts_, pending_ to spinning workers
    }
    cv_.notify_all();
    fn(0, parts);
    if (!SpinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lk(mu_);
      done_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    std::lock_guard<std::mutex> lk(mu_);
    job_ = nullptr;
  }

 private:
  void Ensure(int workers) {
    while (int(threads_.size()) < workers) {
      int id = int(threads_.size()) + 1;
      // The generation is read here, before Run() publishes the next job, so a worker that starts late
      // still sees that job as new.
      uint64_t start = gen_.load(std::memory_order_acquire);
      threads_.emplace_back([this, id, start] { Loop(id, start); });
    }
  }
  void Loop(int id, uint64_t seen) {
    for (;;) {
      const std::function<void(int, int)>* job;
      int parts;
      SpinUntil([&] { return gen_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_.load(std::memory_order_acquire) != seen; });
        seen = gen_.load(std::memory_order_acquire);
        if (stop_) return;
        job = job_;
        parts = parts_;
      }
      if (job && id < parts) {
        (*job)(id, parts);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          // under the mutex, so a caller that found pending_ != 0 and is about to wait cannot miss this
          std::lock_guard<std::mutex> lk(mu_);
          done_.notify_one();
        }
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  int parts_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> gen_{0};
  bool stop_ = false;
};

Pool& GemvPool() {
  static Pool* pool = new Pool();  // never destroyed: workers may outlive static destruction order
  return *pool;
}

// Float32 scratch for widened tiles of w (reused; grows to the largest tile seen).
std::vector<float>& TileScratch() {
  static std::vector<float> tile;
  return tile;
}

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

// linearHalf(x, w16, kind, bias|null, m, k, n, out)
Napi::Value LinearHalf(const Napi::CallbackInfo& info) {
  static const char* fn = "linearHalf";
  Napi::Env env = info.Env();
  RequireArgc(info, 8, fn, "(x, w16, kind, bias|null, m, k, n, out)");
  F32View x = GetF32(info, 0, fn, "x");
  U16View w = GetU16(info, 1, fn, "w16");
  const int kind = GetDim(info, 2, fn, "kind");
  if (kind != 0 && kind != 1) ThrowRange(env, std::string(fn) + ": kind must be 0 (bf16) or 1 (f16)");
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

  if (mn == 0) return env.Undefined();
  if (hasBias) {
    for (int i = 0; i < m; i++) std::memcpy(out.data + size_t(i) * n, bias.data, size_t(n) * sizeof(float));
  } else {
    std::memset(out.data, 0, size_t(mn) * sizeof(float));
  }
  if (k == 0) return env.Undefined();

  if (m == 1) {
    // Memory-bound: split rows of w over the worker pool (OpenBLAS's thread count), 64-row granules.
    int threads = std::max(1, openblas_get_num_threads());
    if (nk < (uint64_t(1) << 16)) threads = 1;
    const float* xp = x.data;
    const uint16_t* wp = w.data;
    float* yp = out.data;
    GemvPool().Run(threads, [=](int part, int parts) {
      const int granules = (n + 63) / 64;
      const int g0 = int(int64_t(granules) * part / parts), g1 = int(int64_t(granules) * (part + 1) / parts);
      const int j0 = std::min(n, g0 * 64), j1 = std::min(n, g1 * 64);
      if (j0 < j1) plip_half::GemvRows(xp, wp, k, j0, j1, yp, kind);
    });
    return env.Undefined();
  }

  // Tiles of w rows, equal sizes (multiples of 16 rows), each holding at least TileFloats(m) elements
  // unless w is smaller. Never a small tile: OpenBLAS routes small products (M·N·K below ~1e6) to other
  // kernels whose summation order differs, which would break bit-equality with one sgemm over all of w.
  const size_t tiles = std::max<size_t>(1, nk / TileFloats(m));
  auto edge = [&](size_t t) { return t >= tiles ? size_t(n) : std::min(size_t(n), (size_t(n) * t / tiles + 15) / 16 * 16); };
  size_t rows = 0;
  for (size_t t = 0; t < tiles; t++) rows = std::max(rows, edge(t + 1) - edge(t));
  const int threads = std::max(1, openblas_get_num_threads());
  if (threads > 1 && tiles >= size_t(2 * threads) && !g_serialTiles.load(std::memory_order_relaxed)) {
    // Each pool thread widens its own tiles and runs a single-threaded sgemm on them: widening is then
    // parallel too, and no thread waits for another's tile. Single- and multi-threaded sgemm split work
    // along m/n only, so every output element is summed in the same order (bit-identical results).
    openblas_set_num_threads(1);
    const float* xp = x.data;
    const uint16_t* wp = w.data;
    float* op = out.data;
    GemvPool().Run(threads, [=, &edge](int part, int parts) {
      thread_local std::vector<float> mine;
      if (mine.size() < rows * size_t(k)) mine.resize(rows * size_t(k));
      for (size_t t = size_t(part); t < tiles; t += size_t(parts)) {
        const size_t j0 = edge(t), nb = edge(t + 1) - j0;
        if (nb == 0) continue;
        plip_half::Widen(wp + j0 * size_t(k), mine.data(), nb * size_t(k), kind);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, int(nb), k, 1.0f, xp, k, mine.data(), k, 1.0f, op + j0, n);
      }
    });
    openblas_set_num_threads(threads);
    return env.Undefined();
  }
  std::vector<float>& tile = TileScratch();
  if (tile.size() < rows * size_t(k)) tile.resize(rows * size_t(k));
  for (size_t t = 0; t < tiles; t++) {
    const size_t j0 = edge(t), nb = edge(t + 1) - j0;
    if (nb == 0) continue;
    // Widening on this thread only: splitting it over the pool measured slower (the pool's threads then
    // compete with OpenBLAS's for the same cores).
    plip_half::Widen(w.data + j0 * size_t(k), tile.data(), nb * size_t(k), kind);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, int(nb), k, 1.0f, x.data, k, tile.data(), k, 1.0f, out.data + j0,
                n);
  }
  return env.Undefined();
}

Napi::Value HalfKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && info[0].IsString()) {
    std::string err = plip_half::SelectKernel(info[0].As<Napi::String>().Utf8Value());
    if (!err.empty()) ThrowRange(env, "halfKernel: " + err);
  }
  return Napi::String::New(env, plip_half::KernelName());
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
  plip_ops::RegisterOps(env, exports);  // elementwise / row-wise ops (plip_ops.cc)
  exports.Set("linear", Napi::Function::New(env, Linear, "linear"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("linearHalf", Napi::Function::New(env, LinearHalf, "linearHalf"));
  exports.Set("halfKernel", Napi::Function::New(env, HalfKernel, "halfKernel"));
  exports.Set("config", Napi::Function::New(env, Config, "config"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  return exports;
}

}  // namespace

NODE_API_MODULE(plip_blas, Init)
