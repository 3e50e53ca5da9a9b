/**
 * Pattern-based corpora: markers found by pattern, targets by pattern or by parsing the function signature
 * (tree-sitter), and the round trip on the real corpus (positions stripped → resolved → identical).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CorpusError, findFunctions, loadCorpus, parseCorpus, resolveSignatureTargets } from '../../src/corpus/index.ts';

const REAL = '../shared/corpus/attention_samples_universal.json';
const cp = (code: string, needle: string, from = 0) => {
  const cps = Array.from(code);
  const n = Array.from(needle);
  for (let i = from; i + n.length <= cps.length; i++) if (n.every((c, j) => cps[i + j] === c)) return i;
  throw new Error(`'${needle}' not in code`);
};

test('real corpus round trip: positions stripped, resolved from patterns, identical for every doctest/test/python-baseline sample', async () => {
  const explicit = await loadCorpus(REAL);
  const raw = JSON.parse(readFileSync(REAL, 'utf8'));
  for (const g of ['python_doctest', 'rust_test', 'python_baseline']) {
    for (const s of raw[g]) {
      delete s.marker_char_pos;
      delete s.target_char_positions;
      s.targets = 'function-signature';
    }
  }
  delete raw.rust_baseline; // its targets follow another convention (struct + fn keyword/name), see docs/corpus-format.md
  const resolved = await parseCorpus(JSON.stringify(raw), 'stripped.json');
  assert.equal(resolved.samples.length, 25);
  assert.equal(resolved.resolved, true);
  for (const s of resolved.samples) {
    const o = explicit.samples.find((x) => x.id === s.id)!;
    assert.equal(s.markerCharPos, o.markerCharPos, `${s.id}: marker`);
    assert.deepEqual(s.targetCharPositions, o.targetCharPositions, `${s.id}: targets`);
    assert.equal(s.source.marker, 'pattern');
    assert.equal(s.source.targets, 'function-signature');
  }
  // The Rust test samples resolve to the function the test calls (through assert! macros too).
  const rs = resolved.samples.filter((s) => s.group === 'rust_test');
  assert.ok(rs.every((s) => s.source.signature!.rule.startsWith('function called by')), rs.map((s) => s.source.signature!.rule).join('; '));
  assert.equal(resolved.samples.find((s) => s.id === 'rust_cfg_test_module')!.source.signature!.name, 'is_prime');
});

test('marker by pattern with marker_occurrence; target patterns with occurrence and offset', async () => {
  const code = 'def divide(a, b):\n    """\n    >>> divide(4, 2)\n    2.0\n    >>> divide(1, 2)\n    0.5\n    """\n    return a / b';
  const c = await parseCorpus(
    JSON.stringify({
      _format_version: '2.0',
      python_doctest: [
        { id: 'p', code, marker_pattern: '>>>', marker_occurrence: 2, target_patterns: ['def', { pattern: 'divide' }, { pattern: '(a', offset: 1 }, { pattern: 'b', occurrence: 1 }] },
      ],
    }),
  );
  const s = c.samples[0]!;
  assert.equal(s.markerCharPos, cp(code, '>>>', cp(code, '>>>') + 1));
  assert.deepEqual(s.targetCharPositions, [0, 4, 11, 14]);
  assert.equal(s.source.targets, 'patterns');
});

test('pattern errors name the sample and field', async () => {
  const code = 'def f(x):\n    """\n    >>> f(1)\n    """';
  const bad = (extra: object) =>
    parseCorpus(JSON.stringify({ _format_version: '2.0', python_doctest: [{ id: 'p', code, marker_pattern: '>>>', ...extra }] }), 'pat.json');
  await assert.rejects(bad({ marker_occurrence: 2, targets: 'function-signature' }), (e: Error) => e instanceof CorpusError && /sample 'p' \(python_doctest\[0\]\), field 'marker_occurrence': marker_pattern ">>>" occurs 1 time\(s\)/.test(e.message));
  await assert.rejects(bad({ target_patterns: ['lambda'] }), (e: Error) => /field 'target_patterns\[0\]': pattern "lambda" occurs 0 time\(s\)/.test(e.message));
  await assert.rejects(bad({ targets: 'function-signature', function: 'g' }), (e: Error) => /field 'targets': no function named 'g' in the code \(found: f\)/.test(e.message));
  await assert.rejects(bad({ targets: 'everything' }), (e: Error) => /field 'targets': targets must be "function-signature"/.test(e.message));
  await assert.rejects(
    parseCorpus(JSON.stringify({ _format_version: '2.0', misc: [{ id: 'q', code: 'x = 1 # @@', marker_pattern: '@@', targets: 'function-signature' }] })),
    (e: Error) => /sample 'q' \(misc\[0\]\), field 'language': cannot tell the language/.test(e.message),
  );
  await assert.rejects(
    parseCorpus(JSON.stringify({ _format_version: '2.0', misc: [{ id: 'q', code: 'x = 1 # @@', marker_pattern: '@@', targets: 'function-signature', language: 'python' }] })),
    (e: Error) => /field 'targets': no python function definition found/.test(e.message),
  );
});

test('Python signatures: async def, defaults, annotations, *args/**kwargs, keyword-only separator; innermost function', async () => {
  const code = [
    'class K:',
    '    async def run(self, a: int, b=2, *args, c: str = "x", **kw):',
    '        def inner(z):',
    '            """',
    '            >>> inner(1)',
    '            """',
    '            return z',
    '        """',
    '        >>> K().run(1)',
    '        """',
    '        return a',
    'def g(p, *, q):',
    '    return p',
  ].join('\n');
  const fns = await findFunctions(code, 'python');
  assert.deepEqual(
    fns.map((f) => f.name),
    ['run', 'inner', 'g'],
  );
  const run = fns[0]!;
  assert.equal(run.keywordPos, cp(code, 'def run'));
  assert.equal(run.namePos, cp(code, 'run('));
  assert.deepEqual(run.paramPositions, [cp(code, 'self'), cp(code, 'a: int'), cp(code, 'b=2'), cp(code, 'args'), cp(code, 'c: str'), cp(code, 'kw)')]);
  assert.deepEqual(fns[2]!.paramPositions, [cp(code, 'p, *'), cp(code, 'q)')]);
  const m1 = await resolveSignatureTargets(code, 'python', cp(code, '>>> inner'));
  assert.equal(m1.fn.name, 'inner');
  const m2 = await resolveSignatureTargets(code, 'python', cp(code, '>>> K()'));
  assert.equal(m2.fn.name, 'run');
  assert.equal(m2.rule, 'innermost function containing the marker');
  // A module-level doctest refers to the function it calls.
  const mod = '""">>> g(1)\n"""\ndef f(x):\n    return x\ndef g(y):\n    return y';
  const m3 = await resolveSignatureTargets(mod, 'python', 3);
  assert.equal(m3.fn.name, 'g');
  assert.match(m3.rule, /called on the marker's line/);
});

test('Rust signatures: plip-rs style (fn, name, char after name) and full style (parameters); doc-comment markers; non-ASCII', async () => {
  const code = [
    '/// Example: ñ 😀',
    '/// #[test] fn t() { assert_eq!(ünïcode_add(1, 2), 3); }',
    'pub fn ünïcode_add<T: Copy>(mut a: i32, (b, c): (i32, i32), &self) -> i32 { a }',
    '',
    'fn helper(x: u8) -> u8 { x }',
    '',
    '#[cfg(test)]',
    'mod tests {',
    '    use super::*;',
    '    #[test]',
    '    fn t() { assert!(helper(1) == 1); }',
    '}',
  ].join('\n');
  const docMarker = cp(code, '#[test]');
  const r = await resolveSignatureTargets(code, 'rust', docMarker);
  assert.equal(r.fn.name, 'ünïcode_add');
  assert.equal(r.rule, 'next function after the comment containing the marker');
  assert.deepEqual(r.targets, [cp(code, 'fn ünïcode_add'), cp(code, 'ünïcode_add<'), cp(code, '<T: Copy>')]);
  const full = await resolveSignatureTargets(code, 'rust', docMarker, { style: 'full' });
  assert.deepEqual(full.targets, [cp(code, 'fn ünïcode_add'), cp(code, 'ünïcode_add<'), cp(code, 'a: i32'), cp(code, 'b, c)'), cp(code, 'self)')]);
  const attr = cp(code, '#[test]', docMarker + 1);
  const r2 = await resolveSignatureTargets(code, 'rust', attr);
  assert.equal(r2.fn.name, 'helper');
  assert.match(r2.rule, /function called by 't'/);
  const fns = await findFunctions(code, 'rust');
  assert.deepEqual(
    fns.map((f) => [f.name, f.isTest]),
    [
      ['ünïcode_add', false],
      ['helper', false],
      ['t', true],
    ],
  );
  const named = await resolveSignatureTargets(code, 'rust', attr, { function: 'ünïcode_add' });
  assert.equal(named.rule, "named 'ünïcode_add'");
});

test('a pattern-based corpus with language override and signature_style resolves and records how', async () => {
  const code = 'fn add(a: i32, b: i32) -> i32 { a + b }\n\n#[test]\nfn test_add() { assert_eq!(add(1, 2), 3); }';
  const c = await parseCorpus(
    JSON.stringify({
      _format_version: '2.0',
      examples: [{ id: 'r', code, marker_pattern: '#[test]', targets: 'function-signature', signature_style: 'full', language: 'rust', note: 'hand-made' }],
    }),
  );
  const s = c.samples[0]!;
  assert.equal(s.language, 'rust');
  assert.deepEqual(s.targetCharPositions, [0, 3, 7, 15]);
  assert.deepEqual(s.source.signature, { name: 'add', style: 'full', rule: "function called by 'test_add', the item the marker attribute is attached to" });
  assert.equal(s.note, 'hand-made');
});
