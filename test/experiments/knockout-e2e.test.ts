/**
 * End to end: `plip knockout` on the real corpus with the real stories260K model (two layers to keep it
 * fast). Checks the results file against the zod schema, invariants (Pinsker's bound on KL, control counts, matched edge
 * counts, not-applicable Rust baselines, no NaN), determinism with the same seed, and user errors.
 * (Determinism of the summary and resume are covered in knockout.test.ts.)
 * Also `plip intervene` with flags and with a future edge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knockoutResultsSchema } from '../../src/experiments/knockout/schema.ts';

const MODEL = '../shared/models/stories260K';
const CORPUS = '../shared/corpus/attention_samples_universal.json';
const dir = mkdtempSync(join(tmpdir(), 'plip-ko-e2e-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function plip(args: string[]) {
  return spawnSync(process.execPath, ['bin/plip.mjs', ...args], { encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1' } });
}

const ARGS = ['knockout', '--model', MODEL, '--corpus', CORPUS, '--layers', '0..=1', '--mode', 'per-layer,all-layers,window', '--controls', '3', '--seed', '7', '--n-boot', '300'];

test('plip knockout on the real corpus: schema, invariants, summary, determinism', () => {
  const a = join(dir, 'a.json');
  const r = plip([...ARGS, '--out', a]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /KL\(P_baseline ‖ P_intervened\)/);
  assert.match(r.stdout, /success criterion .*: (MET|NOT MET)/);
  assert.match(r.stdout, /rust_derive_debug \(rust_baseline\): not applicable \(edges to future tokens\)/);
  assert.ok(!existsSync(`${a}.progress.jsonl`), 'progress file removed at the end');
  const text = readFileSync(a, 'utf8');
  assert.ok(!/NaN|Infinity/.test(text));
  const doc = knockoutResultsSchema.parse(JSON.parse(text));
  assert.deepEqual(doc.header.settings, { layers: [0, 1], modes: ['per-layer', 'all-layers', 'window'], window: 2, heads: 'all', controls: 3, topK: 10, markerToken: 'last', targets: 'spans', minKey: 1, groups: null, limit: null });
  const units = ['L0', 'L1', 'all', 'W0-1'];
  const na = doc.records.filter((x) => x.status === 'not_applicable');
  const ok = doc.records.filter((x) => x.status === 'ok');
  assert.deepEqual([...new Set(na.map((x) => x.group))], ['rust_baseline'], 'Rust baselines: marker at 0, targets after it');
  assert.equal(na.length, 5);
  for (const x of na) assert.ok(x.futureTargets.length > 0 && x.targets.length === 0);
  assert.equal(ok.length, 25 * units.length);
  assert.equal(new Set(doc.records.map((x) => x.key)).size, doc.records.length, 'unique keys');
  for (const x of ok) {
    assert.ok(units.includes(x.unit.id));
    assert.equal(x.controls.length, 3);
    // Pinsker: KL ≥ 2·TV² ≥ 2·(Δp of the baseline top-1)² — fails for a wrong or clamped-to-0 KL
    for (const c of [x.knockout, ...x.controls]) assert.ok(c.kl >= 2 * c.dProbTop1 ** 2 - 1e-6, `${x.key}: KL ${c.kl} < 2·Δp² = ${2 * c.dProbTop1 ** 2}`);
    const perLayer = 8 * x.unit.layers.length;
    assert.equal(x.knockout.edges, x.targets.length * perLayer);
    for (const c of x.controls) {
      if (x.notes.some((n) => /control candidate/.test(n))) continue;
      assert.equal(c.edges, x.knockout.edges, `${x.key}: controls knock out as many edges`);
      assert.ok(c.keys.every((k) => k >= 1 && k < x.marker.token && !x.targets.includes(k)));
    }
    assert.ok(Math.abs(x.diff.kl - (x.knockout.kl - x.controlMean.kl)) < 1e-12);
    assert.ok(x.knockout.topkJaccard >= 0 && x.knockout.topkJaccard <= 1);
    if (x.continuation) {
      assert.equal(x.knockout.continuation!.dNll.length, x.continuation.to - x.continuation.from);
      assert.equal(x.continuation.from, x.marker.token);
    }
  }
  // with the same seed the per-layer and all-layers units share the controls' keys
  const keysOf = (id: string, u: string) => ok.find((x) => x.id === id && x.unit.id === u)!.controls.map((c) => c.keys);
  assert.deepEqual(keysOf('py_simple_add', 'L0'), keysOf('py_simple_add', 'all'));
  assert.deepEqual(doc.summary.units.map((u) => u.unit.id), units);
  assert.ok(doc.summary.units.every((u) => u.n === 20));
  assert.equal(doc.summary.nApplicable, 25);
  assert.equal(typeof doc.summary.verdict.met, 'boolean');
  assert.ok(ok.filter((x) => x.knockout.kl > 0).length >= 0.9 * ok.length, 'knocking out positive attention mass changes the prediction');
  assert.equal(doc.summary.markerToken, 'last');
  assert.deepEqual(Object.keys(doc.summary.verdictByLanguage!), ['python', 'rust']);
  assert.match(r.stdout, /per language: python: (MET|NOT MET)/);
  assert.match(r.stdout, /smallest reachable Holm-adjusted p/);

  // determinism: the same seed gives identical records — also when only a subset of samples is run
  // (each sample's controls come from its own named stream)
  const b = join(dir, 'b.json');
  const r2 = plip([...ARGS, '--limit', '3', '--out', b]);
  assert.equal(r2.status, 0, r2.stderr);
  const doc2 = knockoutResultsSchema.parse(JSON.parse(readFileSync(b, 'utf8')));
  assert.equal(doc2.records.length, 4 * 3 * units.length - 3 * (units.length - 1));
  const byKey = new Map(doc.records.map((x) => [x.key, x]));
  for (const x of doc2.records) assert.deepEqual(x, byKey.get(x.key), x.key);
});

test('plip knockout: usage errors are one line naming the flag, exit 2, no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['--layers', '9'], /--layers: index 9 in '9' is out of range/],
    [['--heads', '0,12'], /--heads: index 12 in '12' is out of range/],
    [['--mode', 'sideways'], /--mode: 'sideways' is not a mode/],
    [['--groups', 'go_test'], /--groups: corpus has no group 'go_test'/],
  ];
  for (const [extra, re] of cases) {
    const r = plip(['knockout', '--model', MODEL, '--corpus', CORPUS, '--out', join(dir, 'err.json'), ...extra]);
    assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /^error: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('plip intervene: flags, future edges reported, spec files', () => {
  const r = plip(['intervene', '--model', MODEL, '--text', 'Once upon a time there was', '--kind', 'knockout', '--layers', '0..=2', '--sources', '6', '--targets', '1,2', '--continuation', ' a cat', '--top-k', '3', '--out', join(dir, 'iv.json')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /KL\(baseline ‖ intervened\) = .* nats/);
  assert.match(r.stdout, /continuation \(\d+ tokens\): ppl/);
  const j = JSON.parse(readFileSync(join(dir, 'iv.json'), 'utf8'));
  assert.deepEqual(Object.keys(j.intervened.patterns), ['0', '1', '2']);
  assert.equal(j.intervened.patterns['1'][0][3][6][1], 0, 'knocked-out weight is 0 in the written pattern');
  const fut = plip(['intervene', '--model', MODEL, '--text', 'Once upon a time', '--kind', 'knockout', '--layers', '1', '--sources', '1', '--targets', '3']);
  assert.equal(fut.status, 1);
  assert.match(fut.stderr, /^error: spec\[0\]\.edges\[0\]: edge 1→3 is to a future token/);
  const drop = plip(['intervene', '--model', MODEL, '--text', 'Once upon a time', '--kind', 'knockout', '--layers', '1', '--sources', '1,4', '--targets', '3', '--drop-future-edges']);
  assert.equal(drop.status, 0, drop.stderr);
  assert.match(drop.stdout, /dropped \(not applied\): spec\[0\] edge 1→3 \(future token\)/);
  const bad = plip(['intervene', '--model', MODEL, '--text', 'x', '--spec', join(dir, 'missing.json')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--spec .*missing\.json: cannot read the file \(ENOENT\)/);
});
