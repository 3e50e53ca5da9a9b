/**
 * Batched forward: a ragged batch (rows of different lengths, right-padded, per-row positions) equals running
 * each sequence alone (≤ 1e-4) on every family's parity fixture and both backends — logits, every resid_post
 * and pattern, with and without interventions (knockout, scale, set, activation and pattern patches, as
 * per-row hooks and as batch hooks), and with per-row KV caches (batched incremental decoding where the rows
 * sit at different positions). The nnsight bug class — a shorter prompt in a padded batch read at the wrong
 * positions — is exactly what the per-row comparisons catch: it fails every shorter row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.ts';
import { loadBlasBackend } from '../../src/tensor/select.ts';
import { Tensor } from '../../src/tensor/tensor.ts';
import type { Hook, HookContext } from '../../src/hooks/types.ts';
import type { HookedModel } from '../../src/model/model.ts';
import { attentionEdit, identityMap, patchActivation, patchPattern, resolveSpecs, type AttentionMaskSpec } from '../../src/interventions/index.ts';

const INDEX = JSON.parse(readFileSync('fixtures/tiny/index.json', 'utf8')) as { models: Array<{ dir: string }> };
const TOL = 1e-4;
const backends: Array<'ts' | 'blas'> = ['ts'];
if (loadBlasBackend() || process.env.CI === 'true') backends.push('blas');

// ragged on purpose: the shortest row is 1 token, the longest 12 (the fixtures' context is ≥ 16)
const SEQS = [
  [29, 87, 76, 87, 95, 7, 13, 83, 7, 11, 40, 3],
  [29, 87, 76],
  [5, 17, 23, 64, 8, 20, 30, 2],
  [41],
  [29, 87, 76, 40, 41, 7, 13, 83, 7],
];

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Row b's first n rows of a [B, Tmax, ...] tensor. */
function rowOf(t: Tensor, b: number, n: number): Float32Array {
  const rs = t.shape.slice(2).reduce((x, y) => x * y, 1);
  return t.data.subarray(b * t.shape[1]! * rs, (b * t.shape[1]! + n) * rs);
}

const CAPTURE = (n: string) => n.endsWith('hook_resid_post') || n.endsWith('attn.hook_pattern');

/** Captures of a batch hook, un-padded per row: name → row → data. */
function captureBatch(): { hook: Hook; got: Map<string, Float32Array[]> } {
  const got = new Map<string, Float32Array[]>();
  return {
    got,
    hook: {
      name: CAPTURE,
      fn: (t: Tensor, ctx: HookContext) => {
        const NB = t.shape[0]!;
        const rows: Float32Array[] = [];
        if (ctx.name.endsWith('hook_pattern')) {
          const [, H, T, S] = t.shape as [number, number, number, number];
          for (let b = 0; b < NB; b++) {
            const Tb = [...ctx.queryPositions.subarray(b * T, (b + 1) * T)].filter((p) => p >= 0).length;
            const Sb = [...ctx.keyPositions!.subarray(b * S, (b + 1) * S)].filter((p) => p >= 0).length;
            const out = new Float32Array(H * Tb * Sb);
            for (let h = 0; h < H; h++) for (let r = 0; r < Tb; r++) out.set(t.data.subarray(((b * H + h) * T + r) * S, ((b * H + h) * T + r) * S + Sb), (h * Tb + r) * Sb);
            rows.push(out);
          }
        } else {
          const T = t.shape[1]!;
          for (let b = 0; b < NB; b++) rows.push(rowOf(t, b, [...ctx.queryPositions.subarray(b * T, (b + 1) * T)].filter((p) => p >= 0).length).slice());
        }
        got.set(ctx.name, rows);
      },
    },
  };
}

function specsFor(m: HookedModel): AttentionMaskSpec[][] {
  const last = m.spec.nLayers - 1;
  return [
    [{ kind: 'knockout', layers: 'all', heads: 'all', edges: [{ sources: '*', targets: [1, 2] }] }],
    [{ kind: 'scale', factor: 0.25, layers: 0, heads: [0], edges: [{ sources: '1..2', targets: [0] }] }],
    [{ kind: 'set', level: 0.6, layers: last, heads: [1], edges: [{ sources: '*', targets: [0] }] }],
    [{ kind: 'knockout', layers: 0, heads: [0, 1], edges: [{ sources: '*', targets: [0] }] }],
    [],
  ];
}

