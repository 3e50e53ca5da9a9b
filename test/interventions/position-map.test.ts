/**
 * Semantic position maps (Python donor → Rust recipient) on hand-built pairs whose token counts differ,
 * with a hand-made tokenizer so that every expected position and weight is computed by hand; the
 * pattern transplant through such a map on the tiny llama fixture (hand formula, KV cache); and a smoke
 * test with the organism's real tokenizer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/model/load.ts';
import { loadHfTokenizer } from '../../src/tokenize/hf.ts';
import type { Encoding, PlipTokenizer } from '../../src/tokenize/types.ts';
import {
  activationPositionMap,
  buildSemanticPositionMap,
  parseSemanticPositionMap,
  proportionalRegionMap,
  SemanticPositionMapSchema,
} from '../../src/interventions/position-map.ts';
import { transplantCoverage, transplantPattern, transplantRow } from '../../src/interventions/transplant.ts';
import { attentionEdit, resolveSpecs, KEY_MASKED, KEY_VISIBLE, KEY_KNOCKED_OUT } from '../../src/interventions/index.ts';

/** Letters in chunks of ≤ 4 (leading whitespace attached), digit runs, single other characters; BOS = 0. */
function handTokenizer(): PlipTokenizer {
  const vocab = new Map<string, number>();
  const id = (s: string) => vocab.get(s) ?? (vocab.set(s, vocab.size + 1), vocab.size);
  const enc = (text: string): Encoding => {
    const out: Encoding = { ids: [0], tokens: ['<s>'], offsets: [[0, 0]], special: [true] };
    for (const m of text.matchAll(/\s*[A-Za-z]{1,4}|\s*\d+|\s*[^\sA-Za-z\d]|\s+/g)) {
      out.ids.push(id(m[0]));
      out.tokens.push(m[0]);
      out.offsets.push([m.index!, m.index! + m[0].length]);
      out.special.push(false);
    }
    return out;
  };
  return {
    vocabSize: 96, bosTokenId: 0, eosTokenId: null, addsBos: true,
    encode: (t) => enc(t).ids, encodeWithOffsets: (t) => enc(t),
    decode: () => '', tokenText: () => '', idToToken: () => undefined,
  };
}

const PY = 'def addnum(a, b, c):\n    """Add.\n    >>>';
const RS = 'fn add_num(a: i32, b: i32) -> i32 {\n    a + b\n}\n#[test]\nfn test_add_num() {';
const tok = handTokenizer();

test('the hand tokenizer splits the pair as the expected positions assume', () => {
  const d = tok.encodeWithOffsets(PY).tokens;
  assert.deepEqual(d.slice(0, 4), ['<s>', 'def', ' addn', 'um']);
  assert.deepEqual([d[5], d[7], d[9]], ['a', ' b', ' c']);
  assert.deepEqual(d.slice(17), ['\n    >', '>', '>']);
  assert.equal(d.length, 20);
  const r = tok.encodeWithOffsets(RS).tokens;
  assert.deepEqual(r.slice(0, 5), ['<s>', 'fn', ' add', '_', 'num']);
  assert.deepEqual([r[6], r[11]], ['a', ' b']);
  assert.deepEqual(r.slice(25, 29), ['\n#', '[', 'test', ']']);
});

test('proportional region map: interval overlaps by character share', () => {
  // donor pieces of 4 and 2 characters ([0, 2/3), [2/3, 1)); recipient 3, 1, 3 ([0, 3/7), [3/7, 4/7), [4/7, 1))
  const m = proportionalRegionMap([4, 2], [3, 1, 3]);
  const want: [number, number, number][] = [[0, 0, 9 / 14], [0, 1, 3 / 14], [0, 2, 1 / 7], [1, 2, 1]];
  assert.equal(m.length, want.length);
  m.forEach(([i, j, w], n) => {
    assert.deepEqual([i, j], want[n]!.slice(0, 2));
    assert.ok(Math.abs(w - want[n]![2]) < 1e-12, `${i}→${j}: ${w}`);
  });
  // equal counts and shares: the identity
  assert.deepEqual(proportionalRegionMap([2, 3], [4, 6]), [[0, 0, 1], [1, 1, 1]]);
});

