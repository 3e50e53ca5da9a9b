/**
 * Comparing two next-token distributions given as logits over the FULL vocabulary.
 *
 * Everything is computed in float64 from float32 logits: log-softmax with max-shift and log-sum-exp,
 * KL with compensated (Neumaier) summation. No probability is truncated or floored: every vocabulary
 * entry contributes exactly p·(log p − log q); entries with p = 0 (logit −∞, or exp underflow below
 * ~1e-308) contribute 0, which is the limit of p·log p.
 *
 * Units: KL divergences and log-probabilities in NATS; probabilities in [0, 1]; logits as produced.
 *
 * @module
 */
import { nativeMetricKernels } from '../tensor/select.ts';

function checkFinite(x: ArrayLike<number>, name: string): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Number.isNaN(v) || v === Infinity) throw new RangeError(`${name}: logit ${i} is ${v}; logits must be finite or −Infinity`);
  }
}

/** Neumaier-compensated sum of a sequence of float64 terms. */
export class KahanSum {
  private s = 0;
  private c = 0;
  add(v: number): void {
    const t = this.s + v;
    if (Math.abs(this.s) >= Math.abs(v)) this.c += this.s - t + v;
    else this.c += v - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

/**
 * Log-softmax (natural log) of one row of logits, in float64.
 * @throws RangeError on NaN/+∞ or a row that is entirely −∞
 */
export function logSoftmax(logits: ArrayLike<number>, name = 'logSoftmax', into?: Float64Array): Float64Array {
  if (into && into.length !== logits.length) throw new RangeError(`${name}: output has ${into.length} entries for ${logits.length} logits`);
  const k = logits instanceof Float32Array ? nativeMetricKernels() : undefined;
  if (!k) return logSoftmaxTs(logits, name, into);
  // the same loops in native code (native/plip_exact.cc, V8's exp ported): the same bits, about 2× faster
  const [bad, m, sum] = k.logSoftmaxParts(logits as Float32Array);
  if (bad >= 0) checkFinite(logits, name);
  if (m === -Infinity) throw new RangeError(`${name}: every logit is −Infinity (no distribution)`);
  const out = into ?? new Float64Array(logits.length);
  k.subtractInto(logits as Float32Array, m + Math.log(sum), out);
  return out;
}

/**
 * {@link logSoftmax} of several rows (the same values, row by row), natively in one call with the rows split
 * over the addon's threads. `names[r]` labels row r in errors; `into[r]`, when given, receives row r.
 */
export function logSoftmaxRows(rows: readonly Float32Array[], names: readonly string[], into: readonly (Float64Array | undefined)[] = []): Float64Array[] {
  const k = nativeMetricKernels();
  if (!k || rows.length < 2) return rows.map((r, i) => logSoftmax(r, names[i], into[i]));
  rows.forEach((r, i) => {
    if (into[i] && into[i]!.length !== r.length) throw new RangeError(`${names[i]}: output has ${into[i]!.length} entries for ${r.length} logits`);
  });
  const parts = k.logSoftmaxPartsRows(rows as Float32Array[]);
  const c = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    if (parts[3 * i]! >= 0) checkFinite(r, names[i]!);
    const m = parts[3 * i + 1]!;
    if (m === -Infinity) throw new RangeError(`${names[i]}: every logit is −Infinity (no distribution)`);
    c[i] = m + Math.log(parts[3 * i + 2]!); // in TypeScript, as logSoftmax: V8's Math.log, not the C library's
  });
  const outs = rows.map((r, i) => into[i] ?? new Float64Array(r.length));
  k.subtractRowsInto(rows as Float32Array[], c, outs);
  return outs;
}

