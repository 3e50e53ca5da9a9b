// plip_bf16_dot: the `--compute bf16` products: x[m,k] rounded to bf16 (round to nearest even) times bf16
// w[n,k]ᵀ with AVX512-BF16's VDPBF16PS (pairs of bf16 products added into float32 accumulators), float32 out.
//
// Unlike plip_half (float32 activations, the float32 product within float32 rounding) this changes the
// numbers: each activation entering a weight product keeps 8 significant bits, as in a bf16 model run. The
// instruction treats subnormal inputs as zero and flushes subnormal results. Summation order: per output,
// 32 weights per step in one 16-lane accumulator, lanes reduced once; the order depends on k only, so a row
// of x gives the same outputs alone or with others.
#pragma once

#include <cstdint>

namespace plip_bf16_dot {

/** The CPU has avx512_bf16 (with avx512f/bw/vl). */
bool Available();

/** dst[p] = bf16(x[p]) (round to nearest even; NaN stays NaN) for p < k, zeros up to kPadded(k). */
void RoundRow(const float* x, int k, uint16_t* dst);

/** Row length of RoundRow's output: k rounded up to a multiple of 32. */
inline int Padded(int k) { return (k + 31) & ~31; }

/** Y[i, j] += xb[i] · w[j, :] for the m rows of xb ([m, Padded(k)] from RoundRow) and rows j in [j0, j1)
 *  of w ([rows, k] bf16); Y is [m, n]. Needs Available(). */
void Gemm(const uint16_t* xb, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y);

}  // namespace plip_bf16_dot
