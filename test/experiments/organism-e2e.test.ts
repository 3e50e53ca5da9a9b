/**
 * End to end on the bundled model organism (models/plip-tiny-code, issue 5): the README's main command
 * (the bundled study: planned here, run in test/study/run.test.ts on a small study), a layer scan, and the copying experiment on held-out prompts
 * through the library API — baseline vs marker→name knockout vs matched random-edge controls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanResultsSchema } from '../../src/experiments/scan/schema.ts';
import { loadModel } from '../../src/model/load.ts';
import { loadCopyingPrompts } from '../../src/corpus/prompts.ts';
import { runCopying } from '../../src/experiments/copying/experiment.ts';

const MODEL = 'models/plip-tiny-code';
const dir = mkdtempSync(join(tmpdir(), 'plip-organism-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The README's first command, minus the setup step. */
function readmeMainCommand(): string[] {
  const line = readFileSync('README.md', 'utf8').split('\n').find((l) => l.startsWith('bash scripts/setup.sh && node bin/plip.mjs '));
  assert.ok(line, 'README has the main command line');
  return line.slice('bash scripts/setup.sh && node bin/plip.mjs '.length).trim().split(/\s+/);
}

// The main command runs the whole bundled study (minutes); here its study file is resolved with `study plan`
// and a layer scan checks the organism end to end. The full study machinery runs on a small study in
// test/study/run.test.ts; the measured run of this very command is in docs/study.md.
test('README main command: plip study run on the bundled study of the organisms; the study plans and the organism scans', () => {
  const args = readmeMainCommand();
  assert.deepEqual(args.slice(0, 3), ['study', 'run', 'studies/roadmap.json']);
  assert.equal(args[3], '--out');
  const plan = spawnSync(process.execPath, ['bin/plip.mjs', 'study', 'plan', args[2]!], { encoding: 'utf8' });
  assert.equal(plan.status, 0, plan.stderr + plan.stdout);
  assert.match(plan.stdout, /plip-tiny-code/);
  assert.match(plan.stdout, /plan: ok/);
  const out = join(dir, 'scan.json');
  const r = spawnSync(process.execPath, ['bin/plip.mjs', 'scan', '--model', MODEL, '--corpus', '../shared/corpus/attention_samples_universal.json', '--out', out, '--n-permutations', '999', '--n-boot', '999'], {
    encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /best layer: \d — python_doctest/);
  const doc = scanResultsSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
  assert.equal(doc.header.model.nLayers, 4);
  assert.deepEqual(doc.header.settings.layers, [0, 1, 2, 3]);
  assert.equal(doc.records.length, 30);
});

test('the planted mechanism: knocking out marker→name attention at the last layer stops copying; controls and an early layer do not', async () => {
  const m = await loadModel(MODEL);
  const prompts = loadCopyingPrompts('training/eval/eval_prompts.json').filter((p) => p.group === 'python_doctest' || p.group === 'rust_test_mod');
  const r = runCopying(m, prompts, { units: [[0], [3]], controls: 2, maxTokens: 16, targets: 'all', seed: 1, limit: 12 });
  assert.equal(r.records.length, 24);
  for (const group of ['python_doctest', 'rust_test_mod']) {
    const s = (unit: string) => r.stats.find((x) => x.group === group && x.unit === unit)!;
    const L0 = s('L0');
    const L3 = s('L3');
    assert.ok(L3.rateBaseline >= 0.75, `${group}: baseline copying ${L3.rateBaseline}`);
    assert.ok(L3.rateKnockout <= 0.1, `${group}: L3 knockout copying ${L3.rateKnockout}`);
    assert.ok(L3.rateControl >= L3.rateBaseline - 0.15, `${group}: L3 control copying ${L3.rateControl} vs baseline ${L3.rateBaseline}`);
    assert.ok(L3.pHolmControl < 0.05, `${group}: L3 knockout vs control, Holm p = ${L3.pHolmControl}`);
    assert.ok(L0.rateKnockout >= L0.rateBaseline - 0.15, `${group}: L0 knockout ${L0.rateKnockout} vs baseline ${L0.rateBaseline}`);
    assert.ok(!L0.effect, `${group}: no effect reported at L0`);
    assert.ok(L3.logprobKnockout! < L3.logprobControl! - 5, `${group}: log p(NAME() knockout ${L3.logprobKnockout} vs control ${L3.logprobControl}`);
  }
});

test('copying under steering (--level, --factor): set(0) reproduces the knockout, scale(1) the baseline; heads other than the name movers do not matter', async () => {
  const m = await loadModel(MODEL);
  const prompts = loadCopyingPrompts('training/eval/eval_prompts.json').filter((p) => p.group === 'python_doctest');
  const base = { units: [[3]], controls: 1, maxTokens: 12, targets: 'all' as const, seed: 3, limit: 4 };
  const ko = runCopying(m, prompts, base);
  const s0 = runCopying(m, prompts, { ...base, level: 0 });
  for (let i = 0; i < ko.records.length; i++) {
    const a = ko.records[i]!.units.L3!.knockout;
    const b = s0.records[i]!.units.L3!.knockout;
    assert.equal(b.completion, a.completion);
    assert.ok(Math.abs(a.callLogprob! - b.callLogprob!) < 1e-3, `${a.callLogprob} vs ${b.callLogprob}`);
  }
  assert.equal(s0.header.settings.edit && JSON.stringify(s0.header.settings.edit), JSON.stringify({ set: 0 }));
  // steering only heads 0–2 (not the name movers 3–5, see plip patch) to 0 leaves copying intact
  const others = runCopying(m, prompts, { ...base, level: 0, heads: [0, 1, 2] });
  const st = others.stats[0]!;
  assert.ok(st.rateKnockout >= st.rateBaseline - 0.25, `heads 0–2 steered to 0: ${st.rateKnockout} vs baseline ${st.rateBaseline}`);
  // scale(1) is a no-op: the edited condition equals the baseline, token for token
  const s1 = runCopying(m, prompts, { ...base, factor: 1 });
  for (const r of s1.records) assert.equal(r.units.L3!.knockout.completion, r.baseline.completion);
  assert.deepEqual(s1.header.settings.edit, { scale: 1 });
  assert.throws(() => runCopying(m, prompts, { ...base, level: 1.5 }), /level: must be an attention mass in \[0, 1\]/);
  assert.throws(() => runCopying(m, prompts, { ...base, level: 0.5, factor: 2 }), /give level or factor, not both/);
  assert.throws(() => runCopying(m, prompts, { ...base, heads: [9] }), /heads: head 9 is out of range/);
});
