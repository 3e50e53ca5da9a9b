/**
 * runScan on the real corpus with the real stories260K model: one forward pass per sample, per-sample values
 * equal to those read directly from hook_pattern, attention invariants, determinism, layer/head subsets, and
 * resuming an interrupted run without losing or duplicating samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCorpus } from '../../src/corpus/index.ts';
import { mapSample } from '../../src/corpus/positions.ts';
import { runScan, scanSample, scanSettings } from '../../src/experiments/scan/experiment.ts';
import { scanResultsSchema, type ScanRecord } from '../../src/experiments/scan/schema.ts';
import { loadModel } from '../../src/model/load.ts';

const REAL = '../shared/corpus/attention_samples_universal.json';
const STORIES = '../shared/models/stories260K';
const FAST = { nPermutations: 199, nBoot: 199 };

const model = await loadModel(STORIES);
const corpus = await loadCorpus(REAL);
const tmp = mkdtempSync(join(tmpdir(), 'plip-scan-'));
const full = await runScan(model, corpus, { seed: 11, ...FAST });

test('ONE forward pass per sample, capturing every layer', async () => {
  let calls = 0;
  const m = Object.create(model) as typeof model;
  m.runWithHooks = (...args: Parameters<typeof model.runWithHooks>) => {
    calls++;
    return model.runWithHooks(...args);
  };
  m.runWithCache = () => assert.fail('the scan should not cache whole patterns');
  m.forward = () => assert.fail('the scan should not run extra forward passes');
  const r = await runScan(m, corpus, { seed: 11, ...FAST });
  assert.equal(calls, corpus.samples.length);
  assert.deepEqual(r.records, full.records);
});

test('per-sample values equal those read directly from hook_pattern (every layer, head, sample)', () => {
  const H = model.spec.nHeads;
  for (const s of corpus.samples) {
    const rec = full.records.find((r) => r.id === s.id)!;
    const enc = model.tokenizer!.encodeWithOffsets(s.code);
    assert.deepEqual(rec.targetTokens, mapSample(model.tokenizer!, s).targetTokens);
    const { cache } = model.runWithCache(enc.ids, { names: ['attn.hook_pattern'] });
    const m = rec.marker.token;
    for (const L of rec.layers) {
      const P = cache.pattern(L.layer);
      assert.deepEqual(P.shape, [1, H, enc.ids.length, enc.ids.length]);
      for (let h = 0; h < H; h++) {
        const row = (k: number) => P.get(0, h, m, k);
        const visible = rec.targetTokens.filter((t) => t <= m);
        const obs = visible.reduce((acc, t) => acc + row(t), 0) / rec.targetTokens.length;
        assert.equal(L.observed[h], obs, `${s.id} L${L.layer} H${h} observed`);
        assert.equal(L.sink[h], row(0));
        let rest = 0;
        for (let k = 1; k <= m; k++) rest += row(k);
        const ns = visible.filter((t) => t >= 1).reduce((acc, t) => acc + row(t), 0) / rest / rec.targetTokens.filter((t) => t >= 1).length;
        assert.equal(L.observedNoSink[h], ns);
        if (rec.controlTokens.length) {
          let c = 0;
          let cNs = 0;
          for (const d of rec.controlTokens) {
            d.forEach((k, i) => {
              c += row(k);
              if (visible[i]! >= 1) cNs += row(k);
            });
          }
          assert.equal(L.control[h], c / rec.controlTokens.length / rec.targetTokens.length);
          assert.equal(L.controlNoSink[h], cNs / rec.controlTokens.length / rest / rec.targetTokens.filter((t) => t >= 1).length);
        }
      }
    }
  }
});

test('attention invariants: marker rows sum to 1, causal zeros, values in [0, 1], null <= 1', () => {
  for (const s of corpus.samples.filter((_, i) => i % 3 === 0)) {
    const rec = full.records.find((r) => r.id === s.id)!;
    const ids = model.tokenizer!.encode(s.code);
    const { cache } = model.runWithCache(ids, { names: ['attn.hook_pattern'] });
    for (let l = 0; l < model.spec.nLayers; l++) {
      const P = cache.pattern(l);
      for (let h = 0; h < model.spec.nHeads; h++) {
        let sum = 0;
        for (let k = 0; k < ids.length; k++) {
          const v = P.get(0, h, rec.marker.token, k);
          if (k > rec.marker.token) assert.equal(v, 0, 'causal zero');
          sum += v;
        }
        assert.ok(Math.abs(sum - 1) < 1e-5, `row sum ${sum}`);
      }
    }
  }
  for (const r of full.records) {
    assert.ok(r.uniformNull >= 0 && r.uniformNull <= 1);
    assert.ok(r.uniformNullNoSink === null || (r.uniformNullNoSink >= 0 && r.uniformNullNoSink <= 1));
    assert.equal(r.uniformNull, r.zeroByConstruction ? 0 : (r.visibleTargetTokens.length / r.targetTokens.length) / (r.marker.token + 1));
    for (const L of r.layers) {
      for (const v of [...L.observed, ...L.sink, ...L.observedNoSink, ...L.control, ...L.controlNoSink]) assert.ok(v === null || (v >= 0 && v <= 1), String(v));
    }
    assert.deepEqual(r.notes.filter((n) => n.includes('marker row sums')), []);
    if (r.group === 'rust_baseline') {
      assert.equal(r.zeroByConstruction, true);
      assert.ok(r.layers.every((L) => L.observed.every((v) => v === 0)));
    }
  }
});

test('summary: schema-valid, best layer with corrected p, verdicts, zero-by-construction warning', () => {
  const doc = JSON.parse(JSON.stringify({ header: full.header, records: full.records, summary: full.summary }));
  const v = scanResultsSchema.safeParse(doc);
  assert.ok(v.success, JSON.stringify(v.error?.issues.slice(0, 3)));
  const s = full.summary!;
  assert.equal(s.comparisons[0]!.a, 'python_doctest');
  assert.deepEqual(
    s.comparisons.map((c) => `${c.a}/${c.b}`),
    ['python_doctest/rust_test', 'python_doctest/python_baseline', 'rust_test/rust_baseline'],
  );
  assert.equal(s.comparisons[0]!.metrics.observed.layers.length, 5);
  assert.equal(s.comparisons[0]!.heads!.length, 5 * 8);
  assert.ok(s.bestLayer && s.bestLayer.pHolm !== null && s.bestLayer.pHolm >= s.bestLayer.p!);
  assert.equal(s.verdict.length, 6);
  assert.ok(s.warnings.some((w) => /group 'rust_baseline': 5\/5 .*0 by construction/.test(w)));
  assert.equal(s.groups.rust_baseline!.zeroByConstruction, 5);
  assert.ok(!JSON.stringify(doc).includes('NaN'));
});

test('determinism: same seed → identical records and summary; another seed changes only the random parts', async () => {
  const again = await runScan(model, corpus, { seed: 11, ...FAST });
  assert.equal(JSON.stringify(again.records), JSON.stringify(full.records));
  assert.equal(JSON.stringify(again.summary), JSON.stringify(full.summary));
  const other = await runScan(model, corpus, { seed: 12, ...FAST });
  assert.notDeepEqual(other.records[0]!.controlTokens, full.records[0]!.controlTokens);
  assert.deepEqual(
    other.records.map((r) => r.layers.map((L) => L.observed)),
    full.records.map((r) => r.layers.map((L) => L.observed)),
  );
});

test('layer and head subsets give the same values as the full scan', async () => {
  const sub = await runScan(model, corpus, { seed: 11, ...FAST, layers: [1, 3], heads: [0, 5, 7] });
  assert.deepEqual(sub.header.settings.layers, [1, 3]);
  for (const r of sub.records) {
    const f = full.records.find((x) => x.id === r.id)!;
    assert.deepEqual(r.controlTokens, f.controlTokens);
    for (const L of r.layers) {
      const F = f.layers.find((x) => x.layer === L.layer)!;
      assert.deepEqual(L.observed, [0, 5, 7].map((h) => F.observed[h]));
      assert.deepEqual(L.sink, [0, 5, 7].map((h) => F.sink[h]));
    }
  }
  assert.throws(() => scanSettings(model, corpus, { layers: [5] }), /layers: layer 5 is out of range \(the model has layers 0\.\.4\)/);
  assert.throws(() => scanSettings(model, corpus, { heads: [8] }), /heads: head 8 is out of range/);
  assert.throws(() => scanSettings(model, corpus, { compare: ['python_doctest', 'go_test'] }), /group 'go_test' is not in the corpus/);
});

test('resume: a run stopped after 7 samples (plus a torn line) finishes with the same records, no duplicates', async () => {
  const out = join(tmp, 'resume.json');
  const clean = join(tmp, 'clean.json');
  await runScan(model, corpus, { seed: 11, ...FAST, out: clean });
  const part = await runScan(model, corpus, { seed: 11, ...FAST, out, stopAfter: 7 });
  assert.equal(part.complete, false);
  assert.equal(part.summary, null);
  assert.equal(part.records.length, 7);
  assert.ok(existsSync(`${out}.progress.jsonl`));
  assert.ok(!existsSync(out));
  appendFileSync(`${out}.progress.jsonl`, '{"type":"record","key":"py_torn","id":'); // crash mid-write
  const part2 = await runScan(model, corpus, { seed: 11, ...FAST, out, stopAfter: 5 });
  assert.equal(part2.resumed, 7);
  assert.equal(part2.records.length, 12);
  const done = await runScan(model, corpus, { seed: 11, ...FAST, out });
  assert.equal(done.complete, true);
  assert.equal(done.resumed, 12);
  assert.ok(!existsSync(`${out}.progress.jsonl`));
  const a = JSON.parse(readFileSync(out, 'utf8'));
  const b = JSON.parse(readFileSync(clean, 'utf8'));
  const keys = a.records.map((r: ScanRecord) => r.key);
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(keys, corpus.samples.map((s) => s.id));
  assert.deepEqual(a.records, b.records);
  assert.deepEqual(a.summary, b.summary);
  // A different setting refuses to resume someone else's progress.
  await runScan(model, corpus, { seed: 11, ...FAST, out, stopAfter: 1, restart: true });
  assert.throws(() => runScan(model, corpus, { seed: 12, ...FAST, out }), /DIFFERENT settings/);
});

test('scanSample: marker token "last" attends from the last token of the marker', () => {
  const st = scanSettings(model, corpus, { markerToken: 'last' });
  const s = corpus.samples.find((x) => x.id === 'rust_simple_add')!;
  const r = scanSample(model, s, st, 0);
  assert.equal(r.marker.token, r.marker.patternTokens.at(-1));
  assert.equal(r.uniformNull, 1 / (r.marker.token + 1));
});
