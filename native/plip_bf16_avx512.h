// plip_bf16_avx512: register-blocked AVX-512 kernels for bf16 weights with float32 activations and sums,
// behind plip_half's avx512 and amx kernels (bf16 only; f16 keeps plip_half's own AVX-512 GEMV).
//
// Every output y[i, j] is summed in one order that depends only on k: 32 weights per step, the step's 16 even
// weights then its 16 odd ones FMA'd into one 16-lane accumulator, the lanes reduced once, then the k % 32
// tail one by one. The order does not depend on how many rows of x or w a call takes, so a row of x gives the
// same outputs bit for bit alone (GEMV) or with others (batched decoding, incremental recomputation).
#pragma once

#include <cstdint>

namespace plip_bf16_avx512 {

/** y[j] += x · w[j, :] for rows j in [j0, j1); w is [rows, k] bf16 bit patterns, x is [k]. */
void Gemv(const float* x, const uint16_t* w, int k, int j0, int j1, float* y);

/** Y[i, j] += X[i] · w[j, :] for the m rows of X ([m, k]) and rows j in [j0, j1); Y is [m, n]. Each output
 *  equals Gemv on its row of X bit for bit. */
void GemmSmall(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y);

}  // namespace plip_bf16_avx512
