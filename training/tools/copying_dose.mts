/**
 * Dose-response of the copying rate under steering (plip copying --level ℓ at layer 3): for each level,
 * greedy completions with the test region's attention mass on the name tokens SET to ℓ (every decoding
 * step), vs the same ℓ on matched random keys — in all six layer-3 heads, and in the three heads that
 * `plip patch` identifies as the name movers (3, 4, 5); and with the weights SCALED by f (rows renormalised,
 * the model's own profile across rows kept) in heads 3–5. Run from the repo root:
 *   node --import tsx training/tools/copying_dose.mts > training/logs/plip_copying_dose.md
 * Writes training/logs/plip_copying_dose.json (per level: the copying statistics).
 */
import { writeFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { loadCopyingPrompts } from '../../src/corpus/prompts.ts';
import { runCopying } from '../../src/experiments/copying/experiment.ts';

const LEVELS = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1];
const GROUPS = ['python_doctest', 'rust_test_mod'];
const m = await loadModel('models/plip-tiny-code');
const prompts = loadCopyingPrompts('training/eval/eval_prompts.json').filter((p) => GROUPS.includes(p.group));
const FACTORS = [0, 0.1, 0.25, 0.5, 1, 2, 4, 10];
const HEADSETS: { label: string; heads?: number[]; scale?: boolean }[] = [{ label: 'all heads' }, { label: 'heads 3,4,5', heads: [3, 4, 5] }, { label: 'heads 3,4,5, scaled', heads: [3, 4, 5], scale: true }];
const rows: { heads: string; level: number; group: string; rateBaseline: number; rateSteer: number; rateControl: number; logpSteer: number | null; logpControl: number | null; pHolmControl: number }[] = [];
for (const hs of HEADSETS) for (const level of hs.scale ? FACTORS : LEVELS) {
  const edit = hs.scale ? { factor: level } : { level };
  const r = runCopying(m, prompts, { units: [[3]], controls: 3, maxTokens: 16, targets: 'all', seed: 1, limit: 50, heads: hs.heads, ...edit });
  for (const s of r.stats) rows.push({ heads: hs.label, level, group: s.group, rateBaseline: s.rateBaseline, rateSteer: s.rateKnockout, rateControl: s.rateControl, logpSteer: s.logprobKnockout, logpControl: s.logprobControl, pHolmControl: s.pHolmControl });
}
writeFileSync('training/logs/plip_copying_dose.json', JSON.stringify({ command: 'node --import tsx training/tools/copying_dose.mts', layer: 3, limit: 50, controls: 3, seed: 1, targets: 'all', rows }, null, 1) + '\n');
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const f = (x: number | null) => (x === null ? '—' : x.toFixed(2));
for (const hs of HEADSETS) {
  console.log(`\nLayer 3, ${hs.label}:\n`);
  console.log(`| ${hs.scale ? 'factor f' : 'level ℓ'} | ` + GROUPS.map((g) => `${g}: copying steer / control (log p NAME( steer / control)`).join(' | ') + ' |');
  console.log('|---|' + GROUPS.map(() => '---').join('|') + '|');
  for (const level of hs.scale ? FACTORS : LEVELS) {
    const cells = GROUPS.map((g) => {
      const r = rows.find((x) => x.heads === hs.label && x.level === level && x.group === g)!;
      return `${pct(r.rateSteer)} / ${pct(r.rateControl)} (${f(r.logpSteer)} / ${f(r.logpControl)})`;
    });
    console.log(`| ${level} | ${cells.join(' | ')} |`);
  }
}
console.log(`\nbaseline (no edit): ${GROUPS.map((g) => `${g} ${pct(rows.find((x) => x.group === g)!.rateBaseline)}`).join(', ')}; 50 held-out prompts per group, layer 3, every test-region query row (prompt and generated tokens).`);
