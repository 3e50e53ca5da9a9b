import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadStudy } from '../../src/study/schema.ts';
import { planStudy } from '../../src/study/plan.ts';
import { parameterCount } from '../../src/study/cost.ts';
import { resolveSpec } from '../../src/model/families.ts';
import { readFileSync } from 'node:fs';

const ROOT = resolve(import.meta.dirname, '../..');
const SHARED = resolve(ROOT, '../shared');

function prompt(lang: 'python' | 'rust', i: number) {
  return lang === 'python'
    ? { id: `p${i}`, language: 'python', name: `add${i}`, params: ['a', 'b'], category: 'math', prompt: `def add${i}(a, b):\n    """Add.\n\n    >>> `, reference: `def add${i}(a, b):\n    return a + b\n` }
    : { id: `r${i}`, language: 'rust', name: `add${i}`, params: ['a', 'b'], category: 'math', prompt: `fn add${i}(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n#[test]\nfn test_add${i}() {\n`, reference: `fn add${i}(a: i32, b: i32) -> i32 {\n    a + b\n}\n` };
}

function studyDir(study: Record<string, unknown>, nPrompts = 3): string {
  const dir = mkdtempSync(join(tmpdir(), 'plip-study-'));
  mkdirSync(join(dir, 'data'));
  const prompts = { python: Array.from({ length: nPrompts }, (_, i) => prompt('python', i)), rust: Array.from({ length: nPrompts }, (_, i) => prompt('rust', i)) };
  writeFileSync(join(dir, 'data', 'prompts.json'), JSON.stringify(prompts));
  writeFileSync(join(dir, 'study.json'), JSON.stringify(study));
  return dir;
}

const base = (extra: Record<string, unknown> = {}) => ({
  name: 't',
  models: [{ id: 'organism', path: join(ROOT, 'models/plip-tiny-code') }],
  data: { corpus: join(SHARED, 'corpus/attention_samples_universal.json'), prompts: { python: 'data/prompts.json', rust: 'data/prompts.json' } },
  phases: { knockout: {} },
  ...extra,
});

test('loadStudy: relative paths resolve against the study folder, roadmap defaults are filled in', () => {
  const dir = studyDir(base({ phases: { knockout: {}, preservation: {} } }));
  const { study, hash } = loadStudy(join(dir, 'study.json'));
  assert.equal(study.data.prompts.python, join(dir, 'data/prompts.json'));
  assert.equal(study.phases.preservation!.n, 50);
  assert.deepEqual(study.phases.preservation!.conditions, ['baseline', 'knockout', 'amplify']);
  assert.equal(study.phases.preservation!.dropThreshold, 0.2);
  assert.equal(study.phases.knockout!.controls, 5);
  assert.match(hash, /^[0-9a-f]{64}$/);
});

