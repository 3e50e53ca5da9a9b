/**
 * Teacher-forced continuation metrics: how an intervention changes the model's loss on a known continuation,
 * measured at EVERY position from the intervention point onward, not only at the last one.
 *
 * Setup: a token sequence `tokens` = prompt (positions 0..P) followed by a continuation c₁..c_n at
 * positions P+1..P+n. Position i predicts token i+1, so the continuation is scored at query positions
 * i = P, P+1, …, P+n−1 (P = the last prompt position, e.g. the marker token). With one forward pass over
 * the whole sequence (causal, so position i only sees tokens ≤ i):
 *   NLL_i = −log softmax(logits_i)[tokens[i+1]]               (nats)
 *   mean NLL = (1/n) Σ_i NLL_i,   perplexity = exp(mean NLL)
 *   Δppl = ppl_intervened − ppl_baseline,   ΔNLL_i = NLL_i(intervened) − NLL_i(baseline)
 * and KL_i = KL(P_baseline,i ‖ P_intervened,i) at each of those positions.
 *
 * @module
 */
import { klRows, logSoftmax, LogProbRows } from './distribution.ts';

/** Per-position NLL (nats) of `tokens[i+1]` at positions i = from..to−1, from [N, V] row-major logits. */
export function continuationNll(logits: Float32Array, V: number, tokens: readonly number[], from: number, to: number): Float64Array {
  const N = logits.length / V;
  if (!Number.isInteger(N)) throw new RangeError(`continuationNll: logits length ${logits.length} is not a multiple of V = ${V}`);
  if (!(from >= 0 && to <= N && to <= tokens.length - 1 && from <= to)) {
    throw new RangeError(`continuationNll: positions ${from}..${to - 1} need logits rows and a next token (have ${N} rows, ${tokens.length} tokens)`);
  }
  const out = new Float64Array(to - from);
  for (let i = from; i < to; i++) {
    const lp = logSoftmax(logits.subarray(i * V, (i + 1) * V), `logits at position ${i}`);
    out[i - from] = -lp[tokens[i + 1]!]!;
  }
  return out;
}

/** Result of {@link compareContinuation}. All losses in nats. */
export interface ContinuationComparison {
  /** Query positions i scored (i predicts tokens[i+1]). */
  positions: number[];
  /** The teacher-forced tokens tokens[i+1]. */
  tokens: number[];
  nllBaseline: number[];
  nllIntervened: number[];
  /** nllIntervened − nllBaseline per position. */
  dNll: number[];
  meanNllBaseline: number;
  meanNllIntervened: number;
  /** meanNllIntervened − meanNllBaseline = log(pplIntervened / pplBaseline). */
  dMeanNll: number;
  pplBaseline: number;
  pplIntervened: number;
  /** pplIntervened − pplBaseline. */
  dPpl: number;
  /** KL(P_baseline ‖ P_intervened) at each scored position. */
  kl: number[];
  klMean: number;
}

/**
 * Compares baseline and intervened losses on the continuation tokens[from+1..to] (scored at positions
 * from..to−1). `baseLogits` / `editLogits` are [N, V] row-major rows for positions 0..N−1, or
 * {@link LogProbRows} over them (a baseline compared with many conditions is then normalised once).
 */
export function compareContinuation(
  baseLogits: Float32Array | LogProbRows,
  editLogits: Float32Array | LogProbRows,
  V: number,
  tokens: readonly number[],
  from: number,
  to: number,
): ContinuationComparison {
  if (to <= from) throw new RangeError(`compareContinuation: empty continuation (positions ${from}..${to - 1})`);
  const rowsOf = (x: Float32Array | LogProbRows, label: string) => (x instanceof LogProbRows ? x : new LogProbRows(x, V, label));
  const base = rowsOf(baseLogits, 'baseline logits'), edit = rowsOf(editLogits, 'intervened logits');
  if (base.V !== V || edit.V !== V) throw new RangeError(`compareContinuation: rows of ${base.V} / ${edit.V} logits, V = ${V}`);
  const positions: number[] = [];
  const nb: number[] = [];
  const ni: number[] = [];
  for (let i = from; i < to; i++) if (tokens[i + 1] === undefined) throw new RangeError(`compareContinuation: no token after position ${i}`);
  const range = Array.from({ length: to - from }, (_, j) => from + j);
  base.prepare(range);
  edit.prepare(range);
  const lbs: Float64Array[] = [], lis: Float64Array[] = [], pbs: Float64Array[] = [];
  for (const i of range) {
    const lb = base.logProbs(i);
    const li = edit.logProbs(i);
    const t = tokens[i + 1]!;
    positions.push(i);
    nb.push(-lb[t]!);
    ni.push(-li[t]!);
    lbs.push(lb), lis.push(li), pbs.push(base.probs(i));
  }
  const kl = klRows(lbs, lis, pbs);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const mb = mean(nb);
  const mi = mean(ni);
  return {
    positions,
    tokens: positions.map((i) => tokens[i + 1]!),
    nllBaseline: nb,
    nllIntervened: ni,
    dNll: ni.map((x, j) => x - nb[j]!),
    meanNllBaseline: mb,
    meanNllIntervened: mi,
    dMeanNll: mi - mb,
    pplBaseline: Math.exp(mb),
    pplIntervened: Math.exp(mi),
    dPpl: Math.exp(mi) - Math.exp(mb),
    kl,
    klMean: mean(kl),
  };
}
