/**
 * Alignment of token surfaces to the original input, producing code point offsets.
 *
 * Every tokenizer here can say which UTF-8 bytes a token stands for (its "surface": byte-level pieces map
 * through the GPT-2 table, SentencePiece pieces map `▁` to a space and `<0xNN>` to a byte, added tokens are their
 * content). The concatenated surfaces equal the UTF-8 bytes of the input up to a few local edits made by the
 * normaliser / pre-tokeniser: an inserted dummy-prefix space, stripped whitespace, or Unicode normalisation.
 * {@link alignSurfaces} walks both byte strings, matching equal bytes and resynchronising after an edit with a
 * bounded search, so offsets stay exact wherever the text is reproduced verbatim.
 *
 * @module
 */
import { byteToCodePointMap } from './bytes.ts';

/** How far (in bytes, on each side) the resynchronisation search looks after a mismatch. */
const MAX_SKIP = 48;
/** Bytes that must agree after a resynchronisation point for it to be accepted. */
const CONFIRM = 4;
/** After this many failed resynchronisations the rest is mapped proportionally (surfaces unrelated to text). */
const MAX_FAILED_SEARCHES = 256;

/** Work counters of {@link alignSurfaces}; both start at 0. */
export interface AlignStats {
  /** Calls of the resynchronisation check (each compares at most CONFIRM bytes). */
  probes: number;
  /** Resynchronisation searches that found nothing (after MAX_FAILED_SEARCHES the rest is spread evenly). */
  failedSearches: number;
}

/** Upper bound of {@link AlignStats.probes} per search, and the failed-search limit. */
export const ALIGN_LIMITS = { probesPerSearch: (2 * MAX_SKIP + 1) * (2 * MAX_SKIP + 2) / 2, maxFailedSearches: MAX_FAILED_SEARCHES } as const;

/**
 * Map each token surface to a `[start, end)` code point span of `text`.
 *
 * Rules: a token's span is the smallest code point range covering every input byte its surface bytes were
 * aligned to (so a token that holds part of a multi-byte character gets that whole character); bytes the
 * tokenizer inserted (e.g. the SentencePiece dummy-prefix space) map to nothing; a token made only of inserted
 * bytes gets the empty span at its position.
 *
 * @param text - the original input string
 * @param surfaces - per token, the bytes it represents, in order
 * @param stats - when given, receives the work done (resynchronisation probes and failed searches), so
 *   tests can bound the work by counts instead of by time
 */
export function alignSurfaces(text: string, surfaces: ArrayLike<number>[], stats?: AlignStats): Array<[number, number]> {
  const { bytes: t, byteToCp, cpCount } = byteToCodePointMap(text);
  let total = 0;
  for (const s of surfaces) total += s.length;
  const s = new Uint8Array(total);
  {
    let k = 0;
    for (const sf of surfaces) for (let i = 0; i < sf.length; i++) s[k++] = sf[i]!;
  }
  // For each surface byte, the [lo, hi) range of text bytes it stands for (lo === hi: inserted byte).
  const lo = new Int32Array(total);
  const hi = new Int32Array(total);
  let i = 0;
  let j = 0;
  const n = s.length;
  const m = t.length;
  const agree = (a: number, b: number): boolean => {
    if (stats) stats.probes++;
    const len = Math.min(CONFIRM, n - a, m - b);
    if (n - a > 0 && m - b <= 0) return false;
    for (let k = 0; k < len; k++) if (s[a + k] !== t[b + k]) return false;
    // Both must end together if the confirmation window reaches an end.
    if (len < CONFIRM && n - a !== m - b) return false;
    return true;
  };
  let failed = 0;
  while (i < n) {
    if (failed > MAX_FAILED_SEARCHES) {
      // Pathological input (a tokenizer whose pieces do not spell the text): spread the rest evenly.
      const ri = i;
      const rj = j;
      for (let k = ri; k < n; k++) {
        const a0 = rj + Math.floor(((k - ri) * (m - rj)) / (n - ri));
        const a1 = rj + Math.floor(((k - ri + 1) * (m - rj)) / (n - ri));
        lo[k] = Math.min(a0, m);
        hi[k] = Math.min(Math.max(a1, a0), m);
      }
      break;
    }
    if (j < m && s[i] === t[j]) {
      lo[i] = j;
      hi[i] = j + 1;
      i++;
      j++;
      continue;
    }
    // Mismatch: find the cheapest (skipS, skipT) after which both sides agree again.
    let found: [number, number] | null = null;
    for (let cost = 1; cost <= 2 * MAX_SKIP && found === null; cost++) {
      for (let a = 0; a <= cost; a++) {
        const b = cost - a;
        if (a > MAX_SKIP || b > MAX_SKIP || i + a > n || j + b > m) continue;
        if (i + a === n) {
          // Rest of the surface is consumed by the skip: accept only if it also ends the text.
          if (j + b === m) {
            found = [a, b];
            break;
          }
          continue;
        }
        if (agree(i + a, j + b)) {
          found = [a, b];
          break;
        }
      }
    }
    if (found === null) {
      failed++;
      if (stats) stats.failedSearches++;
    }
    const [a, b] = found ?? [1, j < m ? 1 : 0];
    if (b === 0 && a > 0) {
      // Pure insertion of s[i..i+a). Inserted text (a dummy-prefix space) belongs at the START of a run of
      // equal bytes, so slide the inserted block left over matched bytes equal to its last byte.
      let k = i;
      while (k > 0 && hi[k - 1]! - lo[k - 1]! === 1 && t[lo[k - 1]!] === s[k - 1] && s[k - 1] === s[k + a - 1]) {
        lo[k + a - 1] = lo[k - 1]!;
        hi[k + a - 1] = hi[k - 1]!;
        k--;
      }
      const at = k + a < i + a ? lo[k + a]! : j;
      for (let q = k; q < k + a; q++) {
        lo[q] = at;
        hi[q] = at;
      }
    } else {
      // Surface bytes i..i+a stand for text bytes j..j+b (a substitution); text bytes skipped with a = 0 are
      // deleted (belong to no token).
      for (let k = 0; k < a; k++) {
        lo[i + k] = j;
        hi[i + k] = j + b;
      }
    }
    i += a;
    j += b;
  }

  const cpStart = (byte: number): number => (byte >= m ? cpCount : byteToCp[byte]!);
  const out: Array<[number, number]> = new Array(surfaces.length);
  let pos = 0;
  let lastCp = 0;
  for (let ti = 0; ti < surfaces.length; ti++) {
    const len = surfaces[ti]!.length;
    let bLo = Infinity;
    let bHi = -Infinity;
    for (let k = pos; k < pos + len; k++) {
      if (hi[k]! > lo[k]!) {
        if (lo[k]! < bLo) bLo = lo[k]!;
        if (hi[k]! > bHi) bHi = hi[k]!;
      }
    }
    if (bHi > bLo) {
      const start = cpStart(bLo);
      const end = byteToCp[bHi - 1]! + 1;
      out[ti] = [start, end];
      lastCp = end;
    } else {
      // Only inserted bytes (or an empty surface): empty span where the token sits.
      const at = len > 0 ? Math.max(cpStart(lo[pos]!), 0) : lastCp;
      const c = Math.min(Math.max(at, lastCp), cpCount);
      out[ti] = [c, c];
    }
    pos += len;
  }
  return out;
}
