/**
 * Calibration of phase 4: the natural attention mass from a test's rows to the function tokens, per
 * (layer, head), in each language — the roadmap's "Python ~9 % vs Rust ~2.5 %".
 *
 * For one prompt: generate the baseline test (greedy, the experiments' stop rule), run prompt + test
 * teacher-forced with the attention patterns captured, and average over the test's rows (the marker's first
 * token through the last generated token — the rows that steering edits) the mass Σ_k∈targets pattern[q, k].
 * A language's level is the mean over its prompts. Units: attention mass in [0, 1].
 *
 * @module
 */
import { z } from 'zod';
import type { HookedModel } from '../../model/model.ts';
import { promptTokens, type LocatedPrompt, type TargetSet } from '../../corpus/test-prompts.ts';
import { layerHook } from '../../hooks/names.ts';
import { generateTest, type CompletionScorer } from '../shared/generated-test.ts';

const mass = z.number().min(0).max(1 + 1e-6);
const grid = z.array(z.array(mass));

export const calibrationSchema = z.strictObject({
  kind: z.literal('plip-calibration'),
  model: z.string(),
  targets: z.enum(['signature', 'signature+name']),
  /** [layer][head] mean mass over prompts. */
  python: grid,
  rust: grid,
  n: z.strictObject({ python: z.int().min(1), rust: z.int().min(1) }),
  /** Mean over heads and layers, as the roadmap states its levels. */
  pythonMean: mass,
  rustMean: mass,
});
export type Calibration = z.infer<typeof calibrationSchema>;

/** [layer][head] mean mass from the test rows to the function tokens of one prompt. */
export function promptMass(model: HookedModel, lp: LocatedPrompt, scorer: CompletionScorer, maxNewTokens: number, targets: TargetSet): number[][] {
  const pos = promptTokens(model.tokenizer!, lp, targets);
  const base = generateTest(model, lp, pos, [], maxNewTokens, scorer);
  const ids = [...pos.ids, ...base.ids];
  const { cache } = model.runWithCache(ids, { names: ['attn.hook_pattern'] });
  const out: number[][] = [];
  for (let l = 0; l < model.spec.nLayers; l++) {
    const p = cache.get(layerHook(l, 'attn.hook_pattern')); // [1, H, T, T]
    const [, H, T, S] = p.shape as [number, number, number, number];
    const row: number[] = [];
    for (let h = 0; h < H; h++) {
      let acc = 0;
      let rows = 0;
      for (let q = pos.marker.first; q < T; q++) {
        let m = 0;
        for (const k of pos.targets) m += p.data[((h * T + q) * S) + k]!;
        acc += m;
        rows++;
      }
      row.push(rows ? acc / rows : 0);
    }
    out.push(row);
  }
  return out;
}

function meanGrid(gs: number[][][]): number[][] {
  return gs[0]!.map((row, l) => row.map((_, h) => gs.reduce((a, g) => a + g[l]![h]!, 0) / gs.length));
}
const gridMean = (g: number[][]) => g.flat().reduce((a, b) => a + b, 0) / g.flat().length;

/** Calibrates on located prompts of both languages (at most `n` per language). */
export function calibrate(model: HookedModel, prompts: readonly LocatedPrompt[], o: { n: number; maxNewTokens: number; targets: TargetSet; scorer: CompletionScorer; modelId: string }): Calibration {
  const by = (lang: 'python' | 'rust') => prompts.filter((p) => p.prompt.language === lang).slice(0, o.n);
  const py = by('python').map((p) => promptMass(model, p, o.scorer, o.maxNewTokens, o.targets));
  const rs = by('rust').map((p) => promptMass(model, p, o.scorer, o.maxNewTokens, o.targets));
  if (py.length === 0 || rs.length === 0) throw new Error(`calibration needs prompts of both languages (got ${py.length} Python, ${rs.length} Rust)`);
  const python = meanGrid(py);
  const rust = meanGrid(rs);
  return { kind: 'plip-calibration', model: o.modelId, targets: o.targets, python, rust, n: { python: py.length, rust: rs.length }, pythonMean: gridMean(python), rustMean: gridMean(rust) };
}

/** The calibration as the roadmap states it, per layer: "L3: Python 9.1% vs Rust 2.4% (×3.8)". */
export function renderCalibration(c: Calibration): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [`test rows → function tokens, mean attention mass (n = ${c.n.python} Python, ${c.n.rust} Rust prompts): Python ${pct(c.pythonMean)} vs Rust ${pct(c.rustMean)} (×${(c.pythonMean / Math.max(c.rustMean, 1e-12)).toFixed(2)})`];
  c.python.forEach((row, l) => {
    const pm = row.reduce((a, b) => a + b, 0) / row.length;
    const rm = c.rust[l]!.reduce((a, b) => a + b, 0) / row.length;
    lines.push(`  L${l}: Python ${pct(pm)} vs Rust ${pct(rm)}; per head Python [${row.map(pct).join(', ')}] Rust [${c.rust[l]!.map(pct).join(', ')}]`);
  });
  return lines.join('\n');
}
