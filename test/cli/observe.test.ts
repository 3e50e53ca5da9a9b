/**
 * End-to-end: `plip scan`, `plip positions`, `plip corpus validate|resolve` as a user runs them, on the real
 * corpus with the real stories260K model. The scan JSON is checked against the zod schema and the attention
 * invariants; interrupted runs resume; user errors print `error: …` (no stack trace) and exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { scanResultsSchema, type ScanRecord } from '../../src/experiments/scan/schema.ts';

const REAL = '../shared/corpus/attention_samples_universal.json';
const STORIES = '../shared/models/stories260K';
const tmp = mkdtempSync(join(tmpdir(), 'plip-observe-'));

function plip(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/plip.mjs', ...args], { encoding: 'utf8', env: { ...process.env, PLIP_NO_PROGRESS: '1', PLIP_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FAST = ['--n-permutations', '999', '--n-boot', '999'];

test('plip scan on the real corpus: schema-valid JSON, invariants, the PLIP-rs table, best layer, warnings', async () => {
  const out = join(tmp, 'scan.json');
  const r = plip('scan', '--model', STORIES, '--corpus', REAL, '--out', out, '--seed', '5', ...FAST);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /layer\s+python_doctest mean\s+rust_test mean\s+ratio\s+t\s+df\s+p\s+p_holm/);
  assert.match(r.stdout, /best layer: \d — python_doctest .* Holm-corrected p = /);
  assert.match(r.stdout, /Does python_doctest > rust_test survive\?/);
  assert.match(r.stdout, /observed \/ uniform causal null/);
  assert.match(r.stdout, /observed \/ position-matched control/);
  assert.match(r.stdout, /warning: group 'rust_baseline': 5\/5 sample\(s\) .* 0 by construction/);
  assert.ok(r.stdout.indexOf("warning: group 'rust_baseline'") < r.stdout.indexOf('Attention marker → targets'), 'caveats come before the tables');
  assert.match(r.stdout, new RegExp(`wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  const v = scanResultsSchema.safeParse(doc);
  assert.ok(v.success, JSON.stringify(v.error?.issues.slice(0, 3)));
  const res = v.data!;
  assert.equal(res.header.model.nLayers, 5);
  assert.equal(res.header.corpus.sha256, '9a9de181d37cb3f561b975c18cf57f92bc675551132562f262e325cf754c7ea9');
  assert.equal(res.header.seed, 5);
  assert.deepEqual(res.header.settings.layers, [0, 1, 2, 3, 4]);
  assert.equal(res.records.length, 30);
  // Invariants: values in [0, 1] (schema), null <= 1, zero by construction for rust_baseline, causal structure.
  const model = await loadModel(STORIES);
  for (const rec of res.records) {
    assert.ok(rec.uniformNull <= 1 && rec.uniformNull <= 1 / (rec.marker.token + 1) + 1e-15);
    if (rec.zeroByConstruction) assert.ok(rec.layers.every((L) => L.observed.every((x) => x === 0)));
    for (const L of rec.layers) {
      assert.equal(L.observed.length, 8);
      // head-average
      const avg = L.observed.reduce((a, b) => a + b, 0) / 8;
      assert.ok(Math.abs(avg - L.mean.observed) < 1e-15);
      // sink + everything else on the marker row ≤ 1
      L.sink.forEach((s, h) => assert.ok(s + L.observed[h]! * rec.targetTokens.length <= 1 + 1e-6));
    }
  }
  // Marker rows sum to 1 and are causal, checked directly on one sample of each group.
  for (const id of ['py_simple_add', 'rust_simple_add', 'py_comment_false_doctest', 'rust_inline_attribute']) {
    const rec = res.records.find((x: ScanRecord) => x.id === id)!;
    const code = JSON.parse(readFileSync(REAL, 'utf8'));
    const sample = Object.values(code).flat().find((s) => (s as { id?: string }).id === id) as { code: string };
    const ids = model.tokenizer!.encode(sample.code);
    assert.equal(ids.length, rec.nTokens);
    const { cache } = model.runWithCache(ids, { names: ['attn.hook_pattern'] });
    for (const L of rec.layers) {
      const P = cache.pattern(L.layer);
      for (let h = 0; h < 8; h++) {
        let sum = 0;
        for (let k = 0; k < ids.length; k++) {
          if (k > rec.marker.token) assert.equal(P.get(0, h, rec.marker.token, k), 0);
          sum += P.get(0, h, rec.marker.token, k);
        }
        assert.ok(Math.abs(sum - 1) < 1e-5);
        assert.equal(L.sink[h], P.get(0, h, rec.marker.token, 0));
        const obs = rec.visibleTargetTokens.reduce((a: number, t: number) => a + P.get(0, h, rec.marker.token, t), 0) / rec.targetTokens.length;
        assert.equal(L.observed[h], obs, `${id} L${L.layer} H${h}: scan value = hook_pattern value`);
      }
    }
  }
  // Same seed → identical records (CLI determinism).
  const out2 = join(tmp, 'scan2.json');
  const r2 = plip('scan', '--model', STORIES, '--corpus', REAL, '--out', out2, '--seed', '5', '--quiet', ...FAST);
  assert.equal(r2.code, 0, r2.stderr);
  const doc2 = JSON.parse(readFileSync(out2, 'utf8'));
  assert.deepEqual(doc2.records, doc.records);
  assert.deepEqual(doc2.summary, doc.summary);

  // Interrupted run: --stop-after leaves a resumable progress file; the rerun completes with the same records.
  const out3 = join(tmp, 'scan3.json');
  const p1 = plip('scan', '--model', STORIES, '--corpus', REAL, '--out', out3, '--seed', '5', '--stop-after', '9', ...FAST);
  assert.equal(p1.code, 0, p1.stderr);
  assert.match(p1.stdout, /stopped after 9 of 30 samples; rerun the same command to resume/);
  assert.ok(existsSync(`${out3}.progress.jsonl`));
  const p2 = plip('scan', '--model', STORIES, '--corpus', REAL, '--out', out3, '--seed', '5', '--quiet', ...FAST);
  assert.equal(p2.code, 0, p2.stderr);
  assert.match(p2.stderr, /resumed 9 record\(s\)/);
  const doc3 = JSON.parse(readFileSync(out3, 'utf8'));
  assert.deepEqual(doc3.records, doc.records);
  assert.deepEqual(doc3.summary, doc.summary);
});

test('plip scan with --layers/--heads subsets and user errors without stack traces', () => {
  const out = join(tmp, 'sub.json');
  const r = plip('scan', '--model', STORIES, '--corpus', REAL, '--out', out, '--layers', '2..=3', '--heads', '0,3,5', '--quiet', ...FAST);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(doc.header.settings.layers, [2, 3]);
  assert.deepEqual(doc.header.settings.heads, [0, 3, 5]);
  assert.equal(doc.records[0].layers[0].observed.length, 3);
  const bad = [
    [['--layers', '9'], /error: --layers: index 9 in '9' is out of range/, 2],
    [['--heads', '0,8'], /error: --heads: index 8 in '8' is out of range/, 2],
    [['--compare', 'python_doctest,go_test'], /error: --compare: group 'go_test' is not in the corpus/, 2],
    [['--layers', 'x'], /--layers: cannot parse 'x'/, 2],
  ] as const;
  for (const [args, re, code] of bad) {
    const e = plip('scan', '--model', STORIES, '--corpus', REAL, '--out', join(tmp, 'bad.json'), ...args);
    assert.equal(e.code, code, e.stderr);
    assert.match(e.stderr, re);
    assert.doesNotMatch(e.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('plip corpus validate / resolve and an invalid corpus naming sample id and field', () => {
  const v = plip('corpus', 'validate', '--corpus', REAL);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /valid format 2\.0 corpus, 30 samples \(python_doctest 10, rust_test 10, python_baseline 5, rust_baseline 5\)/);
  const raw = JSON.parse(readFileSync(REAL, 'utf8'));
  raw.python_doctest[2].marker_char_pos = 3;
  raw.rust_test[0].target_char_positions = [0, 500];
  const badPath = join(tmp, 'bad-corpus.json');
  writeFileSync(badPath, JSON.stringify(raw));
  const b = plip('corpus', 'validate', '--corpus', badPath);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /invalid corpus \(2 problems\)/);
  assert.match(b.stderr, /sample 'py_multi_param' \(python_doctest\[2\]\), field 'marker_char_pos'/);
  assert.match(b.stderr, /sample 'rust_simple_add' \(rust_test\[0\]\), field 'target_char_positions\[1\]': 500 is outside the code/);
  assert.doesNotMatch(b.stderr, /\n\s+at /);

  const pat = {
    _format_version: '2.0',
    python_doctest: [{ id: 'p', code: 'def mul(a, b):\n    """\n    >>> mul(2, 3)\n    6\n    """\n    return a * b', marker_pattern: '>>>', targets: 'function-signature' }],
    rust_test: [{ id: 'r', code: 'fn mul(a: i32, b: i32) -> i32 { a * b }\n\n#[test]\nfn t() { assert_eq!(mul(2, 3), 6); }', marker_pattern: '#[test]', targets: 'function-signature' }],
  };
  const inPath = join(tmp, 'patterns.json');
  const outPath = join(tmp, 'resolved.json');
  writeFileSync(inPath, JSON.stringify(pat));
  const rr = plip('corpus', 'resolve', '--corpus', inPath, '--out', outPath);
  assert.equal(rr.code, 0, rr.stderr);
  assert.match(rr.stdout, /wrote 2 samples \(2 resolved from patterns\)/);
  assert.match(rr.stdout, /p: function 'mul' \(innermost function containing the marker\) → targets 0, 4, 8, 11/);
  const resolved = JSON.parse(readFileSync(outPath, 'utf8'));
  assert.deepEqual(resolved.python_doctest[0].target_char_positions, [0, 4, 8, 11]);
  assert.equal(resolved.python_doctest[0].marker_char_pos, 27);
  assert.deepEqual(resolved.rust_test[0].target_char_positions, [0, 3, 6]);
  assert.equal(resolved.rust_test[0].marker_char_pos, 41);
  const again = plip('corpus', 'validate', '--corpus', outPath);
  assert.equal(again.code, 0, again.stderr);
});

test('plip positions: per-sample mapping table and summary; JSON output', () => {
  const out = join(tmp, 'positions.json');
  const r = plip('positions', '--model', STORIES, '--corpus', REAL, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sample\s+kind\s+char\s+text\s+token\s+token text\s+span\s+match/);
  assert.match(r.stdout, /py_simple_add\s+marker\s+27\s+">>>"\s+25\s+">"\s+\[27,28\)\s+exact/);
  assert.match(r.stdout, /markers: 30\/30 exact, 0 on merged tokens/);
  assert.match(r.stdout, /targets: 102\/102 exact, 0 nearest, 14 after the marker/);
  assert.match(r.stdout, /samples with every target after the marker \(attention 0 by construction\): 5/);
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(doc.samples.length, 30);
  assert.equal(doc.summary.markersExact, 30);
  const g = plip('positions', '--model', STORIES, '--corpus', REAL, '--group', 'nope');
  assert.equal(g.code, 1);
  assert.match(g.stderr, /error: group 'nope' is not in the corpus/);
});