test('buildSemanticPositionMap on a Python/Rust pair with different token counts: hand-computed keys and queries', async () => {
  const map = await buildSemanticPositionMap({ language: 'python', text: PY }, { language: 'rust', text: RS }, tok);
  assert.equal(map.donor.function, 'addnum');
  assert.equal(map.recipient.function, 'add_num', 'the function under test, not test_add_num');
  assert.deepEqual(map.donor.regions, { marker: [17, 18, 19], def: [1], name: [2, 3], params: [[5], [7], [9]] });
  assert.deepEqual(map.recipient.regions, { marker: [25, 26, 27, 28], def: [1], name: [2, 3, 4], params: [[6], [11]] });
  assert.equal(map.donor.nTokens, 20);
  const want = [
    // marker '>>>' (1, 1, 1 chars) ↔ '#[test]' (1, 1, 4, 1 chars)
    ['marker', null, 17, 25, 3 / 7], ['marker', null, 17, 26, 3 / 7], ['marker', null, 17, 27, 1 / 7],
    ['marker', null, 18, 27, 1], ['marker', null, 19, 27, 4 / 7], ['marker', null, 19, 28, 3 / 7],
    ['def', null, 1, 1, 1],
    // name 'addn' + 'um' ↔ 'add' + '_' + 'num'
    ['name', null, 2, 2, 9 / 14], ['name', null, 2, 3, 3 / 14], ['name', null, 2, 4, 1 / 7], ['name', null, 3, 4, 1],
    // parameters by order; the donor's third parameter c has no counterpart
    ['param', 0, 5, 6, 1], ['param', 1, 7, 11, 1],
  ] as const;
  assert.equal(map.keys.length, want.length);
  map.keys.forEach((e, i) => {
    const [kind, param, d, r, w] = want[i]!;
    assert.deepEqual([e.kind, e.param, e.donor, e.recipient], [kind, param, d, r], `keys[${i}]`);
    assert.ok(Math.abs(e.weight - w) < 1e-12, `keys[${i}] weight ${e.weight} vs ${w}`);
  });
  // queries: midpoints 1/14, 3/14 → donor 17; 4/7 → donor 18; the last marker token ↔ the last
  assert.deepEqual(map.queries, [{ recipient: 25, donor: 17 }, { recipient: 26, donor: 17 }, { recipient: 27, donor: 18 }, { recipient: 28, donor: 19 }]);
  // data: JSON round trip through the schema; activation map (largest weight per recipient key, queries last)
  assert.equal(map.recipient.nTokens, 38);
  assert.deepEqual(parseSemanticPositionMap(JSON.parse(JSON.stringify(map)), 20, 38), map);
  const am = activationPositionMap(map);
  assert.deepEqual([...am], [[1, 1], [2, 2], [3, 2], [4, 3], [6, 5], [11, 7], [25, 17], [26, 17], [27, 18], [28, 19]]);
});

test('position maps: bad prompts and stored maps give errors naming the side and the field', async () => {
  await assert.rejects(buildSemanticPositionMap({ language: 'python', text: 'def f(a):\n    pass\n' }, { language: 'rust', text: RS }, tok), /donor prompt: marker ">>>" does not occur in the text/);
  await assert.rejects(buildSemanticPositionMap({ language: 'python', text: PY }, { language: 'rust', text: '#[test]\nfn t() {' }, tok), /recipient prompt: no rust function definition before the marker/);
  await assert.rejects(buildSemanticPositionMap({ language: 'python', text: PY, function: 'nope' }, { language: 'rust', text: RS }, tok), /donor prompt: no python function named 'nope' before the marker \(found: addnum\)/);
  const map = await buildSemanticPositionMap({ language: 'python', text: PY }, { language: 'rust', text: RS }, tok);
  assert.throws(() => parseSemanticPositionMap({ ...map, version: 2 }), /position map: version: /);
  assert.throws(() => parseSemanticPositionMap(map, 19), /built for a donor of 20 tokens, used with 19/);
  const bad = { ...map, keys: [{ ...map.keys[0]!, kind: 'body' }] };
  assert.throws(() => parseSemanticPositionMap(bad), /position map: keys\.0\.kind/);
  assert.ok(SemanticPositionMapSchema.safeParse(map).success);
});

