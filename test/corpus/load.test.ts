/**
 * Corpus format 2.0: loading the real corpus, validation errors (each naming file, sample id and field),
 * code point positions for non-ASCII code, and the explicit-position writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusError, corpusToJson, loadCorpus, parseCorpus } from '../../src/corpus/index.ts';
import { codePointToUtf16 } from '../../src/tokenize/positions.ts';

const REAL = '../shared/corpus/attention_samples_universal.json';

function corpus(samples: Record<string, unknown[]>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ _format_version: '2.0', ...extra, ...samples });
}

const PY = { id: 'py1', code: 'def f(x):\n    """\n    >>> f(1)\n    """\n    return x', marker_char_pos: 22, marker_pattern: '>>>', target_char_positions: [0, 4, 6] };

async function errorOf(text: string, file = 'c.json'): Promise<CorpusError> {
  try {
    await parseCorpus(text, file);
  } catch (e) {
    assert.ok(e instanceof CorpusError, `expected a CorpusError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the corpus to be rejected');
}

test('the real corpus loads: 4 groups, 30 samples, hash of the file, zero-by-construction warnings', async () => {
  const c = await loadCorpus(REAL);
  assert.deepEqual(c.groups, ['python_doctest', 'rust_test', 'python_baseline', 'rust_baseline']);
  assert.deepEqual(
    c.groups.map((g) => c.samples.filter((s) => s.group === g).length),
    [10, 10, 5, 5],
  );
  assert.equal(c.sha256, createHash('sha256').update(readFileSync(REAL)).digest('hex'));
  assert.equal(c.resolved, false);
  assert.equal(c.samples[0]!.language, 'python');
  assert.equal(c.samples.find((s) => s.group === 'rust_test')!.language, 'rust');
  const zero = c.warnings.filter((w) => w.includes('0 by construction'));
  assert.equal(zero.length, 5);
  assert.ok(zero.every((w) => w.includes('rust_baseline[')));
  for (const s of c.samples) {
    const cps = Array.from(s.code);
    assert.equal(cps.slice(s.markerCharPos, s.markerCharPos + Array.from(s.markerPattern).length).join(''), s.markerPattern);
  }
});

test('malformed JSON names the file and the line', async () => {
  const e = await errorOf('{\n  "_format_version": "2.0",\n  "g": [ {"id": 1,, }\n]}', 'broken.json');
  assert.match(e.message, /^broken\.json: invalid corpus \(1 problem\):\n  not valid JSON/);
  // V8 reports a position for most syntax errors; it is turned into line:column.
  const e2 = await errorOf('{\n  "_format_version": "2.0",\n  "g": [ {"id": 1 "x"}]}', 'broken.json');
  assert.match(e2.message, /not valid JSON \(line 3, column 19\)/);
});

test('an unreadable file is a CorpusError naming the path', async () => {
  await assert.rejects(loadCorpus('/nonexistent/corpus.json'), (e: Error) => e instanceof CorpusError && /\/nonexistent\/corpus\.json/.test(e.message) && /ENOENT/.test(e.message));
});

test('wrong types name the sample id and the field', async () => {
  const e = await errorOf(corpus({ python_doctest: [{ ...PY, marker_char_pos: '22' }] }));
  assert.equal(e.issues.length, 1);
  assert.equal(e.issues[0]!.sampleId, 'py1');
  assert.equal(e.issues[0]!.field, 'marker_char_pos');
  assert.match(e.message, /sample 'py1' \(python_doctest\[0\]\), field 'marker_char_pos': marker_char_pos must be an integer \(got "22"\)/);

  const e2 = await errorOf(corpus({ python_doctest: [{ ...PY, target_char_positions: [0, 4.5] }] }));
  assert.match(e2.message, /sample 'py1' \(python_doctest\[0\]\), field 'target_char_positions\[1\]'/);

  const e3 = await errorOf(corpus({ python_doctest: [{ ...PY, code: 42 }] }));
  assert.match(e3.message, /sample 'py1'.*field 'code': code must be a string/);
});

test('a sample without a valid id is named by group[index]', async () => {
  const { id: _id, ...noId } = PY;
  const e = await errorOf(corpus({ python_doctest: [PY, noId] }));
  assert.match(e.message, /sample python_doctest\[1\], field 'id'/);
});

test('marker mismatch: the pattern is not at marker_char_pos (with a hint where it is)', async () => {
  const e = await errorOf(corpus({ python_doctest: [{ ...PY, marker_char_pos: 21 }] }));
  assert.equal(e.issues[0]!.field, 'marker_char_pos');
  assert.match(e.message, /sample 'py1' \(python_doctest\[0\]\), field 'marker_char_pos': marker_pattern ">>>" does not occur at code point 21 \(found " >>"; it occurs at code point 22\)/);
  const e2 = await errorOf(corpus({ python_doctest: [{ ...PY, marker_pattern: '#[test]' }] }));
  assert.match(e2.message, /does not occur in the code at all/);
});

test('out-of-range positions name the field and the valid range', async () => {
  const n = Array.from(PY.code).length;
  const e = await errorOf(corpus({ python_doctest: [{ ...PY, target_char_positions: [0, n, 4] }] }));
  assert.equal(e.issues[0]!.field, 'target_char_positions[1]');
  assert.match(e.message, new RegExp(`field 'target_char_positions\\[1\\]': ${n} is outside the code \\(${n} code points, valid 0\\.\\.${n - 1}\\)`));
  const e2 = await errorOf(corpus({ python_doctest: [{ ...PY, marker_char_pos: 999 }] }));
  assert.match(e2.message, /field 'marker_char_pos': 999 is outside the code/);
  const e3 = await errorOf(corpus({ python_doctest: [{ ...PY, target_char_positions: [-1] }] }));
  assert.match(e3.message, /field 'target_char_positions\[0\]': a target position must be ≥ 0/);
  const e4 = await errorOf(corpus({ python_doctest: [{ ...PY, target_char_positions: [] }] }));
  assert.match(e4.message, /field 'target_char_positions': target_char_positions must not be empty/);
});

test('unknown fields, duplicate ids, bad groups, format version: all reported at once', async () => {
  const e = await errorOf(
    JSON.stringify({
      _format_version: '1.0',
      python_doctest: [{ ...PY, marker_char_po: 3 }, PY, PY],
      rust_test: { id: 'x' },
    }),
  );
  const msg = e.message;
  assert.match(msg, /field '_format_version': is "1\.0"; only "2\.0" is supported/);
  assert.match(msg, /sample 'py1' \(python_doctest\[0\]\), field 'marker_char_po': unknown field\(s\) 'marker_char_po'/);
  assert.match(msg, /sample 'py1' \(python_doctest\[2\]\), field 'id': duplicate id \(also used by python_doctest\[1\]\)/);
  assert.match(msg, /field 'rust_test': group 'rust_test' must be an array of samples/);
  assert.equal(e.issues.length, 4);
  const e2 = await errorOf(JSON.stringify({ python_doctest: [PY] }));
  assert.match(e2.message, /field '_format_version': missing \(expected "2\.0"\)/);
  const e3 = await errorOf('[1, 2]');
  assert.match(e3.message, /top level must be a JSON object/);
});

test('targets: exactly one form; function/signature_style only with function-signature', async () => {
  const { target_char_positions: _t, ...noTargets } = PY;
  const e = await errorOf(corpus({ python_doctest: [noTargets] }));
  assert.match(e.message, /sample 'py1'.*field 'target_char_positions': no targets/);
  const e2 = await errorOf(corpus({ python_doctest: [{ ...PY, target_patterns: ['def'] }] }));
  assert.match(e2.message, /field 'target_patterns': give only one of target_char_positions, target_patterns/);
  const e3 = await errorOf(corpus({ python_doctest: [{ ...PY, function: 'f' }] }));
  assert.match(e3.message, /field 'function': only meaningful with targets: "function-signature"/);
});

test('non-ASCII code: positions are code points (é, 中文, emoji before the marker)', async () => {
  const code = '# é 中文 😀 café\ndef añadir(x, ÿ):\n    """\n    >>> añadir(1, 2)\n    """\n    return x';
  const cps = Array.from(code);
  const marker = cps.join('').indexOf('>>>'); // UTF-16 index
  const markerCp = cps.findIndex((_, i) => cps.slice(i, i + 3).join('') === '>>>');
  assert.notEqual(marker, markerCp, 'the emoji makes UTF-16 and code point indices differ');
  const nameCp = cps.findIndex((_, i) => cps.slice(i, i + 6).join('') === 'añadir');
  const yCp = cps.indexOf('ÿ');
  const c = await parseCorpus(corpus({ python_doctest: [{ id: 'u', code, marker_char_pos: markerCp, marker_pattern: '>>>', target_char_positions: [nameCp, yCp] }] }));
  const s = c.samples[0]!;
  assert.equal(s.markerCharPos, markerCp);
  assert.equal(code.slice(codePointToUtf16(code, s.markerCharPos), codePointToUtf16(code, s.markerCharPos) + 3), '>>>');
  assert.equal(code.slice(codePointToUtf16(code, yCp)).codePointAt(0), 'ÿ'.codePointAt(0));
  // UTF-16 offsets are rejected with a hint giving the code point position.
  const e = await errorOf(corpus({ python_doctest: [{ id: 'u', code, marker_char_pos: marker, marker_pattern: '>>>', target_char_positions: [nameCp] }] }));
  assert.match(e.message, new RegExp(`does not occur at code point ${marker} .*it occurs at code point ${markerCp}`));
});

test('corpusToJson writes format 2.0 with explicit positions that load back identically', async () => {
  const c = await loadCorpus(REAL);
  const dir = mkdtempSync(join(tmpdir(), 'plip-corpus-'));
  const p = join(dir, 'out.json');
  writeFileSync(p, JSON.stringify(corpusToJson(c)));
  const c2 = await loadCorpus(p);
  assert.deepEqual(
    c2.samples.map((s) => [s.id, s.group, s.markerCharPos, s.targetCharPositions]),
    c.samples.map((s) => [s.id, s.group, s.markerCharPos, s.targetCharPositions]),
  );
  assert.equal((corpusToJson(c) as { _description?: string })._description, 'Universal corpus with character positions - works with any model');
  // Identical content to the original file (modulo formatting).
  assert.deepEqual(corpusToJson(c), JSON.parse(readFileSync(REAL, 'utf8')));
});

test('a UTF-8 byte-order mark is accepted (file and text), positions unchanged', async () => {
  const text = corpus({ python_doctest: [PY] });
  const dir = mkdtempSync(join(tmpdir(), 'plip-bom-'));
  const f = join(dir, 'bom.json');
  writeFileSync(f, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]));
  const c = await loadCorpus(f);
  assert.equal(c.samples.length, 1);
  assert.deepEqual(c.samples[0]!.targetCharPositions, [0, 4, 6]);
  assert.equal(c.samples[0]!.markerCharPos, 22);
  assert.equal((await parseCorpus('\ufeff' + text)).samples.length, 1);
});

test('an empty corpus (every group empty) is an error naming the file', async () => {
  const e = await errorOf(corpus({ python_doctest: [], rust_test: [] }), 'empty.json');
  assert.match(e.message, /empty\.json/);
  assert.match(e.message, /every group \(python_doctest, rust_test\) is empty/);
});

test('a prompts file with a UTF-8 byte-order mark is accepted', async () => {
  const { loadCopyingPrompts } = await import('../../src/corpus/prompts.ts');
  const dir = mkdtempSync(join(tmpdir(), 'plip-bom-'));
  const f = join(dir, 'prompts.json');
  writeFileSync(f, '\ufeff' + JSON.stringify({ g: [{ id: 'a', name: 'add', prompt: 'def add(a, b):\n    """\n    >>> ' }] }));
  const p = loadCopyingPrompts(f);
  assert.equal(p.length, 1);
  assert.equal(p[0]!.name, 'add');
});
