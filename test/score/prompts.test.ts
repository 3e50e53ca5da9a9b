/**
 * The committed prompt sets (prompts/*.json): they validate, have >= 50 records per language, their
 * `params` are the reference's parameters (tree-sitter), and every reference passes its own hand-written
 * test (`solution`) in the sandbox — Python one doctest run each through the full scorer, Rust one crate
 * per file (each prompt a module) compiled with one `rustc --test`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPrompts, parsePrompts, PromptsError, type PromptRecord } from '../../src/score/prompts-schema.ts';
import { rustProgram, scoreCompletion, staticScore } from '../../src/score/score.ts';
import { executeRust } from '../../src/score/execute.ts';
import { paramSpec } from '../../src/score/syntax.ts';

const FILES = ['prompts/organism.json', 'prompts/real-python.json', 'prompts/real-rust.json'];
const sets = FILES.map((f) => loadPrompts(f));
const all = sets.flatMap((s) => [...s.byId.values()]);

test('prompt files validate; >= 50 prompts per language in each set', () => {
  const org = sets[0]!;
  assert.ok(org.groups.python!.length >= 50 && org.groups.rust!.length >= 50);
  assert.ok(sets[1]!.groups.python!.length >= 50);
  assert.ok(sets[2]!.groups.rust!.length >= 50);
  for (const s of sets) for (const [g, rs] of Object.entries(s.groups)) for (const r of rs) assert.equal(r.language, g, `${s.file}: ${r.id}`);
  for (const r of all) assert.equal(typeof r.solution, 'string', `${r.id} has a solution`);
  const ids = all.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique across the sets');
});

test('prompts/real.json is real-python.json + real-rust.json', () => {
  const both = loadPrompts('prompts/real.json');
  assert.deepEqual(both.groups, { python: sets[1]!.groups.python, rust: sets[2]!.groups.rust });
});

test('params are the parameters of the reference function (tree-sitter)', async () => {
  for (const r of all) {
    const spec = await paramSpec(r.language, r.reference, r.name);
    assert.ok(spec, `${r.id}: the reference defines ${r.name}`);
    assert.deepEqual(r.params, spec.names, `${r.id}: params`);
  }
});

test('every solution calls the function with a fitting arity and parses', async () => {
  for (const r of all) {
    const s = await staticScore(r, r.solution!);
    assert.deepEqual({ called: s.called, arityOk: s.arityOk, syntaxOk: s.syntaxOk }, { called: true, arityOk: true, syntaxOk: true }, r.id);
  }
});

test('every Python reference passes its own doctest in the sandbox', async () => {
  const py = all.filter((r) => r.language === 'python');
  for (const r of py) {
    const s = await scoreCompletion(r, r.solution!);
    assert.equal(s.executed, 'pass', `${r.id}: ${s.detail}`);
  }
});

function crate(rs: PromptRecord[]): string {
  return rs.map((r, i) => `mod p${i}_${r.id.replace(/\W/g, '_')} {\n${rustProgram(r, r.solution!)}}\n`).join('\n');
}

for (const s of sets) {
  const rs = s.groups.rust;
  if (!rs) continue;
  test(`every Rust reference of ${s.file} passes its own test (one rustc --test, ${rs.length} modules)`, async () => {
    const ex = await executeRust(crate(rs), { compile: { wallMs: 300_000, cpuSeconds: 300 }, run: { wallMs: 60_000 } });
    assert.equal(ex.executed, 'pass', ex.detail);
    assert.match(ex.detail, new RegExp(`ok\\. ${rs.length} passed; 0 failed`));
  });
}

test('bad prompt files get errors naming the file, the record and the field', () => {
  const good = sets[1]!.groups.python![0]!;
  const err = (json: unknown) => {
    try {
      parsePrompts(json, 'x.json');
    } catch (e) {
      assert.ok(e instanceof PromptsError);
      return e.message;
    }
    assert.fail('expected a PromptsError');
  };
  assert.match(err([]), /x\.json: a prompts file is a JSON object of groups/);
  assert.match(err({ python: {} }), /group "python" must be an array/);
  assert.match(err({ python: [{ ...good, language: 'go' }] }), /python\[0\] \(id "py_real_00_add"\): field "language"/);
  assert.match(err({ python: [{ ...good, prompt: 'def add(a, b):\n    """' }] }), /field "prompt": a Python prompt must end with a `>>>` marker/);
  assert.match(err({ python: [{ ...good, reference: 'def sub(a, b): pass' }] }), /field "reference": must define the function `add`/);
  assert.match(err({ python: [good, good] }), /python\[1\]: duplicate id "py_real_00_add"/);
  assert.match(err({ _meta: 1 }), /no prompt records/);
});