test('transplantRow: mapped keys carry donor mass, unmapped keep the recipient weight, masked get 0, renormalised', () => {
  const V = KEY_VISIBLE;
  // recipient row over 5 keys; donor row over 4 donor positions
  const w = [0.4, 0.1, 0.2, 0.3, 0];
  const D = [0.5, 0.2, 0.3, 0];
  const keys = [{ recipient: 1, donor: 1, weight: 1 }, { recipient: 2, donor: 2, weight: 0.5 }, { recipient: 3, donor: 2, weight: 0.5 }, { recipient: 4, donor: 0, weight: 1 }];
  const cols = (k: number) => k;
  // key 1 ← 0.2, keys 2, 3 ← 0.15 each, key 0 unmapped keeps 0.4, key 4 masked: donor 0.5 lost → sum 0.9
  const r = transplantRow(w, [V, V, V, V, KEY_MASKED], D, keys, cols)!;
  [0.4 / 0.9, 0.2 / 0.9, 0.15 / 0.9, 0.15 / 0.9, 0].forEach((x, j) => assert.ok(Math.abs(r[j]! - x) < 1e-12, `key ${j}: ${r[j]} vs ${x}`));
  // a knocked-out mapped key gets nothing either
  const k = transplantRow(w, [V, KEY_KNOCKED_OUT, V, V, KEY_MASKED], D, keys, cols)!;
  [0.4 / 0.7, 0, 0.15 / 0.7, 0.15 / 0.7, 0].forEach((x, j) => assert.ok(Math.abs(k[j]! - x) < 1e-12));
  assert.equal(transplantRow([0, 1, 0], [V, V, V], [0, 0, 0], [{ recipient: 1, donor: 0, weight: 1 }], cols), null, 'no mass left: row unchanged');
});

