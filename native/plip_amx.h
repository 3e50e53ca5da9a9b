// plip_amx: x[m,k] (float32) · w[n,k]ᵀ (bf16) on Intel AMX tiles (amx_tile + amx_bf16), float32 accumulation.
//
// AMX multiplies bf16 by bf16 only. Each float32 activation is split exactly into three bf16 terms
// (x = x1 + x2 + x3: the top 8 significant bits by truncation, then the next 8 of the remainder, then the
// rest, which fits in 8 bits), so every product xi·w is exact in float32 and the result is the float32
// product summed in AMX's order (within float32 rounding of the sgemm path, not bit for bit).
// AMX treats bf16 subnormal inputs as zero (|w| < 2^-126), which changes a sum by less than 2^-126 · Σ|x|
// (and makes ±Inf × a subnormal weight NaN, where float32 gives ±Inf). Non-finite activations stay whole in
// the first term, so they propagate as in float32 otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace plip_amx {

/** The CPU has amx_tile, amx_bf16 and avx512f/bw, and the kernel granted this process the tile state. */
bool Available();

/** Split terms per activation. */
constexpr int kTerms = 3;

/** uint16 elements of the packed activations for an [m, k] input. */
size_t PackedElems(int m, int k);

/**
 * Splits and packs rows of x ([m, k] float32, row-major) into AMX B-tile layout, for 16-row blocks
 * [mb0, mb1). Blocks past m and columns past k are zeros.
 */
void PackX(const float* x, int m, int k, uint16_t* packed, int mb0, int mb1);

/**
 * y[i, j] += Σ_p x[i, p] · w[j, p] for every row i < m and rows j in [j0, j1) of w ([n, k] bf16 patterns,
 * row-major; j0 a multiple of 16). `packed` comes from PackX over all of x. y is [m, n] row-major.
 * Runs on the calling thread (configures and releases its tiles).
 */
void GemmRows(const uint16_t* packed, int m, int k, const uint16_t* w, int n, int j0, int j1, float* y);

}  // namespace plip_amx
