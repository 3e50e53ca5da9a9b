// plip_pool.h: the addon's own thread pool and how products are split over it (plip_blas.cc, plip_attn.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace plip {

// ---- a small persistent worker pool: every product the addon splits runs on it (OpenBLAS stays single-threaded).
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
inline bool SpinUntil(Pred done) {
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

inline Pool& GemvPool() {
  static Pool* pool = new Pool();  // never destroyed: workers may outlive static destruction order
  return *pool;
}

// ---- parallelism: the addon's own, never OpenBLAS's.
// OpenBLAS runs single-threaded (set at load, Init below); products are split over the pool above by the
// addon. OpenBLAS's own threads either spin for ~2^28 cycles after each call, holding the core the next
// call's other half needs, or (OPENBLAS_THREAD_TIMEOUT small) sleep at once; waking a sleeping thread on an
// idle vCPU costs more than the attention products of a forward pass take (GPT-2 small, 128 tokens, on
// 2 vCPUs: 144 score products of [128×64·64×128] took 0.41 ms each through OpenBLAS's pool, 0.04 ms on one
// thread). The pool spins 200 µs between jobs, longer than the gaps between the products of one layer.
inline std::atomic<int> g_threads{1};
inline int Threads() { return g_threads.load(std::memory_order_relaxed); }

// Elementwise and row-wise ops below this many elements run on the calling thread: waking the pool costs
// more than they take (a decode step's ops are a few thousand elements).
constexpr int64_t kParallelMinWork = int64_t(1) << 16;

// fn(lo, hi) over [0, n) in contiguous parts, one per pool thread, part edges on multiples of `align` (so a
// kernel working in blocks of `align` sees the same blocks as one call over [0, n) would); one piece when
// `work` (elements touched) is under kParallelMinWork. Each index is handled by exactly one part.
template <class Fn>
void ParallelRanges(int64_t n, int64_t align, int64_t work, Fn fn) {
  const int64_t units = (n + align - 1) / align;
  const int parts = int(std::min<int64_t>(Threads(), units));
  if (parts <= 1 || work < kParallelMinWork) {
    if (n > 0) fn(int64_t(0), n);
    return;
  }
  GemvPool().Run(parts, [&](int part, int ps) {
    const int64_t lo = std::min(n, units * part / ps * align), hi = std::min(n, units * (part + 1) / ps * align);
    if (lo < hi) fn(lo, hi);
  });
}

// OpenBLAS routes products with M·N·K ≤ 1e6 to its small-matrix kernels (SkylakeX sgemm), which sum in
// another order: a product split into blocks must keep every block above that, or it would no longer
// equal one call over all of w.
constexpr double kSmallMnk = 1e6;

// Blocks of w rows for a product of x[m,k] by w[n,k]ᵀ split over `threads`: at least `want` and at least
// `threads`, rounded up to a multiple of `threads` (each thread takes every threads-th block), fewer
// where a block would fall under the small-matrix cut-off. Block edges sit on multiples of 16 rows.
inline size_t RowBlocks(int m, int k, int n, size_t want, int threads) {
  size_t b = std::max<size_t>({want, size_t(threads), 1});
  b = (b + size_t(threads) - 1) / size_t(threads) * size_t(threads);
  while (b > 1 && double(m) * (double(n) / double(b) - 16.0) * double(k) <= 2 * kSmallMnk) b--;
  return b;
}
// First row of block t of `blocks` over n rows (multiples of 16; the last block ends at n).
inline size_t BlockEdge(size_t t, size_t blocks, int n) {
  return t >= blocks ? size_t(n) : std::min(size_t(n), (size_t(n) * t / blocks + 15) / 16 * 16);
}
// Rows [j0, j1) of part `part` of `parts` for a GEMV over n rows, in 64-row granules.
inline std::pair<int, int> GemvRows(int n, int part, int parts) {
  const int granules = (n + 63) / 64;
  const int g0 = int(int64_t(granules) * part / parts), g1 = int(int64_t(granules) * (part + 1) / parts);
  return {std::min(n, g0 * 64), std::min(n, g1 * 64)};
}

}  // namespace plip
