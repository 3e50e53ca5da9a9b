// The parts the two register-blocked bf16 kernels share (plip_bf16_avx512.cc: float32 activations;
// plip_bf16_dot.cc: bf16 activations): how rows of x and w are cut into a kernel's R × J blocks, and how the
// pass that brings rows of w in from memory prefetches them.
//
// Included inside each kernel's own anonymous namespace after it defines PLIP_BLOCKS_TARGET (the function
// target attribute its code is compiled with), so the drivers inline the kernel's blocks.
#ifndef PLIP_BLOCKS_TARGET
#error "define PLIP_BLOCKS_TARGET before including plip_bf16_blocks.h"
#endif

// In the first pass over rows wr[0..J) of w (step p of 32 weights): 2 KB ahead in each of the J streams, and
// for short rows the next J rows (contiguous) linearly at the rate the pass consumes them (J lines per step).
// The rows are short and read as J interleaved streams, which the hardware prefetcher ramps up on too late;
// into L2, not L1: the rows of x a batched call streams through L1 (16 × 896 floats = 57 KB) would evict them.
// Measured on AMD Zen 4 (2 vCPUs), a Qwen2.5-0.5B-dims bf16 decode step, interleaved in one process: 38 ms with
// both prefetches to L2, 55–59 ms to L1; a 16-row step 142–154 vs 157–164 ms.
template <int J>
PLIP_BLOCKS_TARGET inline __attribute__((always_inline)) void PrefetchRows(const uint16_t* const* wr, int k, int p) {
  for (int q = 0; q < J; q++) _mm_prefetch(reinterpret_cast<const char*>(wr[q] + p + 1024), _MM_HINT_T1);
  if (k <= 2048) {
    const char* next = reinterpret_cast<const char*>(wr[0] + size_t(J) * k) + size_t(p) * 2 * J;
    for (int q = 0; q < J; q++) _mm_prefetch(next + 64 * q, _MM_HINT_T1);
  }
}

// A block's R·J zeroed accumulators and its J row pointers into w ([rows, k]) from row j.
template <int R, int J>
PLIP_BLOCKS_TARGET inline __attribute__((always_inline)) void StartBlock(__m512 (&acc)[R][J], const uint16_t* (&wr)[J], const uint16_t* w, int j, int k) {
  for (int r = 0; r < R; r++)
    for (int q = 0; q < J; q++) acc[r][q] = _mm512_setzero_ps();
  for (int q = 0; q < J; q++) wr[q] = w + size_t(j + q) * k;
}

// kernel.Block<R, J>(i, j, lead) for rows [i0, m) of x in blocks of R (the rest in smaller blocks) against rows
// [j, j + J) of w; `lead` for the first block only (it brings these rows of w in).
template <int R, int J, class Kernel>
PLIP_BLOCKS_TARGET void BlockRows(const Kernel& kernel, int i0, int m, int j, bool lead) {
  int i = i0;
  for (; i + R <= m; i += R) kernel.template Block<R, J>(i, j, lead && i == i0);
  if constexpr (R > 1) {
    if (m - i >= 1) BlockRows<R - 1, J>(kernel, i, m, j, lead && i == i0);
  }
}

// Every row of x against rows [j0, j1) of w in groups of J (the rest in smaller groups).
template <int R, int J, class Kernel>
PLIP_BLOCKS_TARGET void BlockRun(const Kernel& kernel, int m, int j0, int j1) {
  int j = j0;
  for (; j + J <= j1; j += J) BlockRows<R, J>(kernel, 0, m, j, true);
  if constexpr (J > 1) {
    if (j1 - j >= 1) BlockRun<R, J - 1>(kernel, m, j, j1);
  }
}
