/**
 * Post-softmax attention edits as pure functions of ONE attention row (one head, one query): the
 * arithmetic behind the `set`, `set-control` and `amplify` (basis `mass`) hooks, exported so that their
 * contracts can be checked on hand-computed rows.
 *
 * A row is given as its weights `w` (length S, the post-softmax pattern over the key columns) and the
 * state of each key column (`state`, see {@link KEY_MASKED}): masked keys (future, outside the sliding
 * window) and knocked-out keys never receive mass, and are 0 in every returned row. Column index lists
 * (`sel`, `hold`, `match`) name key COLUMNS of the row, not absolute positions. Masses are attention mass
 * (fractions of the row, unitless). Each function returns a new Float64Array row, or `null` when the row
 * is left as it is.
 *
 * @module
 */

/** Key state: hidden by the causal / sliding-window mask (the engine's pre-softmax score is −∞). */
export const KEY_MASKED = 0;
/** Key state: visible and not knocked out. */
export const KEY_VISIBLE = 1;
/** Key state: visible to the mask but knocked out by an edit (score −∞ after the edit hooks). */
export const KEY_KNOCKED_OUT = 2;

/** Tolerance on masses for feasibility (float32 rows). */
export const MASS_EPS = 1e-6;

/** What to do when a requested mass cannot be reached: throw, or move as much as is possible. */
export type OnInfeasible = 'error' | 'cap';

/** Thrown (with `onInfeasible: 'error'`) when a row cannot reach the requested mass, and for rows whose selected keys were all knocked out. */
export class InfeasibleEditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfeasibleEditError';
  }
}

interface Split {
  /** Eligible (visible, not knocked out) columns of `sel`. */
  elig: number[];
  /** Whether any column of `sel` is visible to the mask (eligible or knocked out). */
  visible: boolean;
}

function split(sel: readonly number[], state: ArrayLike<number>): Split {
  const elig: number[] = [];
  let visible = false;
  for (const j of sel) {
    if (state[j] === KEY_MASKED) continue;
    visible = true;
    if (state[j] === KEY_VISIBLE) elig.push(j);
  }
  return { elig, visible };
}

function fmt(x: number): string {
  return Number(x.toPrecision(6)).toString();
}

/**
 * Eligible columns of `sel`, or null when none of them is visible to the mask (nothing to edit in this
 * row). Throws when some are visible but every one was knocked out: a knocked-out edge is never given mass.
 */
function eligibleOrNull(sel: readonly number[], state: ArrayLike<number>, what: string, where: string): number[] | null {
  const s = split(sel, state);
  if (!s.visible) return null;
  if (s.elig.length === 0) throw new InfeasibleEditError(`${where}: every ${what} key visible from this query was knocked out; a knocked-out (or masked) key never receives mass, so there is nothing to edit. Remove the knockout of these keys or the edit`);
  return s.elig;
}

function marks(S: number, ...lists: (readonly number[])[]): Uint8Array {
  const m = new Uint8Array(S);
  lists.forEach((l, i) => {
    for (const j of l) m[j] = i + 1;
  });
  return m;
}

/**
 * set(ℓ) with held keys. Selected eligible keys get total mass ℓ (in proportion to their weights, equally
 * if those are all 0); eligible `hold` keys keep their weights (mass H); the other eligible keys share
 * 1 − ℓ − H in proportion to their weights (if they carry no mass they stay 0 and the row sums to ℓ + H).
 * Selected keys that are knocked out stay 0 and the level is shared by the remaining selected keys.
 *
 * Infeasible when ℓ + H > 1: `'error'` throws {@link InfeasibleEditError}; `'cap'` gives the selection
 * 1 − H (the other keys 0).
 *
 * @returns the new row, or null when no selected key is visible from this query
 * @throws InfeasibleEditError when every visible selected key was knocked out, or (with 'error') ℓ + H > 1
 */
export function setRow(w: ArrayLike<number>, state: ArrayLike<number>, sel: readonly number[], hold: readonly number[], level: number, onInfeasible: OnInfeasible = 'error', where = 'set'): Float64Array | null {
  const S = w.length;
  const elig = eligibleOrNull(sel, state, 'selected', where);
  if (!elig) return null;
  const m = marks(S, elig, hold);
  let selMass = 0;
  let holdMass = 0;
  let rest = 0;
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) continue;
    if (m[j] === 1) selMass += w[j]!;
    else if (m[j] === 2) holdMass += w[j]!;
    else rest += w[j]!;
  }
  let target = level;
  if (level + holdMass > 1 + MASS_EPS) {
    if (onInfeasible === 'error')
      throw new InfeasibleEditError(`${where}: level ${fmt(level)} plus the held keys' mass ${fmt(holdMass)} exceeds 1; the row cannot reach it (onInfeasible: 'cap' gives the selection 1 − held mass = ${fmt(1 - holdMass)})`);
    target = Math.max(0, 1 - holdMass);
  }
  const restTarget = Math.max(0, 1 - target - holdMass);
  const out = new Float64Array(S);
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) continue;
    if (m[j] === 1) out[j] = selMass > 0 ? (w[j]! * target) / selMass : target / elig.length;
    else if (m[j] === 2) out[j] = w[j]!;
    else out[j] = rest > 0 ? (w[j]! * restTarget) / rest : 0;
  }
  return out;
}