for (const { dir } of INDEX.models) {
  for (const backend of backends) {
    test(`batched forward ${dir} (${backend}): ragged rows equal each sequence alone, with and without interventions`, async () => {
      const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend });
      const V = m.spec.vocabSize;
      const alone = SEQS.map((s) => m.runWithCache(s, { names: CAPTURE }));
      // 1. plain ragged batch, captured by a batch hook
      const cap = captureBatch();
      const r = m.forwardBatch(SEQS.map((tokens) => ({ tokens })), { hooks: [cap.hook] });
      assert.deepEqual(r.logits!.shape, [SEQS.length, 12, V]);
      SEQS.forEach((s, b) => {
        assert.deepEqual([...r.positions[b]!], s.map((_, i) => i), 'positions per row start at 0');
        const d = maxAbs(rowOf(r.logits!, b, s.length), alone[b]!.logits!.data);
        assert.ok(d <= TOL, `${dir} row ${b} (length ${s.length}): logits differ by ${d}`);
        for (const n of alone[b]!.cache.names()) {
          const dd = maxAbs(cap.got.get(n)![b]!, alone[b]!.cache.get(n).data);
          assert.ok(dd <= TOL, `${dir} row ${b} ${n}: differs by ${dd}`);
        }
      });
      // 'last' reads each row's own last token (the nnsight left-padding bug class)
      const last = m.forwardBatch(SEQS.map((tokens) => ({ tokens })), { logits: 'last' });
      SEQS.forEach((s, b) => {
        const d = maxAbs(last.logits!.data.subarray(b * V, (b + 1) * V), alone[b]!.logits!.data.subarray((s.length - 1) * V, s.length * V));
        assert.ok(d <= TOL, `${dir} row ${b}: last-token logits differ by ${d}`);
      });

      // 2. a different intervention per row (row hooks), incl. patches from another row's run
      const specs = specsFor(m);
      const donor = alone[4]!; // same length as nothing else: patch by an explicit position map
      const rowHooks: Hook[][] = SEQS.map((s, b) => attentionEdit(resolveSpecs(specs[b]!, m, s.length)));
      const donorRun = m.runWithCache(SEQS[4]!, { names: ['blocks.0.hook_resid_post', 'blocks.0.attn.hook_pattern'] });
      rowHooks[4] = [
        patchActivation({ hook: 'blocks.0.hook_resid_post', donor: donorRun.cache.get('blocks.0.hook_resid_post'), positions: new Map([[3, 2], [5, 5]]) }),
        patchPattern({ layer: 0, donor: donorRun.cache.get('blocks.0.attn.hook_pattern'), positions: identityMap(9), heads: [1], slidingWindow: m.spec.slidingWindow }),
      ];
      rowHooks[1] = [...rowHooks[1]!, patchActivation({ hook: 'blocks.0.hook_resid_post', donor: donorRun.cache.get('blocks.0.hook_resid_post'), positions: new Map([[2, 8]]) })];
      const edited = m.forwardBatch(SEQS.map((tokens, b) => ({ tokens, hooks: rowHooks[b] })));
      let changed = 0;
      SEQS.forEach((s, b) => {
        const ref = m.forward(s, { hooks: rowHooks[b] }).logits!.data;
        const d = maxAbs(rowOf(edited.logits!, b, s.length), ref);
        assert.ok(d <= TOL, `${dir} row ${b} with its intervention: logits differ by ${d}`);
        changed = Math.max(changed, maxAbs(ref, alone[b]!.logits!.data));
      });
      assert.ok(changed > 1e-3, 'the interventions change the logits');
      void donor;

      // 3. patches as BATCH hooks: each row is read at its own absolute positions (−1 = padding)
      const shared = [
        patchActivation({ hook: 'blocks.0.hook_resid_post', donor: donorRun.cache.get('blocks.0.hook_resid_post'), positions: new Map([[0, 3], [2, 8]]) }),
        patchPattern({ layer: m.spec.nLayers - 1, donor: donorRun.cache.get('blocks.0.attn.hook_pattern'), positions: new Map([[0, 0], [1, 1], [2, 5]]), slidingWindow: m.spec.slidingWindow }),
      ];
      const eb = m.forwardBatch(SEQS.map((tokens) => ({ tokens })), { hooks: shared });
      SEQS.forEach((s, b) => {
        const d = maxAbs(rowOf(eb.logits!, b, s.length), m.forward(s, { hooks: shared }).logits!.data);
        assert.ok(d <= TOL, `${dir} row ${b} with batch-hook patches: logits differ by ${d}`);
      });

      // 4. attention edits as BATCH hooks: every row of the batch is edited at its own positions (not only row 0)
      const wide = specsFor(m).slice(0, 3).flat();
      const editAll = attentionEdit(resolveSpecs(wide, m, 12));
      const ea = m.forwardBatch(SEQS.map((tokens) => ({ tokens })), { hooks: editAll });
      let moved = 0;
      SEQS.forEach((s, b) => {
        const ref = m.forward(s, { hooks: attentionEdit(resolveSpecs(wide, m, 12)) }).logits!.data;
        const d = maxAbs(rowOf(ea.logits!, b, s.length), ref);
        assert.ok(d <= TOL, `${dir} row ${b} with batch-wide attention edits: logits differ by ${d}`);
        if (b > 0 && s.length > 2) moved = Math.max(moved, maxAbs(ref, alone[b]!.logits!.data));
      });
      assert.ok(moved > 1e-3, 'the batch-wide edits change rows other than row 0');
    });

    test(`batched incremental decoding ${dir} (${backend}): rows at different positions, per-row caches, with an edit`, async () => {
      const m = await loadModel(`fixtures/tiny/${dir}`, { noTokenizer: true, backend });
      const V = m.spec.vocabSize;
      const edit = attentionEdit(resolveSpecs([{ kind: 'knockout', layers: 'all', heads: [0], edges: [{ sources: '*', targets: [1] }] }], m, 12));
      const withEdit = [true, false, true, false, true];
      const full = SEQS.map((s, b) => m.forward(s, { hooks: withEdit[b] ? edit : [] }).logits!.data);
      const caches = SEQS.map(() => m.newKVCache(2));
      const prefill = [3, 1, 5, 1, 2];
      const pre = m.forwardBatch(SEQS.map((s, b) => ({ tokens: s.slice(0, prefill[b]), kvCache: caches[b], hooks: withEdit[b] ? edit : [] })));
      SEQS.forEach((_, b) => {
        const d = maxAbs(rowOf(pre.logits!, b, prefill[b]!), full[b]!.subarray(0, prefill[b]! * V));
        assert.ok(d <= TOL, `${dir} row ${b} prefill differs by ${d}`);
      });
      // one token per step for every row still going; rows finish at different steps
      const pos = [...prefill];
      let maxd = 0;
      for (;;) {
        const live = SEQS.map((s, b) => b).filter((b) => pos[b]! < SEQS[b]!.length);
        if (live.length === 0) break;
        const step = m.forwardBatch(live.map((b) => ({ tokens: [SEQS[b]![pos[b]!]!], kvCache: caches[b], hooks: withEdit[b] ? edit : [] })), { logits: 'last' });
        live.forEach((b, i) => {
          assert.equal(step.positions[i]![0], pos[b], 'the new token sits at the row\'s own next position');
          maxd = Math.max(maxd, maxAbs(step.logits!.data.subarray(i * V, (i + 1) * V), full[b]!.subarray(pos[b]! * V, (pos[b]! + 1) * V)));
          pos[b]!++;
        });
      }
      assert.ok(maxd <= TOL, `${dir}: batched cached decoding differs by ${maxd}`);
      SEQS.forEach((s, b) => assert.equal(caches[b]!.length, s.length));
    });
  }
}

