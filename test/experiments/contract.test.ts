/**
 * runExperiment (src/experiments/contract.ts) on a toy experiment: plan before work, skipped items, nothing
 * to run, the context rule, resume after a crash without loss or duplication, stopAfter, record order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { type Experiment, OptionError, checkContext, runExperiment } from '../../src/experiments/contract.ts';
import type { HookedModel } from '../../src/model/model.ts';
import { TOOL_VERSION } from '../../src/report/results.ts';

const model = { info: { id: 'toy', path: '/toy', format: 'hf' }, spec: { family: 'llama', nLayers: 1, nHeads: 1, nCtx: 8 }, backend: { name: 'ts' } } as unknown as HookedModel;

interface Input { items: { id: string; n: number }[] }
const recordSchema = z.strictObject({ key: z.string(), id: z.string(), square: z.int() });
const summarySchema = z.strictObject({ total: z.int(), skipped: z.int() });
let ran: string[] = [];

const toy: Experiment<Input, { factor?: number }, { factor: number }, { id: string; n: number; steps: number; keys: string[] }, z.infer<typeof recordSchema>, z.infer<typeof summarySchema>> = {
  name: 'toy',
  schemaVersion: 1,
  recordSchema,
  summarySchema,
  source: (i) => ({ path: '<memory>', sha256: 'x', nSamples: i.items.length }),
  configure(_m, _i, o) {
    const factor = o.factor ?? 1;
    if (factor <= 0) throw new OptionError('factor', `must be > 0 (got ${factor})`);
    return { config: { factor }, settings: { factor } };
  },
  plan(m, input) {
    const items = [];
    const skipped = [];
    for (const it of input.items) {
      if (it.n < 0) skipped.push({ id: it.id, group: 'g', reason: `item '${it.id}': negative` });
      else {
        checkContext(m, it.id, it.n);
        items.push({ ...it, steps: 1, keys: [it.id] });
      }
    }
    return { items, skipped, caveats: [] };
  },
  runItem(item, ctx) {
    if (!ctx.has(item.id)) {
      ran.push(item.id);
      ctx.add({ key: item.id, id: item.id, square: item.n * item.n * ctx.config.factor });
    }
    ctx.tick(item.id);
  },
  summarize: (records, ctx) => ({ total: records.reduce((s, r) => s + r.square, 0), skipped: ctx.plan.skipped.length }),
  render: (s) => `total ${s.total}`,
};

const input: Input = { items: [{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'bad', n: -1 }, { id: 'c', n: 3 }] };

test('skipped items are reported, the rest runs; the header carries the tool version from package.json', () => {
  ran = [];
  const r = runExperiment(toy, model, input, { options: {}, seed: 4 });
  assert.deepEqual(ran, ['a', 'b', 'c']);
  assert.deepEqual(r.skipped.map((s) => s.id), ['bad']);
  assert.deepEqual(r.summary, { total: 14, skipped: 1 });
  assert.equal(r.header.tool.version, JSON.parse(readFileSync('package.json', 'utf8')).version);
  assert.equal(r.header.tool.version, TOOL_VERSION);
  assert.equal(r.header.seed, 4);
});

test('nothing usable, a sample over the context, a bad option or seed: errors before any work', () => {
  ran = [];
  assert.throws(() => runExperiment(toy, model, { items: [{ id: 'bad', n: -1 }] }, { options: {} }), /toy: nothing to run: every item was skipped \(bad: item 'bad': negative\)/);
  assert.throws(() => runExperiment(toy, model, { items: [] }, { options: {} }), /toy: nothing to run \(the input selects no sample\)/);
  assert.throws(() => runExperiment(toy, model, { items: [{ id: 'a', n: 1 }, { id: 'long', n: 9 }] }, { options: {} }), /sample 'long': 9 tokens exceed the model's context of 8 tokens/);
  assert.throws(() => runExperiment(toy, model, input, { options: { factor: 0 } }), (e: Error) => e instanceof OptionError && e.field === 'factor');
  assert.throws(() => runExperiment(toy, model, input, { options: {}, seed: 1.5 }), (e: Error) => e instanceof OptionError && e.field === 'seed');
  assert.deepEqual(ran, [], 'no item ran');
});

test('crash, resume, stopAfter: no record lost or duplicated, final file in plan order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plip-contract-'));
  const out = join(dir, 'toy.json');
  ran = [];
  assert.throws(() => runExperiment(toy, model, input, { options: {}, out, onProgress: (done) => { if (done === 2) throw new Error('crash'); } }), /crash/);
  assert.deepEqual(ran, ['a', 'b']);
  assert.ok(existsSync(`${out}.progress.jsonl`) && !existsSync(`${out}.lock`));
  ran = [];
  const part = runExperiment(toy, model, input, { options: {}, out, stopAfter: 0 });
  assert.equal(part.complete, false);
  assert.deepEqual(ran, []);
  const done = runExperiment(toy, model, input, { options: {}, out });
  assert.deepEqual(ran, ['c'], 'only the missing item runs');
  assert.equal(done.resumed, 2);
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(doc.records.map((r: { key: string }) => r.key), ['a', 'b', 'c']);
  assert.deepEqual(doc.summary, { total: 14, skipped: 1 });
  assert.ok(!existsSync(`${out}.progress.jsonl`) && !existsSync(`${out}.lock`));
  // another setting is a different run: refused without --restart
  assert.throws(() => runExperiment(toy, model, input, { options: { factor: 2 }, out: join(dir, 'other.json'), onProgress: () => { throw new Error('crash'); } }), /crash/);
  assert.throws(() => runExperiment(toy, model, input, { options: { factor: 3 }, out: join(dir, 'other.json') }), /DIFFERENT settings/);
});
