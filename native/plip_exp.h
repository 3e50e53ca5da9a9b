// plip_exp: V8's Math.exp ported to C++ (scalar, and lane by lane in AVX-512 / AVX2 vectors for x ≤ 0) and the
// Neumaier sum of distribution.ts, for plip_exact's log-softmax loops: the same float64 operations in the same
// order, so sums of exponentials here equal the TypeScript ones bit for bit (part of the plip_blas addon;
// built with -ffp-contract=off: a fused multiply-add would round differently).
#pragma once

#include <cmath>
#include <cstddef>

namespace plip_exp {

/** V8's Math.exp (fdlibm e_exp.c), operation for operation. */
double Exp(double x);

/** src/metrics/distribution.ts KahanSum (Neumaier), operation for operation. */
struct Neumaier {
  double s = 0, c = 0;
  void Add(double v) {
    const double t = s + v;
    if (std::fabs(s) >= std::fabs(v)) c += s - t + v;
    else c += v - t + s;
    s = t;
  }
  double Value() const { return s + c; }
};

/** out += Σ Exp(x[i] − m) for i < n, in order, for x[i] ≤ m (m the maximum; vector exponentials where the CPU has them). */
void AddExpShifted(const float* x, size_t n, double m, Neumaier& out);

/** o[i] = Exp(x[i]) for i < n, every x[i] ≤ 0 (not checked here), through the vector exponential where the CPU has one. */
void ExpNonPositive(const double* x, double* o, size_t n);

/** Lanes of the vector exponential in use: 8 (AVX-512), 4 (AVX2) or 0 (scalar only; PLIP_EXACT_SCALAR=1). */
int VectorExpLanes();

}  // namespace plip_exp
