import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadStudy } from '../../src/study/schema.ts';
import { runStudy } from '../../src/study/run.ts';
import { mergeStudy, writeShardMarker } from '../../src/study/merge.ts';
import { studySummarySchema } from '../../src/study/criteria.ts';
import { planStudy } from '../../src/study/plan.ts';
import { writeStudyOutputs } from '../../src/study/output.ts';
import { readSafetensorsHeader, writeSafetensorsFile } from '../../src/io/safetensors.ts';
import { createRng } from '../../src/stats/rng.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SHARED = resolve(ROOT, '../shared');
const ORGANISM = join(ROOT, 'models/plip-tiny-code');

/** A small study on the organism: 6 corpus samples, 3 + 3 prompts, one layer. */
function makeStudy(dir: string, models: { id: string; path: string }[] = [{ id: 'organism', path: ORGANISM }]): string {
  const corpus = JSON.parse(readFileSync(join(SHARED, 'corpus/attention_samples_universal.json'), 'utf8'));
  for (const [g, v] of Object.entries(corpus)) if (Array.isArray(v)) corpus[g] = (v as unknown[]).slice(0, g.endsWith('_baseline') ? 1 : 2);
  writeFileSync(join(dir, 'corpus.json'), JSON.stringify(corpus));
  const prompts = JSON.parse(readFileSync(join(ROOT, 'prompts/organism.json'), 'utf8'));
  writeFileSync(join(dir, 'prompts.json'), JSON.stringify({ python: prompts.python.slice(0, 3), rust: prompts.rust.slice(0, 3) }));
  const study = {
    name: 'small',
    models,
    data: { corpus: 'corpus.json', prompts: { python: 'prompts.json', rust: 'prompts.json' } },
    phases: {
      knockout: { layers: '3', modes: ['per-layer'], controls: 1, nPermutations: 199 },
      preservation: { layers: '3', modes: ['per-layer'], n: 3, maxNewTokens: 16, execute: false },
      steering: { layers: '3', multiples: [0, 1], n: 3, maxNewTokens: 16, execute: false },
      transplant: { layers: '3', n: 3, maxNewTokens: 16, execute: false },
    },
    seed: 5,
  };
  writeFileSync(join(dir, 'study.json'), JSON.stringify(study));
  return join(dir, 'study.json');
}

function phaseFiles(out: string): Record<string, { header: Record<string, unknown>; records: unknown[]; summary: unknown }> {
  const res: Record<string, { header: Record<string, unknown>; records: unknown[]; summary: unknown }> = {};
  for (const m of readdirSync(out, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const f of readdirSync(join(out, m.name)).filter((f) => f.endsWith('.json'))) {
      const doc = JSON.parse(readFileSync(join(out, m.name, f), 'utf8'));
      const { startedAt: _s, argv: _a, ...header } = doc.header;
      res[`${m.name}/${f}`] = { header, records: doc.records, summary: doc.summary };
    }
  }
  return res;
}

const dir = mkdtempSync(join(tmpdir(), 'plip-study-run-'));
const studyPath = makeStudy(dir);
const loaded = loadStudy(studyPath);
const full = join(dir, 'full');
const fullRun = await runStudy(loaded, { out: full });

test('study run: every phase file, study.json with each roadmap criterion per model, and a report', () => {
  assert.ok(fullRun.summary);
  const s = studySummarySchema.parse(JSON.parse(JSON.stringify(fullRun.summary)));
  assert.deepEqual([...new Set(s.criteria.map((c) => c.phase))], ['knockout', 'preservation', 'steering', 'transplant']);
  assert.ok(s.criteria.some((c) => /reduces preservation by more than 20%/.test(c.criterion)));
  assert.ok(s.criteria.some((c) => /amplify improves/.test(c.criterion)));
  assert.ok(s.criteria.some((c) => /dose-dependent/.test(c.criterion)));
  for (const c of s.criteria) assert.equal(c.model, 'organism');
  assert.ok(s.replication.every((r) => !r.replicates && /fewer than 2 models/.test(r.note)), 'one model cannot replicate');
  assert.deepEqual(Object.keys(phaseFiles(full)).sort(), ['organism/knockout.json', 'organism/preservation.json', 'organism/steering.json', 'organism/transplant.json']);
});

