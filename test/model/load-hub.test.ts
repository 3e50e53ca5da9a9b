/**
 * `--model ORG/NAME` end to end: download from a hub (local fake server on 127.0.0.1) into the
 * standard HF cache layout, with an interrupted weights transfer, then load from the cache with
 * no network at all; logits identical to loading the same files from a directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '../io/fake-hub.ts';
import { loadModel } from '../../src/model/load.ts';

test('loadModel(hub id): download (interrupted once, resumed), cache layout, then offline reuse', async () => {
  const hub = new FakeHub();
  const files: Record<string, Buffer> = {};
  for (const f of ['config.json', 'model.safetensors']) files[f] = readFileSync(`fixtures/tiny/llama/${f}`);
  hub.repos.set('plip/tiny-llama', { sha: 'a'.repeat(40), files });
  hub.interrupt.set('plip/tiny-llama/model.safetensors', 1);
  const url = await hub.start();
  const cacheDir = mkdtempSync(join(tmpdir(), 'plip-hf-'));
  try {
    const m = await loadModel('plip/tiny-llama', { hubUrl: url, cacheDir, noTokenizer: true, backend: 'ts', progress: false });
    const snap = join(cacheDir, 'models--plip--tiny-llama', 'snapshots', 'a'.repeat(40));
    assert.ok(existsSync(join(snap, 'model.safetensors')), 'snapshot in HF cache layout');
    assert.equal(readFileSync(join(cacheDir, 'models--plip--tiny-llama', 'refs', 'main'), 'utf8').trim(), 'a'.repeat(40));
    assert.ok(!readdirSync(join(cacheDir, 'models--plip--tiny-llama', 'blobs')).some((f) => f.endsWith('.incomplete')));
    assert.equal(m.info.commitHash, 'a'.repeat(40));
    const local = await loadModel('fixtures/tiny/llama', { noTokenizer: true, backend: 'ts' });
    assert.deepEqual(m.forward([1, 2, 3, 4]).logits!.data, local.forward([1, 2, 3, 4]).logits!.data);
    // second load: served from the cache with zero requests
    const before = hub.log.length;
    await hub.close();
    const again = await loadModel('plip/tiny-llama', { hubUrl: url, cacheDir, noTokenizer: true, backend: 'ts', progress: false });
    assert.equal(hub.log.length, before);
    assert.deepEqual(again.forward([5, 6]).logits!.data, local.forward([5, 6]).logits!.data);
  } finally {
    await hub.close().catch(() => {});
  }
});
