/**
 * Character → token mapping (`plip positions`): the real corpus with stories260K's tokenizer (BOS, byte
 * fallback), merged-marker detection with the real SmolLM2 byte-level BPE tokenizer (` >>>` is one token
 * there), non-ASCII code, and the marker-token choice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpus, parseCorpus } from '../../src/corpus/index.ts';
import { mapSample, summarizeMappings } from '../../src/corpus/positions.ts';
import { loadModel } from '../../src/model/load.ts';
import { loadHfTokenizer } from '../../src/tokenize/index.ts';
import { charToToken } from '../../src/tokenize/positions.ts';

const REAL = '../shared/corpus/attention_samples_universal.json';
const STORIES = '../shared/models/stories260K';
const SMOL = '../shared/tokenizers/smollm2-135m';

test('real corpus with stories260K: every marker and target maps exactly; rust_baseline targets are after the marker', async () => {
  const m = await loadModel(STORIES);
  const tok = m.tokenizer!;
  const c = await loadCorpus(REAL);
  const maps = c.samples.map((s) => mapSample(tok, s));
  const sum = summarizeMappings(maps);
  assert.equal(sum.nSamples, 30);
  assert.equal(sum.markersExact, 30);
  assert.equal(sum.markersMerged, 0);
  assert.equal(sum.targets, 102);
  assert.equal(sum.targetsExact, 102);
  assert.equal(sum.samplesZeroByConstruction, 5);
  assert.equal(sum.groups.rust_baseline!.samplesZeroByConstruction, 5);
  assert.equal(sum.groups.python_doctest!.samplesZeroByConstruction, 0);
  for (const [i, mp] of maps.entries()) {
    const s = c.samples[i]!;
    const enc = tok.encodeWithOffsets(s.code);
    assert.equal(mp.nTokens, enc.ids.length);
    assert.equal(enc.special[0], true, 'stories260K prepends BOS');
    // Token indices include the BOS: the same as charToToken on the encoding.
    assert.equal(mp.marker.token, charToToken(enc, s.markerCharPos).token);
    assert.ok(mp.marker.token >= 1);
    const [a, b] = mp.marker.span;
    assert.ok(a <= s.markerCharPos && s.markerCharPos < b, `${s.id}: marker span contains the marker`);
    for (const t of mp.targets) {
      assert.ok(t.span[0] <= t.charPos && t.charPos < t.span[1], `${s.id}: target ${t.charPos} inside its token`);
      assert.equal(t.char, Array.from(s.code)[t.charPos]);
      assert.equal(t.afterMarker, t.token > mp.marker.token);
    }
    assert.deepEqual(mp.visibleTargetTokens, mp.targetTokens.filter((t) => t <= mp.marker.token));
  }
  const py = maps.find((x) => x.id === 'py_simple_add')!;
  assert.equal(py.marker.spanText, '>');
  assert.deepEqual(py.marker.patternTokens.length, 3, '>>> is three tokens in stories260K');
  // 'def' → the token ' d' (SentencePiece dummy prefix: its span covers only 'd'); 'add' → ' a' spanning ' a'.
  assert.deepEqual(
    py.targets.map((t) => [t.tokenText, t.spanText]),
    [
      [' d', 'd'],
      [' a', ' a'],
      ['a', 'a'],
      [' b', ' b'],
    ],
  );
  const rb = maps.find((x) => x.id === 'rust_derive_debug')!;
  assert.ok(rb.targets.every((t) => t.afterMarker));
  assert.deepEqual(rb.visibleTargetTokens, []);
});

test('merged marker: SmolLM2 encodes " >>>" as one token; the leading space is reported, not accepted silently', async () => {
  const tok = loadHfTokenizer(SMOL);
  const c = await loadCorpus(REAL);
  const s = c.samples.find((x) => x.id === 'py_simple_add')!;
  const mp = mapSample(tok, s);
  assert.equal(tok.addsBos, false);
  assert.equal(mp.marker.spanText, ' >>>');
  assert.equal(mp.marker.exact, true);
  assert.equal(mp.marker.merged, true);
  assert.match(mp.marker.mergedReason!, /starts 1 code point\(s\) before the marker \(" " merged in\)/);
  // Without BOS, the first target ('def') is token 0.
  assert.equal(mp.targets[0]!.token, 0);
  const sum = summarizeMappings(c.samples.filter((x) => x.group === 'python_doctest').map((x) => mapSample(tok, x)));
  assert.equal(sum.markersMerged, 10);
  // A marker token that extends past the pattern is detected too.
  const c2 = await parseCorpus(JSON.stringify({ _format_version: '2.0', g: [{ id: 'x', code: 'def f():\n    return 1 # >>', marker_pattern: '>', marker_char_pos: 24, target_char_positions: [0] }] }));
  const mp2 = mapSample(tok, c2.samples[0]!);
  assert.equal(mp2.marker.spanText, ' >>');
  assert.match(mp2.marker.mergedReason!, /before the marker.*past the marker pattern/);
});

test('non-ASCII code: spans are code points with both tokenizers (byte fallback and byte-level BPE)', async () => {
  const code = '# é 中文 😀\ndef añadir(x):\n    """\n    >>> añadir(1)\n    """\n    return x';
  const cps = Array.from(code);
  const find = (needle: string) => cps.findIndex((_, i) => cps.slice(i, i + Array.from(needle).length).join('') === needle);
  const c = await parseCorpus(
    JSON.stringify({ _format_version: '2.0', python_doctest: [{ id: 'u', code, marker_char_pos: find('>>>'), marker_pattern: '>>>', target_char_positions: [find('def'), find('añadir'), find('x)')] }] }),
  );
  const s = c.samples[0]!;
  const stories = (await loadModel(STORIES)).tokenizer!;
  for (const tok of [stories, loadHfTokenizer(SMOL)]) {
    const mp = mapSample(tok, s);
    assert.ok(mp.marker.spanText.includes('>'), mp.marker.spanText);
    assert.ok(mp.marker.span[0] <= s.markerCharPos && s.markerCharPos < mp.marker.span[1]);
    assert.deepEqual(
      mp.targets.map((t) => t.char),
      ['d', 'a', 'x'],
    );
    for (const t of mp.targets) assert.ok(mp.targets.length === 3 && t.spanText.length > 0 && t.span[0] <= t.charPos && t.charPos < t.span[1]);
    assert.ok(mp.targets.every((t) => !t.afterMarker));
  }
});

test('markerToken "last" picks the last token of a multi-token marker', async () => {
  const tok = (await loadModel(STORIES)).tokenizer!;
  const c = await loadCorpus(REAL);
  const s = c.samples.find((x) => x.id === 'rust_simple_add')!;
  const first = mapSample(tok, s);
  const last = mapSample(tok, s, { markerToken: 'last' });
  assert.equal(first.marker.token, first.marker.patternTokens[0]);
  assert.equal(last.marker.token, first.marker.patternTokens.at(-1));
  assert.equal(last.marker.spanText, ']');
  assert.ok(last.marker.token > first.marker.token);
});