test('study outputs: study.json validates and report.html holds the cross-model part and every phase, offline', async () => {
  const w = await writeStudyOutputs(full, fullRun.summary!);
  studySummarySchema.parse(JSON.parse(readFileSync(w.json, 'utf8')));
  assert.deepEqual(w.notShown, []);
  const html = readFileSync(w.report, 'utf8');
  assert.match(html, /id="cross-model"/);
  for (const k of ['knockout', 'preservation', 'steer-generation', 'transplant']) assert.ok(html.includes(k), k);
  assert.doesNotMatch(html, /https?:\/\//);
});

test('study plan counts the same items per phase as the run does', async () => {
  const plan = await planStudy(loaded);
  assert.deepEqual(plan.models[0]!.phases.map((p) => [p.phase, p.items]), fullRun.phases.map((p) => [p.phase, p.items]));
});

test('study run: stopped after a few items and re-run, it ends identical to the uninterrupted run', async () => {
  const out = join(dir, 'resumed');
  const a = await runStudy(loaded, { out, stopAfter: 4 });
  assert.equal(a.summary, null);
  const b = await runStudy(loaded, { out, stopAfter: 3 });
  assert.equal(b.summary, null);
  const c = await runStudy(loaded, { out });
  assert.ok(c.summary);
  assert.deepEqual(phaseFiles(out), phaseFiles(full));
  assert.deepEqual(c.summary, { ...fullRun.summary!, phases: c.summary.phases });
});

test('study run: a CLI run killed at an arbitrary moment resumes to the identical result', async () => {
  const out = join(dir, 'killed');
  const child = spawn(process.execPath, [join(ROOT, 'bin/plip.mjs'), 'study', 'run', studyPath, '--out', out], { stdio: 'ignore' });
  // kill once some records are on disk (the first phase's progress file has a record line)
  const prog = join(out, 'organism', 'knockout.json.progress.jsonl');
  for (let i = 0; i < 600; i++) {
    if (existsSync(prog) && readFileSync(prog, 'utf8').split('\n').length > 3) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const c = await runStudy(loaded, { out });
  assert.ok(c.summary);
  assert.deepEqual(phaseFiles(out), phaseFiles(full));
});

test('study shards: 3 shards merged equal one run, record for record; overlaps and gaps are refused', async () => {
  const shards = [1, 2, 3].map((k) => join(dir, `shard${k}`));
  const sizes: number[] = [];
  for (const [i, d] of shards.entries()) {
    writeShardMarker(d, loaded, { k: i + 1, n: 3 });
    const r = await runStudy(loaded, { out: d, shard: { k: i + 1, n: 3 } });
    assert.equal(r.summary, null);
    sizes.push(r.phases.reduce((a, p) => a + p.selected, 0));
  }
  const total = fullRun.phases.reduce((a, p) => a + p.items, 0);
  assert.equal(sizes.reduce((a, b) => a + b, 0), total);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 3, `balanced: ${sizes}`);
  const merged = join(dir, 'merged');
  const m = await mergeStudy(merged, shards);
  assert.deepEqual(phaseFiles(merged), phaseFiles(full));
  assert.deepEqual(m.summary.criteria, fullRun.summary!.criteria);
  await assert.rejects(mergeStudy(join(dir, 'm2'), [shards[0]!, shards[1]!]), /records missing.*shard\(s\) 3\/3 not given/s);
  await assert.rejects(mergeStudy(join(dir, 'm3'), [shards[0]!, shards[0]!, shards[1]!]), /given twice/);
  // a shard of another study (different seed) is refused by its config hash
  const other = join(dir, 'other');
  mkdirSync(other);
  const otherStudy = JSON.parse(readFileSync(studyPath, 'utf8'));
  otherStudy.seed = 6;
  writeFileSync(join(dir, 'other-study.json'), JSON.stringify(otherStudy));
  writeShardMarker(other, loadStudy(join(dir, 'other-study.json')), { k: 3, n: 3 });
  await assert.rejects(mergeStudy(join(dir, 'm4'), [shards[0]!, shards[1]!, other]), /different study/);
});

test('study on a random-init model of the organism\'s dimensions: no criterion of phases 3-5 is met', async () => {
  const rnd = join(dir, 'random-model');
  mkdirSync(rnd);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) if (existsSync(join(ORGANISM, f))) copyFileSync(join(ORGANISM, f), join(rnd, f));
  const h = readSafetensorsHeader(join(ORGANISM, 'model.safetensors'));
  const rng = createRng(11, 'random-init');
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [name, info] of Object.entries(h.tensors)) {
    const n = info.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm/.test(name);
    tensors[name] = { dtype: 'F32', shape: info.shape, data: Float32Array.from({ length: n }, () => (isNorm ? 1 : rng.normal(0, 0.02))) };
  }
  writeSafetensorsFile(join(rnd, 'model.safetensors'), tensors);
  const rdir = mkdtempSync(join(tmpdir(), 'plip-study-rnd-'));
  const p = makeStudy(rdir, [{ id: 'random', path: rnd }]);
  const r = await runStudy(loadStudy(p), { out: join(rdir, 'out') });
  const later = r.summary!.criteria.filter((c) => c.phase !== 'knockout');
  assert.ok(later.length >= 6);
  for (const c of later) assert.equal(c.met, false, `${c.phase}: ${c.criterion} (${c.language}) met on a random model`);
});