/** {@link klFromLogProbs} of several pairs (the same values, pair by pair), natively in one call over the addon's threads. */
export function klRows(logP: readonly Float64Array[], logQ: readonly Float64Array[], probP?: readonly Float64Array[]): number[] {
  if (logQ.length !== logP.length || (probP && probP.length !== logP.length)) throw new RangeError(`klRows: ${logP.length} P rows, ${logQ.length} Q rows, ${probP?.length ?? '-'} probability rows`);
  const k = nativeMetricKernels();
  if (!k || logP.length < 2) return logP.map((p, i) => klFromLogProbs(p, logQ[i]!, probP?.[i]));
  logP.forEach((p, i) => {
    if (p.length !== logQ[i]!.length) throw new RangeError(`KL: distributions have different sizes (${p.length} vs ${logQ[i]!.length})`);
    if (probP && probP[i]!.length !== p.length) throw new RangeError(`KL: ${probP[i]!.length} probabilities for ${p.length} log-probabilities`);
  });
  return [...k.klRows(logP as Float64Array[], logQ as Float64Array[], probP ? (probP as Float64Array[]) : null)];
}

/** {@link logSoftmax} in TypeScript only: the reference the native loops are tested against. */
export function logSoftmaxTs(logits: ArrayLike<number>, name = 'logSoftmax', into?: Float64Array): Float64Array {
  checkFinite(logits, name);
  const n = logits.length;
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > m) m = logits[i]!;
  if (m === -Infinity) throw new RangeError(`${name}: every logit is −Infinity (no distribution)`);
  const acc = new KahanSum();
  for (let i = 0; i < n; i++) acc.add(Math.exp(logits[i]! - m));
  const lse = m + Math.log(acc.value);
  const out = into ?? new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lse;
  return out;
}

/**
 * KL(P ‖ Q) = Σ_v P(v)·(log P(v) − log Q(v)) in nats, from log-probabilities (e.g. {@link logSoftmax}).
 * `probP`, when given, must be exp(logP) element by element (e.g. {@link LogProbRows.probs}: the same P against
 * many Q). Returns +Infinity if Q(v) = 0 where P(v) > 0. Tiny negative rounding results are clamped to 0
 * (KL ≥ 0); identical inputs give exactly 0.
 */
export function klFromLogProbs(logP: ArrayLike<number>, logQ: ArrayLike<number>, probP?: ArrayLike<number>): number {
  if (logP.length !== logQ.length) throw new RangeError(`KL: distributions have different sizes (${logP.length} vs ${logQ.length})`);
  if (probP && probP.length !== logP.length) throw new RangeError(`KL: ${probP.length} probabilities for ${logP.length} log-probabilities`);
  const k = logP instanceof Float64Array && logQ instanceof Float64Array && (!probP || probP instanceof Float64Array) ? nativeMetricKernels() : undefined;
  if (k) return k.klFromLogProbs(logP as Float64Array, logQ as Float64Array, (probP as Float64Array | undefined) ?? null);
  return klFromLogProbsTs(logP, logQ, probP);
}

/** {@link klFromLogProbs} in TypeScript only (no size checks): the reference the native loop is tested against. */
export function klFromLogProbsTs(logP: ArrayLike<number>, logQ: ArrayLike<number>, probP?: ArrayLike<number>): number {
  const acc = new KahanSum();
  for (let i = 0; i < logP.length; i++) {
    const lp = logP[i]!;
    if (lp === -Infinity) continue; // P(v) = 0 contributes 0
    const p = probP ? probP[i]! : Math.exp(lp);
    if (p === 0) continue;
    const lq = logQ[i]!;
    if (lq === -Infinity) return Infinity;
    acc.add(p * (lp - lq));
  }
  const kl = acc.value;
  return kl > 0 ? kl : 0;
}

/**
 * Log-probabilities (and probabilities) of the rows of a [N, V] row-major logits array, each computed once
 * with {@link logSoftmax}: one baseline compared with many conditions is normalised once, not once per
 * condition (the same values, so the same results). The logits must not change while this is in use.
 */
export class LogProbRows {
  private readonly lp = new Map<number, Float64Array>();
  private readonly p = new Map<number, Float64Array>();

  private readonly rowOf: (i: number) => Float32Array;
  /** Rows available. */
  readonly rows: number;

