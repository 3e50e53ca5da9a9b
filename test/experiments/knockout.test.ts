/**
 * Knockout experiment pieces: continuation definition, matched controls, analysis units, statistics and
 * verdict on synthetic records, and resume after a crash without loss or duplication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { loadCorpus } from '../../src/corpus/index.ts';
import { createRng } from '../../src/stats/index.ts';
import { ResultsStore, modelProvenance, type Provenance } from '../../src/report/results.ts';
import { continuationCharEnd, prepareMarkerSample, sampleControls as drawControls, type MarkerSample as KnockoutSample } from '../../src/experiments/shared/samples.ts';
import { analysisUnits as knockoutUnits } from '../../src/experiments/shared/units.ts';
import { knockoutSettings, runKnockout } from '../../src/experiments/knockout/experiment.ts';
import { summarizeKnockout } from '../../src/experiments/knockout/stats.ts';
import { knockoutSummarySchema, type KnockoutRecord, type OkRecord } from '../../src/experiments/knockout/schema.ts';

const MODEL = '../shared/models/stories260K';
const CORPUS = '../shared/corpus/attention_samples_universal.json';

test('continuation: rest of the doctest line; for a blank rest (Rust #[test]) the next non-blank line', () => {
  const py = 'def add(a, b):\n    """\n    >>> add(2, 3)\n    5\n    """';
  const p = py.indexOf('>>>');
  const e = continuationCharEnd(py, p, '>>>');
  assert.equal(py.slice(e.start, e.end), ' add(2, 3)');
  const rs = 'fn add(a: i32) -> i32 {\n    a\n}\n\n#[test]\n\n   \nfn test_add() {\n    assert_eq!(add(2), 2);\n}';
  const r = continuationCharEnd(rs, rs.indexOf('#[test]'), '#[test]');
  assert.equal(rs.slice(r.start, r.end), '\n\n   \nfn test_add() {');
  const end = 'x = 1 >>>';
  assert.deepEqual(continuationCharEnd(end, 6, '>>>'), { start: 9, end: 9 });
});

test('continuation in tokens on the real corpus (stories260K tokenizer)', async () => {
  const m = await loadModel(MODEL);
  const c = await loadCorpus(CORPUS);
  const s = prepareMarkerSample(m.tokenizer!, c.samples.find((x) => x.id === 'py_simple_add')!);
  assert.equal(s.continuationText.endsWith(' add(2, 3)'), true, JSON.stringify(s.continuationText));
  assert.ok(s.continuationEnd > s.marker.token);
  assert.deepEqual(s.futureTargets, []);
  const r = prepareMarkerSample(m.tokenizer!, c.samples.find((x) => x.id === 'rust_simple_add')!);
  assert.ok(r.continuationText.endsWith('\nfn test_add() {'), JSON.stringify(r.continuationText));
  const na = prepareMarkerSample(m.tokenizer!, c.samples.find((x) => x.group === 'rust_baseline')!);
  assert.deepEqual(na.targets, [], 'Rust baseline: marker at 0, every target after it');
  assert.ok(na.futureTargets.length > 0);
});

function fakeSample(marker: number, targets: number[], markerTokens: number[] = [marker]): KnockoutSample {
  return {
    id: 'x',
    group: 'g',
    language: 'python',
    ids: [],
    marker: { token: marker, charPos: 0, pattern: '>>>', tokenText: '>', merged: false },
    markerTokens,
    targets,
    futureTargets: [],
    continuationEnd: marker,
    continuationText: '',
    excluded: new Set([0]),
    notes: [],
  };
}

test('controls: as many keys as targets, never targets/marker/BOS, matched distance, seeded', () => {
  const s = fakeSample(40, [1, 5, 30], [40, 41]);
  const a = drawControls(s, 6, createRng(3, 'knockout/controls/x'));
  const b = drawControls(s, 6, createRng(3, 'knockout/controls/x'));
  const c = drawControls(s, 6, createRng(4, 'knockout/controls/x'));
  assert.deepEqual(a, b, 'same seed, same draws');
  assert.notDeepEqual(a.draws, c.draws, 'another seed, other draws');
  assert.equal(a.draws.length, 6);
  for (const d of a.draws) {
    assert.equal(new Set(d).size, 3, 'three distinct keys');
    for (const k of d) {
      assert.ok(k >= 1 && k < 40 && ![1, 5, 30].includes(k));
    }
    // distances of the sorted targets (39, 35, 10) are matched within max(2, ceil(d/4)) (or nearest)
    const dist = d.map((k) => 40 - k).sort((x, y) => x - y);
    assert.ok(Math.abs(dist[0]! - 10) <= 3);
  }
  // minKey 2 keeps key 1 out of the pool as well; tiny pools give fewer keys with a note
  const small = drawControls(fakeSample(4, [1, 2]), 2, createRng(0, 's'), 1);
  assert.deepEqual(small.draws, [[3], [3]]);
  assert.match(small.notes[0]!, /only 1 control candidate/);
});

test('analysis units: per-layer, all-layers, sliding windows of consecutive layers', () => {
  const u = knockoutUnits([0, 1, 2, 4], ['per-layer', 'all-layers', 'window'], 2);
  assert.deepEqual(u.map((x) => x.id), ['L0', 'L1', 'L2', 'L4', 'all', 'W0-1', 'W1-2']);
  assert.deepEqual(u.find((x) => x.id === 'all')!.layers, [0, 1, 2, 4]);
  assert.throws(() => knockoutUnits([0, 2], ['window'], 2), /no window of 2 consecutive layers/);
});

function rec(id: string, lang: 'python' | 'rust', unit: string, ko: number, ctl: number): OkRecord {
  const cond = (kl: number) => ({ keys: [1], edges: 8, kl, top1: 3, top1Changed: kl > 0.5, topkJaccard: 1, dProbTop1: -kl / 10, dLogitTop1: -kl, continuation: null });
  return {
    key: `${id}|${unit}`,
    id,
    group: lang === 'python' ? 'python_doctest' : 'rust_test',
    language: lang,
    nTokens: 10,
    marker: { token: 5, charPos: 9, pattern: '>>>', tokenText: '>', merged: false },
    targets: [1],
    futureTargets: [],
    notes: [],
    status: 'ok',
    unit: { id: unit, mode: 'per-layer', layers: [Number(unit.slice(1))] },
    seqLen: 6,
    continuation: null,
    baseline: { top1: 3, top1Text: 'x', probTop1: 0.5, meanNll: null, ppl: null },
    knockout: cond(ko),
    controls: [cond(ctl), cond(ctl)],
    controlMean: { kl: ctl, dProbTop1: -ctl / 10, dLogitTop1: -ctl, top1ChangedRate: 0, topkJaccard: 1, dPpl: null },
    diff: { kl: ko - ctl, dPpl: null },
  };
}

test('statistics: paired tests, corrections and the verdict on synthetic records', async () => {
  const units = knockoutUnits([0, 1], ['per-layer'], 2);
  const records: KnockoutRecord[] = [];
  for (let i = 0; i < 12; i++) {
    const lang = i < 6 ? 'python' : 'rust';
    records.push(rec(`s${i}`, lang, 'L0', 1 + i / 10 + (lang === 'python' ? 1 : 0), 0.1 + i / 100)); // strong effect
    records.push(rec(`s${i}`, lang, 'L1', 0.1 + ((i * 7) % 5) / 100, 0.1 + ((i * 3) % 5) / 100 + 1e-4)); // none
  }
  records.push({ ...rec('b0', 'rust', 'L0', 0, 0), status: 'not_applicable', unit: null, group: 'rust_baseline', key: 'b0|not-applicable', reason: 'not applicable (edges to future tokens): …' } as unknown as KnockoutRecord);
  const s = summarizeKnockout(records, units, 13, { seed: 1, nBoot: 500, nPermutations: 999 });
  knockoutSummarySchema.parse(s);
  assert.deepEqual(s.primaryGroups, ['python_doctest', 'rust_test']);
  const [l0, l1] = s.units;
  assert.equal(l0!.n, 12);
  const close = (a: number | null, b: number) => a !== null && Math.abs(a - b) < 1e-15;
  assert.ok(close(l0!.wilcoxon.p, 2 ** -12), 'all 12 differences positive: exact one-sided p = 2^-12');
  assert.ok(close(l0!.wilcoxon.pHolm, 2 * l0!.wilcoxon.p!), 'Holm over 2 units: the smallest p is doubled');
  assert.equal(l0!.permutation.method, 'exact');
  assert.equal(l0!.permutation.p, 2 ** -12);
  assert.ok(l0!.met);
  assert.ok(!l1!.met);
  assert.ok(l0!.meanDiffCI!.lo! > 0);
  assert.equal(l0!.pythonVsRust.nPython, 6);
  assert.ok(l0!.pythonVsRust.p! < 0.05, 'Python differences are larger by construction');
  assert.equal(s.verdict.met, true);
  assert.deepEqual(s.verdict.units, ['L0']);
  assert.equal(s.notApplicable.length, 1);
  // per-language verdicts: Holm over 2 units × 2 languages; 6 positive differences per language at L0
  for (const l of ['python', 'rust'] as const) {
    const c = l0!.byLanguage[l];
    assert.ok(close(c.wilcoxonP, 2 ** -6), `${l}: exact one-sided 2^-6`);
    assert.ok(close(c.wilcoxonPHolm!, 4 * 2 ** -6), `${l}: Holm over 4 tests multiplies the smallest p by 4 (got ${c.wilcoxonPHolm})`);
    assert.ok(close(c.permutationP!, 2 ** -6));
    assert.equal(c.met, false, `${l}: 4 · 2^-6 = 0.0625 ≥ α`);
  }
  assert.match(s.verdictByLanguage!.rust.statement, /^rust: NOT MET \(smallest corrected Wilcoxon p = 0\.0625 at L0, n = 6\)/);
  // reach: pooled 2 · 2^-12 (reachable), per language 4 · 2^-6 = 0.0625 (not)
  assert.ok(close(s.reach!.pooled.minP, 2 * 2 ** -12));
  assert.equal(s.reach!.pooled.reachable, true);
  assert.ok(close(s.reach!.byLanguage.minP, 4 * 2 ** -6));
  assert.equal(s.reach!.byLanguage.reachable, false);
  const { renderKnockoutSummary } = await import('../../src/experiments/knockout/render.ts');
  const text = renderKnockoutSummary(s);
  assert.match(text, /warning: per language: smallest reachable Holm-adjusted p = 0\.0625 \(n ≤ 6, 4 tests; α = 0\.05\) — α is NOT reachable/);
  assert.doesNotMatch(text, /warning: pooled/);
  // a stronger design (one unit: Holm over 2 tests, 2 · 2^-6 = 0.03125) meets both per-language criteria
  const one = summarizeKnockout(records.filter((r) => r.status !== 'ok' || r.unit!.id === 'L0'), units.slice(0, 1), 13, { seed: 1, nBoot: 100, nPermutations: 99 });
  assert.deepEqual(one.verdictByLanguage!.python.units, ['L0']);
  assert.equal(one.verdictByLanguage!.rust.met, true);
  // degenerate: all differences zero → nulls with notes, never NaN; verdict not met
  const zero = summarizeKnockout([rec('a', 'python', 'L0', 0.2, 0.2), rec('b', 'python', 'L0', 0.3, 0.3)], units.slice(0, 1), 2, { nBoot: 100 });
  knockoutSummarySchema.parse(zero);
  assert.equal(zero.units[0]!.wilcoxon.p, null);
  assert.equal(zero.verdict.met, false);
  assert.ok(!JSON.stringify(zero).includes('NaN'));
});

test('resume after a crash: no loss, no duplication, same records as an uninterrupted run', async () => {
  const m = await loadModel(MODEL);
  const corpus = await loadCorpus(CORPUS);
  const opts = { layers: [0, 2], modes: ['per-layer' as const], controls: 2, seed: 5, limit: 2, nBoot: 200, nPermutations: 199 };
  const header: Provenance = {
    tool: { name: 'plip-ts', version: '0.1.0' },
    experiment: 'knockout',
    schemaVersion: 1,
    model: modelProvenance(m),
    corpus: { path: CORPUS, sha256: corpus.sha256, nSamples: corpus.samples.length },
    settings: knockoutSettings(m, opts),
    seed: 5,
    startedAt: new Date().toISOString(),
  };
  const dir = mkdtempSync(join(tmpdir(), 'plip-ko-'));
  try {
    const full = runKnockout(m, corpus, opts);
    const out = join(dir, 'r.json');
    let n = 0;
    assert.throws(
      () =>
        runKnockout(m, corpus, {
          ...opts,
          out,
          onProgress: () => {
            if (++n === 5) throw new Error('simulated crash');
          },
        }),
      /simulated crash/,
    );
    const resumed = runKnockout(m, corpus, { ...opts, out });
    assert.ok(resumed.resumed >= 3 && resumed.resumed < full.records.length, `resumed ${resumed.resumed}`);
    assert.equal(resumed.records.length, full.records.length);
    assert.deepEqual(resumed.records, full.records);
    assert.deepEqual(resumed.summary, full.summary);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('targets: spans cover every token of def/fn, the name and each parameter; corpus keeps one token per character', async () => {
  const m = await loadModel('models/plip-tiny-code');
  const c = await loadCorpus(CORPUS);
  const tok = m.tokenizer!;
  let multi = 0;
  for (const smp of c.samples.filter((x) => x.group === 'python_doctest' || x.group === 'rust_test')) {
    assert.ok(smp.functionSpans, `${smp.id}: the corpus targets are one function's signature`);
    const enc = tok.encodeWithOffsets(smp.code);
    const sp = prepareMarkerSample(tok, smp, 'last', 'spans');
    const co = prepareMarkerSample(tok, smp, 'last', 'corpus');
    const all = new Set([...sp.targets, ...sp.futureTargets]);
    for (const span of smp.functionSpans!.spans) {
      const covering = enc.offsets.flatMap(([a, b], i) => (b > a && a < span.end && b > span.start ? [i] : []));
      for (const t of covering) assert.ok(all.has(t), `${smp.id}: token ${t} of the ${span.kind} span is a target`);
    }
    const name = smp.functionSpans!.spans.find((x) => x.kind === 'name')!;
    const nameTokens = enc.offsets.flatMap(([a, b], i) => (b > a && a < name.end && b > name.start ? [i] : []));
    if (nameTokens.length > 1) {
      multi++;
      assert.ok(nameTokens.filter((t) => co.targets.includes(t)).length < nameTokens.length, `${smp.id}: corpus mode misses name pieces`);
    }
    // the Rust corpus's quirk targets the character right after the name (`(` or `<`): replaced by the parameter spans
    assert.ok(co.targets.every((t) => sp.targets.includes(t) || (smp.language === 'rust' && enc.offsets[t]![0] === name.end)), `${smp.id}: spans ⊇ corpus targets except the Rust after-the-name quirk`);
  }
  assert.ok(multi >= 10, `most primary samples have multi-token names (${multi})`);
  const long = c.samples.find((x) => x.id === 'py_long_name')!;
  const sp = prepareMarkerSample(tok, long, 'last', 'spans');
  const co = prepareMarkerSample(tok, long, 'last', 'corpus');
  assert.ok(sp.targets.length > co.targets.length + 5, `py_long_name: ${sp.targets.length} span targets vs ${co.targets.length}`);
  // a sample whose targets are not one function's signature keeps the corpus positions, with a note
  const base = c.samples.find((x) => x.id === 'rust_derive_debug')!;
  assert.equal(base.functionSpans, null);
  const b = prepareMarkerSample(tok, base, 'last', 'spans');
  assert.deepEqual([...b.targets, ...b.futureTargets], [...prepareMarkerSample(tok, base, 'last', 'corpus').targets, ...prepareMarkerSample(tok, base, 'last', 'corpus').futureTargets]);
  assert.ok(b.notes.some((n) => /no function signature holds every corpus target/.test(n)));
});

test('marker token: the default measures at the LAST token of the marker (] of #[test])', async () => {
  const m = await loadModel('models/plip-tiny-code');
  const c = await loadCorpus(CORPUS);
  assert.equal(knockoutSettings(m, {}).markerToken, 'last');
  assert.equal(knockoutSettings(m, {}).targets, 'spans');
  const r = c.samples.find((x) => x.id === 'rust_simple_add')!;
  const enc = m.tokenizer!.encodeWithOffsets(r.code);
  const last = prepareMarkerSample(m.tokenizer!, r, 'last');
  const first = prepareMarkerSample(m.tokenizer!, r, 'first');
  const end = r.markerCharPos + '#[test]'.length;
  assert.ok(enc.offsets[last.marker.token]![1] >= end && enc.offsets[last.marker.token]![0] < end, 'the last token holds the closing ]');
  assert.ok(first.marker.token < last.marker.token, `#[test] is several tokens (first ${first.marker.token}, last ${last.marker.token})`);
});

test('the committed organism results (training/logs/plip_knockout.json) are reproduced with --targets corpus --marker-token first', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = JSON.parse(readFileSync('training/logs/plip_knockout.json', 'utf8'));
  const m = await loadModel('models/plip-tiny-code');
  const corpus = await loadCorpus(CORPUS);
  const ids = ['py_long_name', 'rust_simple_add'];
  const st = doc.header.settings;
  const r = runKnockout(m, { ...corpus, samples: corpus.samples.filter((x) => ids.includes(x.id)) }, {
    layers: [0, st.layers.at(-1)], modes: ['per-layer'], controls: st.controls, topK: st.topK, minKey: st.minKey, seed: doc.header.seed, targets: 'corpus', markerToken: 'first', nBoot: 10, nPermutations: 9,
  });
  const want = doc.records.filter((x: KnockoutRecord) => ids.includes(x.id) && x.status === 'ok' && ['L0', `L${st.layers.at(-1)}`].includes(x.unit!.id));
  assert.equal(r.records.length, want.length);
  for (const got of r.records) {
    const w = want.find((x: KnockoutRecord) => x.key === got.key)!;
    assert.deepEqual(got.targets, w.targets, `${got.key}: same targets`);
    assert.equal(got.marker.token, w.marker.token);
    const g = got as OkRecord;
    assert.ok(Math.abs(g.knockout.kl - w.knockout.kl) <= 1e-6 * Math.max(1, w.knockout.kl), `${got.key}: KL ${g.knockout.kl} vs ${w.knockout.kl}`);
    assert.deepEqual(g.controls.map((x) => x.keys), w.controls.map((x: { keys: number[] }) => x.keys));
  }
  // the new defaults change what is targeted and measured
  const d = runKnockout(m, { ...corpus, samples: corpus.samples.filter((x) => x.id === 'py_long_name') }, { layers: [0], controls: 1, seed: 1, nBoot: 10, nPermutations: 9 });
  assert.ok((d.records[0] as OkRecord).targets.length > want.find((x: KnockoutRecord) => x.id === 'py_long_name')!.targets.length);
});
