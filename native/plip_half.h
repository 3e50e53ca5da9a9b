// plip_half: the 16-bit-weight kernels behind linearHalf (bf16 / f16 weights, float32 accumulation).
//
// Three implementations of the same two kernels, chosen at run time from what the CPU supports:
//   amx       as avx512, and bf16 products of more than a few rows on AMX tiles (plip_amx.h)
//   avx512    avx512f + avx512bw + avx512vl + f16c (bf16 through plip_bf16_avx512.h)
//   avx2      avx2 + fma + f16c (e.g. AMD Zen 2/3, Intel Haswell and later)
//   portable  plain C++
// Widen is exact in all three (bf16 and f16 values are exact in float32). Gemv sums in float32 in a
// kernel-specific order, so kernels agree to float32 rounding, not bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace plip_half {

/** d[i] = float(s[i]) for i < n; kind 0 = bf16, 1 = f16 (f16 always via the exact portable path). */
void Widen(const uint16_t* s, float* d, size_t n, int kind);

/** y[j] += sum_p x[p] · w[j, p] for rows j in [j0, j1); w is [rows, k] row-major 16-bit patterns. */
void GemvRows(const float* x, const uint16_t* w, int k, int j0, int j1, float* y, int kind);

/**
 * Y[i, j] += X[i] · w[j, :] for the m rows of X ([m, k]) and rows j in [j0, j1) of w; Y is [m, n]. For
 * m ≤ GemmSmallMaxRows(kind) only; returns false (and does nothing) otherwise. avx512/amx (f16: j0 a multiple
 * of 4): each output equals GemvRows on that row of X bit for bit. avx2 (bf16): register-blocked, float32 sums in its
 * own order (within float32 rounding of the product).
 */
bool GemmSmallRows(const float* x, int m, const uint16_t* w, int k, int n, int j0, int j1, float* y, int kind);
/** Most rows of x GemmSmallRows takes with this kernel and dtype (0: none). PLIP_HALF_SMALL_M overrides. */
int GemmSmallMaxRows(int kind);

/** The kernel in use: "amx" | "avx512" | "avx2" | "portable". */
const char* KernelName();

/** Whether bf16 products of more than a few rows go to AMX (plip_amx::GemmRows). */
bool UsesAmx();

/** The plip_bf16_gemm::Isa that bf16 products of more than GemmSmallMaxRows(0) rows go to (avx512: 0, avx2: 1),
 *  or -1: widened tiles + sgemm (portable and amx kernels; PLIP_BF16_GEMM=0, for benchmarks). */
int PackedBf16GemmIsa();

/** Selects a kernel by name; returns an error message (empty on success) when the name is unknown or the
 *  CPU cannot run it. */
std::string SelectKernel(const std::string& name);

}  // namespace plip_half