  /**
   * @param source - [N, V] row-major logits, or a row accessor over N rows (e.g. an incremental condition's
   *   output, whose rows are never assembled into one array)
   * @param pool - spare [V] rows to fill instead of allocating (writing to fresh memory costs a page fault per
   *   4 KiB; a sweep normalises hundreds of 1.2 MB rows); {@link release} returns this object's rows to it.
   */
  constructor(
    source: Float32Array | { readonly rows: number; row(i: number): Float32Array },
    readonly V: number,
    private readonly label = 'logits',
    private readonly pool?: Float64Array[],
  ) {
    if (source instanceof Float32Array) {
      if (!Number.isInteger(source.length / V)) throw new RangeError(`LogProbRows: logits length ${source.length} is not a multiple of V = ${V}`);
      this.rows = source.length / V;
      this.rowOf = (i) => source.subarray(i * V, (i + 1) * V);
    } else {
      this.rows = source.rows;
      this.rowOf = (i) => source.row(i);
    }
  }

  /** Row i's logits ([V] view). */
  logits(i: number): Float32Array {
    if (!(Number.isInteger(i) && i >= 0 && i < this.rows)) throw new RangeError(`LogProbRows: no row ${i} (have ${this.rows})`);
    const r = this.rowOf(i);
    if (r.length !== this.V) throw new RangeError(`LogProbRows: row ${i} has ${r.length} logits, V = ${this.V}`);
    return r;
  }

  /** Computes the log-probabilities of rows `is` not yet computed, in one batch ({@link logSoftmaxRows}). */
  prepare(is: readonly number[]): void {
    const todo = [...new Set(is)].filter((i) => !this.lp.has(i));
    if (todo.length < 2) return;
    const outs = logSoftmaxRows(todo.map((i) => this.logits(i)), todo.map((i) => `${this.label} at position ${i}`), todo.map(() => this.pool?.pop()));
    todo.forEach((i, j) => this.lp.set(i, outs[j]!));
  }

  /** log softmax of row i (float64, [V]). */
  logProbs(i: number): Float64Array {
    let r = this.lp.get(i);
    if (!r) this.lp.set(i, (r = logSoftmax(this.logits(i), `${this.label} at position ${i}`, this.pool?.pop())));
    return r;
  }

  /** exp of {@link logProbs} row i (float64, [V]). */
  probs(i: number): Float64Array {
    let r = this.p.get(i);
    if (!r) {
      const lp = this.logProbs(i);
      r = this.pool?.pop() ?? new Float64Array(lp.length);
      // log-probabilities are ≤ 0 (x − lse with lse ≥ max x): the native vector exp, bit for bit Math.exp
      const k = nativeMetricKernels();
      if (k) k.expNonPositiveInto(lp, r);
      else for (let j = 0; j < lp.length; j++) r[j] = Math.exp(lp[j]!);
      this.p.set(i, r);
    }
    return r;
  }

  /** Hands every row computed here to the pool (they must no longer be used) and forgets them. */
  release(): void {
    if (this.pool) for (const m of [this.lp, this.p]) for (const r of m.values()) this.pool.push(r);
    this.lp.clear();
    this.p.clear();
  }
}

/** KL(P ‖ Q) in nats where P = softmax(pLogits), Q = softmax(qLogits), over the full vocabulary. */
export function klDivergence(pLogits: ArrayLike<number>, qLogits: ArrayLike<number>): number {
  return klFromLogProbs(logSoftmax(pLogits, 'KL baseline'), logSoftmax(qLogits, 'KL intervened'));
}

/** A token with its logit and probability. */
export interface TokenProb {
  id: number;
  logit: number;
  /** softmax probability (float64). */
  prob: number;
}