/**
 * The mass-holding control of set(ℓ) on the `match` keys F: the mass Δ = ℓ − m_F that set(ℓ) would move
 * onto F is moved onto the targets C instead. C's mass becomes m_C + Δ (in proportion to C's weights,
 * equally if they are all 0), F keeps its weights exactly, and only the other eligible keys O pay
 * (× (m_O − Δ) / m_O; if m_O = 0 they stay 0). Δ may be negative (ℓ below F's natural mass: mass moves
 * from C to O). Paired with {@link setRow}(F, hold C), the two rows differ only in where Δ goes: O is
 * identical in both.
 *
 * Infeasible when Δ > m_O (the other keys cannot pay) or m_C + Δ < 0 (C cannot give): `'error'` throws,
 * `'cap'` clips Δ to [−m_C, m_O].
 *
 * @returns the new row, or null when no target or no match key is visible from this query (set(ℓ) on F
 *   would not edit the row either)
 * @throws InfeasibleEditError when every visible target (or match) key was knocked out, or (with 'error') Δ is out of reach
 */
export function setControlRow(
  w: ArrayLike<number>,
  state: ArrayLike<number>,
  targets: readonly number[],
  match: readonly number[],
  level: number,
  onInfeasible: OnInfeasible = 'error',
  where = 'set-control',
): Float64Array | null {
  const S = w.length;
  if (!split(targets, state).visible || !split(match, state).visible) return null;
  const eC = eligibleOrNull(targets, state, 'target', where)!;
  const eF = eligibleOrNull(match, state, 'match', where)!;
  const m = marks(S, eC, eF);
  let mC = 0;
  let mF = 0;
  let mO = 0;
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) continue;
    if (m[j] === 1) mC += w[j]!;
    else if (m[j] === 2) mF += w[j]!;
    else mO += w[j]!;
  }
  let delta = level - mF;
  if (delta > mO + MASS_EPS || mC + delta < -MASS_EPS) {
    if (onInfeasible === 'error') {
      const why = delta > mO ? `the other keys carry only ${fmt(mO)}` : `the control keys carry only ${fmt(mC)}`;
      throw new InfeasibleEditError(`${where}: level ${fmt(level)} moves Δ = ${fmt(delta)} (level − the match keys' mass ${fmt(mF)}), but ${why}; the control cannot move it (onInfeasible: 'cap' moves as much as possible)`);
    }
  }
  delta = Math.min(Math.max(delta, -mC), mO);
  const newC = mC + delta;
  const out = new Float64Array(S);
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) continue;
    if (m[j] === 1) out[j] = mC > 0 ? (w[j]! * newC) / mC : newC / eC.length;
    else if (m[j] === 2) out[j] = w[j]!;
    else out[j] = mO > 0 ? (w[j]! * (mO - delta)) / mO : 0;
  }
  return out;
}

/**
 * amplify(f) on the MASS basis: the selection's post-softmax mass m becomes min(f·m, 1) (in proportion
 * to the selected weights); the other eligible keys share 1 − min(f·m, 1) in proportion to theirs (if
 * they carry no mass they stay 0). At the cap (f·m ≥ 1) the selection takes the whole row and every other
 * key is 0. (The LOGIT basis is a pre-softmax hook: + ln f on each selected score.)
 *
 * @returns the new row, or null when the selection has no eligible key or no mass
 */
export function amplifyMassRow(w: ArrayLike<number>, state: ArrayLike<number>, sel: readonly number[], factor: number): Float64Array | null {
  const S = w.length;
  const { elig } = split(sel, state);
  if (!elig.length) return null;
  const m = marks(S, elig);
  let selMass = 0;
  let rest = 0;
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) continue;
    if (m[j] === 1) selMass += w[j]!;
    else rest += w[j]!;
  }
  if (!(selMass > 0)) return null;
  const target = Math.min(factor * selMass, 1);
  const restTarget = Math.max(0, 1 - target);
  const out = new Float64Array(S);
  for (let j = 0; j < S; j++) {
    if (state[j] !== KEY_VISIBLE) continue;
    out[j] = m[j] === 1 ? (w[j]! * target) / selMass : rest > 0 ? (w[j]! * restTarget) / rest : 0;
  }
  return out;
}