test('forwardBatch rejects bad batches with clear errors', async () => {
  const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
  const kv = m.newKVCache();
  assert.throws(() => m.forwardBatch([]), /empty batch/);
  assert.throws(() => m.forwardBatch([{ tokens: [1] }, { tokens: [] }]), /empty token sequence \(batch row 1\)/);
  assert.throws(() => m.forwardBatch([{ tokens: [1], kvCache: kv }, { tokens: [2], kvCache: kv }]), /share one KV cache/);
  assert.throws(() => m.forwardBatch([{ tokens: [1] }, { tokens: [1, 9999] }]), /token id 9999 at position 1 .*batch row 1/);
  assert.throws(() => m.forwardBatch([{ tokens: [1], startLayer: 1 }]), /needs residIn/);
});

test('the weight products of a ragged batch multiply its real rows only (no padding rows)', async () => {
  for (const backend of backends) {
    const m = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend });
    const rowsOf: number[] = [];
    const B = m.backend;
    const counting = { ...B, linearWeight: (...a: Parameters<typeof B.linearWeight>) => (rowsOf.push(a[3]), B.linearWeight(...a)) };
    const c = new (m.constructor as new (...a: unknown[]) => HookedModel)(m.spec, m.weights, counting, null, m.info);
    const real = SEQS.reduce((n, s) => n + s.length, 0);
    const padded = SEQS.length * Math.max(...SEQS.map((s) => s.length));
    assert.ok(real < padded, 'the batch is ragged');
    const got = c.forwardBatch(SEQS.map((tokens) => ({ tokens })));
    // 7 products per layer (q, k, v, o, gate, up, down), then the unembedding of every real row
    assert.equal(rowsOf.length, 7 * m.spec.nLayers + 1);
    rowsOf.forEach((r, i) => assert.equal(r, real, `product ${i}: ${r} rows, want the ${real} real rows (padded: ${padded})`));
    // and the outputs are the uncounted model's
    assert.ok(maxAbs(got.logits!.data, m.forwardBatch(SEQS.map((tokens) => ({ tokens }))).logits!.data) === 0, `${backend}: same logits`);
  }
});
