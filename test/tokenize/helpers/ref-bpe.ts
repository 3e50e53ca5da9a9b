/**
 * A deliberately naive, independent byte-level BPE reference (GPT-2's `encoder.py` algorithm) used by the tests
 * to cross-check the library-backed tokenizers. It shares no code with src/tokenize or @huggingface/tokenizers:
 * its own byte↔unicode table, its own pre-tokenisation regexes (written with \p{White_Space} for Rust's \s), and
 * the textbook "merge every occurrence of the lowest-ranked pair, repeat" loop.
 */
import { readFileSync } from 'node:fs';

const table: string[] = (() => {
  const keep = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const t: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) t[b] = keep(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return t;
})();

const WS = '\\p{White_Space}';
const NWS = '\\P{White_Space}';
/** GPT-2 regex with Unicode White_Space for \s. */
export const GPT2_RE = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${WS}+(?!${NWS})|${WS}+`,
  'gu',
);
/** Qwen2 regex ((?i:...) spelled out, \s as White_Space). */
export const QWEN2_RE = new RegExp(
  `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\p{White_Space}\\p{L}\\p{N}]+[\\r\\n]*|${WS}*[\\r\\n]+|${WS}+(?!${NWS})|${WS}+`,
  'gu',
);

/** Split keeping both the matches of `re` and the text between them (HF "Isolated"). */
export function isolate(pieces: string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const p of pieces) {
    let last = 0;
    for (const m of p.matchAll(re)) {
      if (m.index! > last) out.push(p.slice(last, m.index));
      if (m[0].length > 0) out.push(m[0]);
      last = m.index! + m[0].length;
    }
    if (last < p.length) out.push(p.slice(last));
  }
  return out;
}

/** Pre-tokenisers of the tested families. */
export const PRE = {
  gpt2: (s: string): string[] => isolate([s], GPT2_RE),
  /** StarCoder / SmolLM: individual Unicode digits, then GPT-2 regex. */
  digitsGpt2: (s: string): string[] => isolate(isolate([s], /\p{N}/gu), GPT2_RE),
  /** Qwen2: NFC, then the Qwen2 regex. */
  qwen2: (s: string): string[] => isolate([s.normalize('NFC')], QWEN2_RE),
};

/** Naive BPE over a tokenizer.json-like vocab/merges. */
export class RefBpe {
  private readonly ranks = new Map<string, number>();
  constructor(
    readonly vocab: Map<string, number>,
    merges: string[],
    private readonly pre: (s: string) => string[],
  ) {
    merges.forEach((m, i) => {
      if (!this.ranks.has(m)) this.ranks.set(m, i);
    });
  }

  /** Load from a tokenizer.json path (model.vocab / model.merges, either merge format). */
  static fromTokenizerJson(path: string, pre: (s: string) => string[]): RefBpe {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { model: { vocab: Record<string, number>; merges: Array<string | [string, string]> } };
    const merges = j.model.merges.map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));
    return new RefBpe(new Map(Object.entries(j.model.vocab)), merges, pre);
  }

  private bpe(word: string[]): string[] {
    let w = word;
    for (;;) {
      let best = Infinity;
      let pair: [string, string] | null = null;
      for (let i = 0; i + 1 < w.length; i++) {
        const r = this.ranks.get(`${w[i]} ${w[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          pair = [w[i]!, w[i + 1]!];
        }
      }
      if (!pair) return w;
      const next: string[] = [];
      for (let i = 0; i < w.length; ) {
        if (i + 1 < w.length && w[i] === pair[0] && w[i + 1] === pair[1]) {
          next.push(pair[0] + pair[1]);
          i += 2;
        } else next.push(w[i++]!);
      }
      w = next;
    }
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.pre(text)) {
      const chars = Array.from(new TextEncoder().encode(piece), (b) => table[b]!);
      for (const t of this.bpe(chars)) {
        const id = this.vocab.get(t);
        if (id === undefined) throw new Error(`reference BPE: token ${JSON.stringify(t)} not in vocab`);
        ids.push(id);
      }
    }
    return ids;
  }
}