test('transplantPattern on the tiny llama fixture: marker rows = hand formula; KV cache = uncached', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const map = await buildSemanticPositionMap({ language: 'python', text: PY }, { language: 'rust', text: RS }, tok);
  const dIds = tok.encode(PY);
  const rIds = tok.encode(RS);
  assert.ok(Math.max(...dIds, ...rIds) < m.spec.vocabSize);
  const L = 1;
  const pname = `blocks.${L}.attn.hook_pattern`;
  const donor = m.runWithCache(dIds, { names: [pname] }).cache.get(pname);
  const base = m.runWithCache(rIds, { names: [pname] }).cache.get(pname);
  const hooks = transplantPattern({ layer: L, donor, map, heads: [0, 2] });
  const out = m.runWithCache(rIds, { names: [pname] }, { hooks });
  const got = out.cache.get(pname);
  const N = rIds.length;
  const Td = dIds.length;
  const H = m.spec.nHeads;
  for (let h = 0; h < H; h++)
    for (let q = 0; q < N; q++) {
      const dq = map.queries.find((x) => x.recipient === q)?.donor;
      for (let k = 0; k < N; k++) {
        const g = got.get(0, h, q, k);
        if (dq === undefined || (h !== 0 && h !== 2)) {
          assert.equal(g, base.get(0, h, q, k), `untouched h${h} q${q} k${k}`);
          continue;
        }
        // hand formula: the mapped recipient keys (hand list above) take Σ weight · donor weight
        const carried = (kk: number) => map.keys.filter((e) => e.recipient === kk).reduce((s, e) => s + e.weight * donor.data[(h * Td + dq) * Td + e.donor]!, 0);
        const mapped = new Set([1, 2, 3, 4, 6, 11, 25, 26, 27, 28]);
        let sum = 0;
        for (let kk = 0; kk <= q; kk++) sum += mapped.has(kk) ? carried(kk) : base.get(0, h, q, kk);
        const want = k > q ? 0 : (mapped.has(k) ? carried(k) : base.get(0, h, q, k)) / sum;
        assert.ok(Math.abs(g - want) < 1e-6, `h${h} q${q} k${k}: ${g} vs ${want}`);
      }
    }
  // coverage: donor mass carried onto the mapped recipient keys visible from q, before renormalising
  const cov = transplantCoverage({ layer: L, donor, map, heads: [0, 2] }, 28);
  [0, 2].forEach((h, i) => {
    const want = [1, 2, 3, 4, 6, 11, 25, 26, 27, 28].reduce((s, kk) => s + map.keys.filter((e) => e.recipient === kk).reduce((a, e) => a + e.weight * donor.data[(h * Td + 19) * Td + e.donor]!, 0), 0);
    assert.ok(Math.abs(cov[i]! - want) < 1e-9 && want > 0 && want <= 1 + 1e-9, `coverage h${h}: ${cov[i]} vs ${want}`);
  });
  assert.deepEqual(transplantCoverage({ layer: L, donor, map }, 5), [], 'row 5 takes no donor row');
  // every decoding step: cached step-by-step decoding with the hooks equals the uncached forward
  const seq = [...rIds, 5, 9, 13];
  const full = m.forward(seq, { hooks }).logits!.data;
  const cache = m.newKVCache();
  const V = m.spec.vocabSize;
  let maxd = 0;
  const pre = m.forward(seq.slice(0, 20), { hooks, kvCache: cache }).logits!.data;
  for (let i = 0; i < 20 * V; i++) maxd = Math.max(maxd, Math.abs(pre[i]! - full[i]!));
  for (let p = 20; p < seq.length; p++) {
    const row = m.forward([seq[p]!], { hooks, kvCache: cache, logits: 'last' }).logits!.data;
    for (let v = 0; v < V; v++) maxd = Math.max(maxd, Math.abs(row[v]! - full[p * V + v]!));
  }
  assert.ok(maxd <= 1e-4, `cached vs uncached differ by ${maxd}`);
  const plain = m.forward(seq).logits!.data;
  let eff = 0;
  for (let i = 0; i < full.length; i++) eff = Math.max(eff, Math.abs(full[i]! - plain[i]!));
  assert.ok(eff > 1e-4, 'the transplant changes the logits');
  // knockouts placed before the transplant hooks: a knocked-out mapped key gets no donor mass
  const ko = attentionEdit(resolveSpecs({ kind: 'knockout', layers: L, heads: [0], edges: [{ sources: [28], targets: [2] }] }, m, N));
  const k2 = m.runWithCache(rIds, { names: [pname] }, { hooks: [...ko, ...hooks] }).cache.get(pname);
  assert.equal(k2.get(0, 0, 28, 2), 0);
});

test('real tokenizer (plip-tiny-code): regions hold the right text, donor weights sum to 1, last marker ↔ last', async () => {
  const real = loadHfTokenizer('models/plip-tiny-code');
  const py = 'def add(a, b):\n    """Add two numbers.\n\n    >>>';
  const rs = 'fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n#[test]\nfn test_add() {';
  const map = await buildSemanticPositionMap({ language: 'python', text: py }, { language: 'rust', text: rs }, real);
  const de = real.encodeWithOffsets(py);
  const re = real.encodeWithOffsets(rs);
  const text = (enc: Encoding, src: string, ps: number[]) => ps.map((p) => src.slice(enc.offsets[p]![0], enc.offsets[p]![1])).join('');
  assert.match(text(de, py, map.donor.regions.name), /add/);
  assert.match(text(re, rs, map.recipient.regions.name), /add/);
  assert.match(text(re, rs, map.recipient.regions.def), /fn/);
  assert.match(text(de, py, map.donor.regions.marker), />>>/);
  assert.match(text(re, rs, map.recipient.regions.marker), /#\[test\]|\[test\]/);
  assert.deepEqual(map.recipient.regions.params.map((p) => text(re, rs, p).trim().replace(/^\(/, '')), ['a', 'b']);
  const sums = new Map<number, number>();
  for (const e of map.keys) sums.set(e.donor, (sums.get(e.donor) ?? 0) + e.weight);
  for (const [d, s] of sums) assert.ok(Math.abs(s - 1) < 1e-9, `donor ${d} sends ${s}`);
  const lastQ = map.queries[map.queries.length - 1]!;
  assert.deepEqual(lastQ, { recipient: map.recipient.regions.marker.at(-1)!, donor: map.donor.regions.marker.at(-1)! });
});
