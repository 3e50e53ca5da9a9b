/**
 * Copying experiment: prompt loading/validation, call scoring, marker/name positions, that the knockout
 * really removes test-region → name attention at every decoding step, determinism and resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { attentionEdit } from '../../src/interventions/attention.ts';
import type { Tensor } from '../../src/tensor/tensor.ts';
import type { HookContext } from '../../src/hooks/types.ts';
import { loadCopyingPrompts, locatePositions } from '../../src/corpus/prompts.ts';
import { scoreCall } from '../../src/experiments/copying/score.ts';
import { findCalls } from '../../src/score/syntax.ts';
import { runCopying } from '../../src/experiments/copying/experiment.ts';

const PROMPTS = {
  _description: 'test prompts',
  python_doctest: [
    { id: 'p1', name: 'add_up', arity: 2, prompt: 'def add_up(a, b):\n    """Add a and b.\n\n    >>> ' },
    { id: 'p2', name: 'scale', arity: 2, prompt: 'def scale(x, f):\n    """Scale x by f (é).\n\n    >>> ' },
  ],
  rust_test: [{ id: 'r1', name: 'sub', arity: 2, prompt: 'fn sub(a: i32, b: i32) -> i32 { a - b }\n#[test]\nfn t() {\n    assert_eq!(' }],
};

function promptsFile(obj: unknown = PROMPTS): string {
  const f = join(mkdtempSync(join(tmpdir(), 'plip-copy-')), 'prompts.json');
  writeFileSync(f, JSON.stringify(obj));
  return f;
}

test('scoreCall: name on the first line, top-level argument count, strings and nesting', () => {
  assert.deepEqual(scoreCall('add_up(1, 2)\n3', 'add_up', 2), { called: true, nArgs: 2, arityOk: true });
  assert.deepEqual(scoreCall("add_up('a,b', [1, 2], f(3, 4))", 'add_up', 2), { called: true, nArgs: 3, arityOk: false });
  assert.deepEqual(scoreCall('add_up()', 'add_up', 0), { called: true, nArgs: 0, arityOk: true });
  assert.deepEqual(scoreCall('x = 1\nadd_up(1, 2)', 'add_up', 2), { called: false, nArgs: null, arityOk: false });
  assert.deepEqual(scoreCall('my_add_up(1, 2)', 'add_up', 2).called, false);
  assert.deepEqual(scoreCall('sub::<i32>(1, 2), -1);', 'sub', null), { called: true, nArgs: 2, arityOk: null });
  assert.deepEqual(scoreCall('add_up(1, ', 'add_up', 2), { called: true, nArgs: null, arityOk: false });
});

test('scoreCall agrees with findCalls (src/score/syntax.ts) on free calls vs method/path calls and strings', async () => {
  const py = ['add(1, 2)', 'self.add(1, 2)', 'x.add(1)', 'math.add(1)', 'print(add(1, 2))', 'my_add(1)', 'print("add(1)")', "print('add(', add(3, 4))", 'add (1, 2)', 'obj . add(1)', 'f(x).add(2)'];
  const rs = ['assert_eq!(add(2, 3), 5);', 'let x = self.add(1);', 'Foo::add(1, 2);', 'crate::add(1, 2);', 'super::add(1);', 'self::add(1);', 'add::<i32>(1, 2);', 'm::add(1);', 'let s = "add(1)";', 'x.add(1).unwrap();', 'a::crate::add(1);'];
  for (const [lang, lines] of [['python', py], ['rust', rs]] as const) {
    for (const line of lines) {
      const calls = await findCalls(lang, lang === 'rust' ? `fn t() { ${line} }` : line, 'add');
      const got = scoreCall(line, 'add', null);
      assert.equal(got.called, calls.length > 0, `${lang} ${JSON.stringify(line)}: scoreCall ${got.called}, findCalls ${calls.length}`);
      if (calls.length) assert.equal(got.nArgs, calls[0]!.positional + calls[0]!.keywords.length, `${lang} ${JSON.stringify(line)}: argument count`);
    }
  }
  assert.equal(scoreCall('self.add(1, 2)', 'add', 2).called, false, 'a method of another object is not the function');
});

test('prompt files: groups, metadata keys skipped, errors name file, group, id and field', () => {
  const ps = loadCopyingPrompts(promptsFile());
  assert.deepEqual(ps.map((p) => `${p.group}/${p.id}`), ['python_doctest/p1', 'python_doctest/p2', 'rust_test/r1']);
  assert.throws(() => loadCopyingPrompts(promptsFile({ g: [{ id: 'x', name: 'not an id', prompt: 'p' }] })), /g\[0\] \(id 'x'\): field 'name' must be an identifier/);
  assert.throws(() => loadCopyingPrompts(promptsFile({ g: [{ id: 'x', name: 'a', prompt: 'p' }, { id: 'x', name: 'a', prompt: 'p' }] })), /duplicate id 'x'/);
  assert.throws(() => loadCopyingPrompts('/nonexistent/p.json'), /p\.json: file not found/);
});

test('positions: marker is the last marker occurrence, name tokens come from the definition', async () => {
  const m = await loadModel('../shared/models/stories260K');
  const tok = m.tokenizer!;
  const [p1, p2, r1] = loadCopyingPrompts(promptsFile());
  for (const p of [p1!, p2!, r1!]) {
    const pos = locatePositions(tok, p, ['>>>', '#[test]']);
    const enc = tok.encodeWithOffsets(p.prompt);
    const nameText = pos.nameTokens.map((t) => [...p.prompt].slice(enc.offsets[t]![0], enc.offsets[t]![1]).join('')).join('');
    assert.ok(nameText.includes(p.name), `${p.id}: name tokens spell '${nameText}'`);
    assert.ok(pos.nameTokens.every((t) => t < pos.marker));
  }
  assert.throws(() => locatePositions(tok, { ...p1!, prompt: 'def add_up(a):\n  pass' }, ['>>>']), /none of the markers/);
});

test('the knockout removes test-region → name attention at every decoding step, and only there', async () => {
  const m = await loadModel('../shared/models/stories260K');
  const [p1] = loadCopyingPrompts(promptsFile());
  const pos = locatePositions(m.tokenizer!, p1!, ['>>>']);
  const maxTokens = 5;
  const sources = Array.from({ length: pos.ids.length + maxTokens - pos.marker }, (_, i) => pos.marker + i);
  const edit = { kind: 'knockout' as const, factor: 0, layers: [1], heads: [...Array(8).keys()], rules: [{ sources, targets: pos.nameTokens }], edgesPerLayer: 0, dropped: [] };
  let checkedRows = 0;
  let checkedL0 = 0;
  const base = m.runWithCache(pos.ids, { names: ['blocks.0.attn.hook_pattern'] }).cache.pattern(0);
  const check = {
    name: (n: string) => n === 'blocks.1.attn.hook_pattern' || n === 'blocks.0.attn.hook_pattern',
    fn: (t: Tensor, ctx: HookContext) => {
      const [, H, T, S] = t.shape as [number, number, number, number];
      for (let r = 0; r < T; r++) {
        const q = ctx.queryPositions[r]!;
        for (let h = 0; h < H; h++)
          for (const k of pos.nameTokens) {
            const w = t.data[(h * T + r) * S + k]!;
            if (ctx.layer === 1 && q >= pos.marker) {
              assert.equal(w, 0);
              checkedRows++;
            } else if (ctx.layer === 0 && q >= pos.marker && q < pos.ids.length) {
              // layer 0 is not edited: its prefill rows are the unedited run's
              assert.ok(Math.abs(w - base.get(0, h, q, k)) < 1e-6, `L0 h${h} q${q} k${k}: ${w} vs ${base.get(0, h, q, k)}`);
              checkedL0++;
            }
          }
      }
    },
  };
  const r = generate(m, pos.ids, { maxTokens, hooks: [...attentionEdit(edit), check] });
  assert.equal(r.ids.length, maxTokens);
  assert.ok(checkedRows >= 8 * pos.nameTokens.length * (pos.ids.length - pos.marker + maxTokens - 1), 'prefill rows and every decoded row were checked');
  assert.equal(checkedL0, 8 * pos.nameTokens.length * (pos.ids.length - pos.marker), 'every unedited layer-0 prefill row was compared');
});

test('runCopying: deterministic records, resume after interruption, statistics shape', async () => {
  const m = await loadModel('../shared/models/stories260K');
  const file = promptsFile();
  const prompts = loadCopyingPrompts(file);
  const out = join(mkdtempSync(join(tmpdir(), 'plip-copy-')), 'r.json');
  const opts = { units: [[0], [1], [0, 1]], controls: 2, maxTokens: 4, seed: 3, promptsPath: file };
  const a = runCopying(m, prompts, { ...opts, out });
  const b = runCopying(m, prompts, opts);
  assert.deepEqual(a.records, b.records);
  assert.equal(a.stats.length, 2 * 3);
  for (const s of a.stats) assert.ok(s.rateBaseline >= 0 && s.rateBaseline <= 1 && s.pHolmBaseline >= s.pMcNemarBaseline - 1e-12);
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(doc.header.experiment, 'copying');
  assert.equal(doc.records.length, 3);
  assert.ok(doc.records.every((r: { units: Record<string, { controls: unknown[] }> }) => Object.values(r.units).every((u) => u.controls.length === 2)));
  // interrupted run: crash after the first record; the rerun resumes it and adds the rest exactly once
  const out2 = join(mkdtempSync(join(tmpdir(), 'plip-copy-')), 'r.jsonl');
  assert.throws(
    () => runCopying(m, prompts, { ...opts, out: out2, onProgress: (done) => { if (done === 1) throw new Error('simulated crash'); } }),
    /simulated crash/,
  );
  const resumed = runCopying(m, prompts, { ...opts, out: out2 });
  assert.equal(resumed.resumed, 1);
  assert.deepEqual(resumed.records, a.records);
  const lines = readFileSync(out2, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.type === 'record').length, 3);
});

test("targets 'all' also covers later copies of the name (fn test_NAME) but not longer identifiers", async () => {
  const m = await loadModel('../shared/models/stories260K');
  const p = { id: 'r', group: 'g', name: 'sub', arity: 2, prompt: 'fn sub(a: i32) -> i32 { a }\nfn subtract() {}\n#[test]\nfn test_sub() {\n    assert_eq!(' };
  const def = locatePositions(m.tokenizer!, p, ['#[test]'], 'definition');
  const all = locatePositions(m.tokenizer!, p, ['#[test]'], 'all');
  const enc = m.tokenizer!.encodeWithOffsets(p.prompt);
  const spans = (ts: number[]) => ts.map((t) => enc.offsets[t]![0]);
  assert.ok(def.nameTokens.every((t) => t < def.marker));
  assert.ok(all.nameTokens.some((t) => t > all.marker), 'test_sub occurrence is included');
  assert.ok(spans(all.nameTokens).every((s) => s < p.prompt.indexOf('subtract') || s >= p.prompt.indexOf('subtract') + 8), "'subtract' is not a copy of 'sub'");
});

test('callLogprob equals a direct teacher-forced computation, and the knockout changes it', async () => {
  const m = await loadModel('../shared/models/stories260K');
  const prompts = loadCopyingPrompts(promptsFile());
  // python prompts end in '>>> ', whose space merges with the name in this tokenizer → callLogprob null (documented)
  const merged = runCopying(m, prompts.slice(0, 1), { units: [[0]], controls: 1, maxTokens: 1, seed: 1 });
  assert.equal(merged.records[0]!.baseline.callLogprob, null);
  assert.equal(merged.stats[0]!.nLogprob, 0);
  const r = runCopying(m, prompts.slice(2, 3), { units: [[0, 1, 2, 3, 4]], controls: 1, maxTokens: 2, seed: 1 });
  const rec = r.records[0]!;
  const p = prompts[2]!;
  const ids = m.tokenizer!.encode(p.prompt);
  const full = m.tokenizer!.encode(p.prompt + p.name + '(');
  const lg = m.forward(full).logits!.data;
  const V = m.spec.vocabSize;
  let lp = 0;
  for (let i = ids.length - 1; i < full.length - 1; i++) {
    const row = Array.from(lg.subarray(i * V, (i + 1) * V));
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
    lp += row[full[i + 1]!]! - lse;
  }
  assert.ok(Math.abs(rec.baseline.callLogprob! - lp) < 1e-6, `${rec.baseline.callLogprob} vs ${lp}`);
  assert.notEqual(rec.units['L0+1+2+3+4']!.knockout.callLogprob, rec.baseline.callLogprob);
  assert.equal(r.stats[0]!.nLogprob, 1);
});

test('the committed organism results (training/logs/plip_copying.json) match the copying results schema', async () => {
  const { copyingResultsSchema } = await import('../../src/experiments/copying/schema.ts');
  const doc = copyingResultsSchema.parse(JSON.parse(readFileSync('training/logs/plip_copying.json', 'utf8')));
  assert.equal(doc.header.experiment, 'copying');
  assert.ok(doc.records.length >= 50);
  assert.deepEqual(doc.summary.skipped, [], 'written before skipped prompts were reported: read as none');
});

test('an edit that raises copying is found: two-sided McNemar/permutation with the direction, condition recorded', async () => {
  const { summarizeCopying, copyingReach } = await import('../../src/experiments/copying/experiment.ts');
  const out = (called: boolean) => ({ completion: called ? 'f(1)' : 'x', called, nArgs: called ? 1 : null, arityOk: null, callLogprob: null });
  // 12 prompts: never copied at baseline nor under the control, always under the edit
  const recs = Array.from({ length: 12 }, (_, i) => ({
    key: `p${i}`, id: `p${i}`, group: 'g', name: 'f', condition: 'scale(2)', marker: 3, nameTokens: [1],
    baseline: out(false),
    units: { L0: { layers: [0], knockout: out(true), controls: [out(false)], controlKeys: [[2]] } },
  }));
  const [row] = summarizeCopying(recs, [[0]], 1, { factor: 2 });
  assert.equal(row!.condition, 'scale(2)');
  assert.equal(row!.directionBaseline, 'higher');
  assert.equal(row!.directionControl, 'higher');
  assert.ok(Math.abs(row!.pMcNemarBaseline - 2 / 4096) < 1e-12, `two-sided exact McNemar 2·2^-12, got ${row!.pMcNemarBaseline}`);
  assert.ok(Math.abs(row!.pPermControl - 2 / 4096) < 1e-12, `two-sided exact sign-flip 2/2^12, got ${row!.pPermControl}`);
  assert.equal(row!.effect, true);
  // the mirror image (a knockout that removes copying) is as significant, direction lower
  const low = recs.map((r) => ({ ...r, condition: 'knockout', baseline: out(true), units: { L0: { ...r.units.L0, knockout: out(false), controls: [out(true)] } } }));
  const [lo] = summarizeCopying(low, [[0]], 1);
  assert.equal(lo!.condition, 'knockout');
  assert.equal(lo!.directionBaseline, 'lower');
  assert.equal(lo!.pMcNemarBaseline, row!.pMcNemarBaseline);
  assert.equal(lo!.effect, true);
  // reachability: 4 prompts under 3 units cannot reach α (3 · 2 · 2^-4 = 0.375)
  const r = copyingReach(4, 3);
  assert.ok(Math.abs(r.minHolmBaseline - 0.375) < 1e-12);
  assert.equal(r.reachable, false);
  assert.equal(copyingReach(12, 1).reachable, true);
});

test('runCopying --factor records the condition that ran, and the summary states the reachable p', async () => {
  const m = await loadModel('../shared/models/stories260K');
  const prompts = loadCopyingPrompts(promptsFile());
  const r = runCopying(m, prompts.slice(2, 3), { units: [[0]], controls: 1, maxTokens: 1, seed: 1, factor: 2 });
  assert.equal(r.records[0]!.condition, 'scale(2)');
  assert.equal(r.stats[0]!.condition, 'scale(2)');
  assert.equal(r.summary!.reach![0]!.reachable, false, 'one prompt cannot reach α');
  const { renderCopying } = await import('../../src/experiments/copying/render.ts');
  const text = renderCopying(r.summary!, r);
  assert.match(text, /warning: rust_test: n = 1, Holm over 1 unit\(s\); smallest reachable adjusted p: vs baseline 1\.00/);
  assert.match(text, /scale\(2\)/);
  const k = runCopying(m, prompts.slice(2, 3), { units: [[0]], controls: 1, maxTokens: 1, seed: 1, level: 0.5 });
  assert.equal(k.records[0]!.condition, 'set(0.5)');
});
