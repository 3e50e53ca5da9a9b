/**
 * knockout and steer (batched through forwardWithInterventions), patch (runConditionsIncremental) and copying
 * (incremental prefill of the generations, incremental scoring of `NAME(`) recompute incrementally by default; with full recomputation (`withFullRecompute`, what `--full-recompute` sets) they give the same
 * records within 1e-5 on every number (relative above 1) (and exactly the same strings, ids and booleans).
 * On the TypeScript backend the two paths are in fact bit-identical here; with OpenBLAS, sgemm's blocking
 * for a different row count moves logits of magnitude ~20 by ~1e-5 (float32 rounding), which the per-family
 * fixture tests (test/interventions/incremental.test.ts, both backends) bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { loadCorpus } from '../../src/corpus/index.ts';
import { runKnockout } from '../../src/experiments/knockout/experiment.ts';
import { runSteer } from '../../src/experiments/steer/experiment.ts';
import { runPatching } from '../../src/experiments/patch/experiment.ts';
import { runCopying } from '../../src/experiments/copying/experiment.ts';
import { loadCopyingPrompts } from '../../src/corpus/prompts.ts';
import { withFullRecompute } from '../../src/interventions/forward.ts';

const CORPUS = '../shared/corpus/attention_samples_universal.json';

/**
 * Deep equality with numbers compared to `tol`, relative for magnitudes above 1 (perplexities are exp of a
 * mean NLL, so their float32 rounding scales with them); counts the numbers compared.
 */
function close(a: unknown, b: unknown, tol: number, path = '$', n = { count: 0 }): number {
  if (typeof a === 'number' && typeof b === 'number') {
    n.count++;
    if (Number.isNaN(a) && Number.isNaN(b)) return n.count;
    assert.ok(a === b || Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)), `${path}: ${a} vs ${b}`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(a.length, b.length, `${path}: length`);
    a.forEach((x, i) => close(x, b[i], tol, `${path}[${i}]`, n));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${path}: keys`);
    for (const k of Object.keys(a)) close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol, `${path}.${k}`, n);
  } else assert.deepEqual(a, b, path);
  return n.count;
}

test('knockout: incremental (default) and full recomputation give the same records (≤ 1e-5)', async () => {
  const m = await loadModel('../shared/models/stories260K', { backend: 'ts' });
  const corpus = await loadCorpus(CORPUS);
  const opts = { layers: [0, 2, 4], modes: ['per-layer' as const, 'all-layers' as const], controls: 2, seed: 5, limit: 2, nBoot: 200, nPermutations: 199 };
  const inc = runKnockout(m, corpus, opts);
  const full = withFullRecompute(() => runKnockout(m, corpus, opts));
  assert.ok(inc.records.length > 0);
  // dPpl = ppl_edited − ppl_baseline: a difference of two perplexities, whose rounding scales with the
  // perplexity itself (the underlying dMeanNll, on the log scale, is compared at 1e-5)
  let n = 0;
  inc.records.forEach((r, i) => {
    const f = full.records[i]!;
    const ppl = (r as { baseline?: { ppl?: number | null } }).baseline?.ppl ?? 1;
    const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'dPpl' ? undefined : v)));
    n += close(strip(r), strip(f), 1e-5);
    const dp = (x: unknown) => JSON.stringify(x).match(/"dPpl":(-?[\d.e+-]+|null)/g) ?? [];
    dp(r).forEach((a, j) => {
      const [x, y] = [a, dp(f)[j]!].map((t) => Number(t.split(':')[1]));
      assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1, ppl), `record ${i} dPpl ${x} vs ${y} (baseline ppl ${ppl})`);
    });
  });
  assert.ok(n > 50, `compared ${n} numbers`);
});

test('steer: incremental (default) and full recomputation give the same records (≤ 1e-5)', async () => {
  const m = await loadModel('models/plip-tiny-code', { backend: 'ts' });
  const corpus = await loadCorpus(CORPUS);
  const opts = { layers: [0, 3], levels: [0, 0.5, 1], controls: 2, seed: 1, limit: 2, groups: ['python_doctest', 'rust_test'], calibrateTo: 'python_doctest' };
  const inc = runSteer(m, corpus, opts);
  const full = withFullRecompute(() => runSteer(m, corpus, opts));
  assert.ok(inc.records.length > 0);
  const n = close(inc.records, full.records, 1e-5);
  assert.ok(n > 50, `compared ${n} numbers`);
});

test('patch: incremental (default) and full recomputation give the same records (≤ 1e-5)', async () => {
  const m = await loadModel('models/plip-tiny-code', { backend: 'ts' });
  const prompts = loadCopyingPrompts('training/eval/eval_prompts.json').filter((p) => p.group === 'python_doctest' || p.group === 'rust_test_mod');
  const opts = { layers: [0, 2, 3], limit: 3, seed: 1, nBoot: 200 };
  const inc = runPatching(m, prompts, opts);
  const full = withFullRecompute(() => runPatching(m, prompts, opts));
  assert.ok(inc.records.some((r) => r.status === 'ok'));
  const n = close(inc.records, full.records, 1e-5);
  assert.ok(n > 50, `compared ${n} numbers`);
});

test('copying: incremental prefill and scoring (default) give the same records as full recomputation', async () => {
  const m = await loadModel('models/plip-tiny-code', { backend: 'ts' });
  const prompts = loadCopyingPrompts('training/eval/eval_prompts.json').filter((p) => p.group === 'python_doctest' || p.group === 'rust_test_mod');
  const opts = { units: [[0], [3]], controls: 2, limit: 3, seed: 1 };
  const inc = runCopying(m, prompts, opts);
  const full = withFullRecompute(() => runCopying(m, prompts, opts));
  assert.ok(inc.records.length > 0);
  const n = close(inc.records, full.records, 1e-5);
  assert.ok(n > 20, `compared ${n} numbers`);
});

test('the results header records the recompute path, and a resume across paths is refused', async () => {
  const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const m = await loadModel('../shared/models/stories260K', { backend: 'ts' });
  const corpus = await loadCorpus(CORPUS);
  const dir = mkdtempSync(join(tmpdir(), 'plip-recompute-'));
  try {
    const out = join(dir, 'ko.json');
    const opts = { layers: [0, 2], modes: ['per-layer' as const], controls: 1, seed: 5, limit: 2, nBoot: 100, nPermutations: 99 };
    // interrupted incremental run: header says incremental
    const part = runKnockout(m, corpus, { ...opts, out, stopAfter: 1 });
    assert.equal(part.header.recompute, 'incremental');
    assert.ok(existsSync(`${out}.progress.jsonl`));
    assert.throws(() => withFullRecompute(() => runKnockout(m, corpus, { ...opts, out })), /DIFFERENT settings/);
    const done = runKnockout(m, corpus, { ...opts, out });
    assert.equal(done.header.recompute, 'incremental');
    const full = withFullRecompute(() => runKnockout(m, corpus, { ...opts, out: join(dir, 'ko-full.json') }));
    assert.equal(full.header.recompute, 'full');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