test('loadStudy: the hash ignores key order and where the checkout lives, and changes with a setting', () => {
  const a = loadStudy(join(studyDir(base()), 'study.json')).hash;
  const reordered = Object.fromEntries(Object.entries(base()).reverse());
  const b = loadStudy(join(studyDir(reordered), 'study.json')).hash;
  const c = loadStudy(join(studyDir(base({ seed: 1 })), 'study.json')).hash;
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('loadStudy: errors name the file and the field', () => {
  const bad = (s: Record<string, unknown>, re: RegExp) => {
    const dir = studyDir(s);
    assert.throws(() => loadStudy(join(dir, 'study.json')), re);
  };
  bad(base({ phases: {} }), /no phase is enabled/);
  bad(base({ models: [{ id: 'a', path: 'x' }, { id: 'a', path: 'y' }] }), /models\[1\]\.id 'a' is used twice/);
  bad(base({ phases: { preservation: { n: 0 } } }), /phases\.preservation\.n/);
  bad(base({ phases: { knockout: { controls: 'five' } } }), /phases\.knockout\.controls/);
  bad(base({ bogus: 1 }), /invalid study file/);
  assert.throws(() => loadStudy('/nonexistent/study.json'), /study file not found/);
});

test('planStudy: counts items of phase 2 by hand (30 corpus samples × 8 units on a 4-layer model)', async () => {
  const dir = studyDir(base());
  const plan = await planStudy(loadStudy(join(dir, 'study.json')));
  assert.equal(plan.ok, true, JSON.stringify(plan.models[0]!.problems));
  const m = plan.models[0]!;
  assert.equal(m.model.nLayers, 4);
  assert.equal(m.model.weightsPresent, true);
  const ko = m.phases.find((p) => p.phase === 'knockout')!;
  // one item per sample; per-layer 4 + all-layers 1 + windows of 2 consecutive layers 3 = 8 units
  assert.equal(ko.items, 30);
  // baseline once per sample, knockout + 5 controls per (sample, unit)
  assert.equal(ko.prefillPasses, 30 * 8 * 6 + 30);
  assert.ok(m.estPeakBytes > m.model.weightBytes);
});

test('planStudy: too few prompts and prompts past the context are problems, not crashes', async () => {
  const dir = studyDir(base({ phases: { preservation: { n: 5 } } }), 3);
  const plan = await planStudy(loadStudy(join(dir, 'study.json')));
  assert.equal(plan.ok, false);
  assert.ok(plan.models[0]!.problems.some((p) => /python prompts: 3 available, the study asks for 5/.test(p)));
});

test('parameterCount: matches the organism (2,164,416) and Qwen2.5-Coder-0.5B (494 M) from their configs', () => {
  const spec = (p: string) => resolveSpec(JSON.parse(readFileSync(p, 'utf8')), p).spec;
  assert.equal(parameterCount(spec(join(ROOT, 'models/plip-tiny-code/config.json'))), 2_164_416);
  const q = parameterCount(spec(join(SHARED, 'configs/Qwen--Qwen2.5-Coder-0.5B-Instruct/config.json')));
  // Qwen2 has q/k/v biases (not counted here: 0.03 %), tied embeddings; published size 494 M
  assert.ok(Math.abs(q - 494e6) / 494e6 < 0.01, String(q));
});

test('the bundled studies plan here: roadmap-real resolves every real config offline, roadmap resolves the organisms', async () => {
  const real = await planStudy(loadStudy(join(ROOT, 'studies/roadmap-real.json')));
  assert.equal(real.ok, true, JSON.stringify(real.models.map((m) => m.problems)));
  assert.deepEqual(real.models.map((m) => [m.model.id, m.model.family, m.model.nLayers, m.model.source]), [
    ['codellama-7b', 'llama', 32, 'config-only'],
    ['codegemma-7b-it', 'gemma', 28, 'config-only'],
    ['qwen2.5-coder-0.5b-instruct', 'qwen2', 24, 'config-only'],
  ]);
  // 6.74 B parameters for CodeLlama-7b, planned from its config alone
  assert.ok(Math.abs(real.models[0]!.model.parameters - 6.74e9) / 6.74e9 < 0.01);
  assert.equal(real.data.prompts.python >= 50 && real.data.prompts.rust >= 50, true);
  const bundled = await planStudy(loadStudy(join(ROOT, 'studies/roadmap.json')));
  assert.equal(bundled.ok, true, JSON.stringify(bundled.models.map((m) => m.problems)));
  assert.ok(bundled.models.every((m) => m.model.weightsPresent && m.model.source === 'local'));
});

test('plan: the knockout estimate scales its edited conditions by the measured incremental speedup', async () => {
  const { loadStudy } = await import('../../src/study/schema.ts');
  const { planStudy } = await import('../../src/study/plan.ts');
  const { DEFAULT_COST } = await import('../../src/study/cost.ts');
  const loaded = loadStudy('studies/roadmap.json');
  const a = await planStudy(loaded, { ...DEFAULT_COST, incrementalSpeedup: 1, perPassSeconds: 0 });
  const b = await planStudy(loaded, { ...DEFAULT_COST, incrementalSpeedup: 4, perPassSeconds: 0 });
  const ko = (p: typeof a) => p.models[0]!.phases.find((x) => x.phase === 'knockout')!;
  const [ka, kb] = [ko(a), ko(b)];
  assert.equal(ka.prefillPasses, kb.prefillPasses, 'the same passes are planned');
  // baseline passes (one per sample) are full; conditions cost a quarter
  const samples = ka.items, conds = ka.prefillPasses - samples;
  assert.ok(Math.abs(kb.estSeconds / ka.estSeconds - (conds / 4 + samples) / (conds + samples)) < 1e-9, `${kb.estSeconds} / ${ka.estSeconds}`);
});

test("plan: a model run with compute 'bf16' has its prefill-bound estimates scaled by the measured factor", async () => {
  const { loadStudy } = await import('../../src/study/schema.ts');
  const { planStudy } = await import('../../src/study/plan.ts');
  const { DEFAULT_COST } = await import('../../src/study/cost.ts');
  const loaded = loadStudy('studies/roadmap.json');
  const bf = { ...loaded, study: { ...loaded.study, models: loaded.study.models.map((m, i) => (i === 0 ? { ...m, compute: 'bf16' as const } : m)) } };
  const cost = { ...DEFAULT_COST, perPassSeconds: 0, computeBf16PrefillFactor: 0.6 };
  const [a, b] = [await planStudy(loaded, cost), await planStudy(bf, cost)];
  const ko = (p: typeof a, i: number) => p.models[i]!.phases.find((x) => x.phase === 'knockout')!.estSeconds;
  assert.equal(b.models[0]!.model.compute, 'bf16');
  assert.equal(a.models[0]!.model.compute, 'f32');
  // the knockout phase is prefill only: 0.6 × the float32 estimate; the other models are unchanged
  assert.ok(Math.abs(ko(b, 0) / ko(a, 0) - 0.6) < 1e-9, `${ko(b, 0)} / ${ko(a, 0)}`);
  assert.equal(ko(b, 1), ko(a, 1));
  // with no measured factor (1) the mode changes nothing
  const c = await planStudy(bf, { ...cost, computeBf16PrefillFactor: 1 });
  assert.equal(ko(c, 0), ko(a, 0));
});
