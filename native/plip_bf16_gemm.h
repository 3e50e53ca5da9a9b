// plip_bf16_gemm: a packed GEMM for bf16 weights with float32 activations and float32 sums, for products of many
// rows (prefill; recomputation of long spans): y[m, n] = bias + x[m, k] · w[n, k]ᵀ. AVX-512 and AVX2 + FMA.
//
// Goto-style: a panel of rows of w (32 on AVX-512, 16 on AVX2) is made float32 while being packed (transposed,
// KC weights of each row at a time) into a buffer that stays in L1/L2, and multiplied by broadcasts from x
// packed in strips of rows (12 on AVX-512, 6 on AVX2): a register tile of strip × panel accumulators. The
// weights are read once from memory, in bf16, and never written out widened (the widened-tile path writes
// them as float32 and sgemm packs them again).
//
// Every output y[i, j] is summed in one order that depends only on k: runs of KC products in k order, each FMA'd
// into a zeroed accumulator and then added to the bias (or 0), run after run. So a row's outputs do not depend
// on m, on the other rows of x, or on how the rows of w are split over threads (the same bits alone or
// batched, for every call this kernel takes with the same instruction set).
#pragma once

#include <cstddef>
#include <cstdint>

namespace plip_bf16_gemm {

/** Instruction sets: kAvx512 (avx512f/bw/vl), kAvx2 (avx2 + fma). The caller checks the CPU. */
enum Isa { kAvx512 = 0, kAvx2 = 1 };

/** Rows of x per strip (the register tile's height) for `isa`. */
int StripRows(Isa isa);

/** Strips of an [m, k] input. */
inline int Strips(Isa isa, int m) { return (m + StripRows(isa) - 1) / StripRows(isa); }

/** Floats of the packed activations for an [m, k] input (m·k: strips are not padded). */
inline size_t PackedXFloats(int m, int k) { return size_t(m) * size_t(k); }

/** Packs strips [s0, s1) of x ([m, k] row-major) into `px`: strip s (rows i0 = s·StripRows, R of them) is
 *  [k][R] at px + i0·k. */
void PackX(Isa isa, const float* x, int m, int k, float* px, int s0, int s1);

/**
 * y[i, j] = bias[j] + Σ_p x[i, p] · w[j, p] (bias null: 0 + the sum) for every row i < m and rows j in [j0, j1)
 * of w ([rows, k] bf16 patterns, row-major), k ≥ 1; y's previous contents are not read. `px` from PackX over
 * all strips of x; y is [m, ldy] row-major. On the calling thread.
 */
void GemmRows(Isa isa, const float* px, int m, int k, const uint16_t* w, const float* bias, int j0, int j1, float* y, int ldy);

}  // namespace plip_bf16_gemm