/** The k highest-logit tokens, descending (ties: lower id first), with probabilities from `logProbs`. */
export function topK(logits: ArrayLike<number>, k: number, logProbs: ArrayLike<number> = logSoftmax(logits)): TokenProb[] {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-k: k must be a positive integer (got ${k})`);
  const n = logits.length;
  const kk = Math.min(k, n);
  // partial selection: keep a sorted buffer of the best kk indices. Ids arrive in increasing order, so a new id
  // never wins a tie against one already kept (ties: lower id first) and "better" is a strict >; once the
  // buffer is full, anything not above its last logit (NaN included) is skipped with one comparison.
  const best: number[] = [];
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[i]!;
    if (best.length === kk && !(v > last)) continue;
    let pos = best.length === kk ? kk - 1 : best.length;
    if (best.length < kk) best.push(i);
    while (pos > 0 && v > logits[best[pos - 1]!]!) {
      best[pos] = best[pos - 1]!;
      pos--;
    }
    best[pos] = i;
    if (best.length === kk) last = logits[best[kk - 1]!]!;
  }
  return best.map((id) => ({ id, logit: logits[id]!, prob: Math.exp(logProbs[id]!) }));
}

/** Jaccard index |A ∩ B| / |A ∪ B| of two id sets (1 when both are empty). */
export function jaccard(a: readonly number[], b: readonly number[]): number {
  const A = new Set(a);
  const B = new Set(b);
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  const uni = A.size + B.size - inter;
  return uni === 0 ? 1 : inter / uni;
}

/** How an intervention changed one next-token distribution. */
export interface DistributionComparison {
  /** KL(P_baseline ‖ P_intervened), nats, full vocabulary. */
  kl: number;
  /** Argmax token of the baseline / intervened distribution. */
  top1Baseline: number;
  top1Intervened: number;
  top1Changed: boolean;
  /** k of the top-k overlap. */
  k: number;
  /** Jaccard overlap of the two top-k id sets, in [0, 1]. */
  topkJaccard: number;
  /** P(baseline top-1) under baseline / intervened, and intervened − baseline. */
  probTop1Baseline: number;
  probTop1Intervened: number;
  dProbTop1: number;
  /** Logit of the baseline top-1 token under baseline / intervened, and intervened − baseline. */
  logitTop1Baseline: number;
  logitTop1Intervened: number;
  dLogitTop1: number;
  topkBaseline: TokenProb[];
  topkIntervened: TokenProb[];
}

/**
 * Compares baseline and intervened logits (one row each, full vocabulary).
 * @param k - top-k size for the overlap and the reported top-k lists (default 10)
 * @param pre - log-probabilities already computed for these rows (and the baseline's probabilities), e.g. by
 *   {@link LogProbRows}; they must be logSoftmax of the same rows
 */
export function compareDistributions(
  base: ArrayLike<number>,
  edited: ArrayLike<number>,
  k = 10,
  pre: { base?: { lp: Float64Array; p?: Float64Array }; edited?: Float64Array } = {},
): DistributionComparison {
  if (base.length !== edited.length) throw new RangeError(`compareDistributions: vocab sizes differ (${base.length} vs ${edited.length})`);
  const lpB = pre.base?.lp ?? logSoftmax(base, 'baseline logits');
  const lpI = pre.edited ?? logSoftmax(edited, 'intervened logits');
  const tb = topK(base, k, lpB);
  const ti = topK(edited, k, lpI);
  const top = tb[0]!.id;
  const probTop1Baseline = Math.exp(lpB[top]!);
  const probTop1Intervened = Math.exp(lpI[top]!);
  return {
    kl: klFromLogProbs(lpB, lpI, pre.base?.p),
    top1Baseline: top,
    top1Intervened: ti[0]!.id,
    top1Changed: top !== ti[0]!.id,
    k: Math.min(k, base.length),
    topkJaccard: jaccard(tb.map((t) => t.id), ti.map((t) => t.id)),
    probTop1Baseline,
    probTop1Intervened,
    dProbTop1: probTop1Intervened - probTop1Baseline,
    logitTop1Baseline: base[top]!,
    logitTop1Intervened: edited[top]!,
    dLogitTop1: edited[top]! - base[top]!,
    topkBaseline: tb,
    topkIntervened: ti,
  };
}
