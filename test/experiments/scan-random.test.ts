/**
 * Calibration of the null models with a RANDOM-weight model (SmolLM2-135M dimensions, 1 layer, its real
 * byte-level BPE tokenizer: no BOS, ` >>>` merged into one token). Random attention is close to uniform, so
 * the raw Python/Rust difference the old study reported appears from distance dilution alone — and must
 * vanish after normalising by the uniform causal null and by the position-matched control.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpus } from '../../src/corpus/index.ts';
import { runScan } from '../../src/experiments/scan/experiment.ts';
import { HookedModel } from '../../src/model/model.ts';
import { randomModelFromConfig } from '../../src/model/random.ts';
import { loadHfTokenizer } from '../../src/tokenize/index.ts';

const SMOL = '../shared/tokenizers/smollm2-135m';

test('random weights: raw attention ratio is large and "significant"; null-normalised ratios are ~1', async () => {
  const base = randomModelFromConfig(SMOL, { seed: 1, overrides: { nLayers: 1 } });
  const model = new HookedModel(base.spec, base.weights, base.backend, loadHfTokenizer(SMOL), base.info);
  const corpus = await loadCorpus('../shared/corpus/attention_samples_universal.json');
  const r = await runScan(model, corpus, { seed: 3, nPermutations: 199, nBoot: 199 });
  const c = r.summary!.comparisons[0]!;
  const raw = c.metrics.observed.layers[0]!;
  assert.ok(raw.ratio! > 2, `raw ratio ${raw.ratio}`);
  assert.ok(raw.welch.pHolm! < 0.01, 'distance dilution alone makes the raw difference "significant"');
  for (const m of ['ratioUniform', 'ratioUniformNoSink', 'ratioControl', 'ratioControlNoSink'] as const) {
    const L = c.metrics[m].layers[0]!;
    for (const v of [L.meanA!, L.meanB!]) assert.ok(v > 0.85 && v < 1.15, `${m}: group mean ${v} should be ~1 under near-uniform attention`);
    assert.ok(L.ratio! > 0.85 && L.ratio! < 1.15, `${m}: ratio ${L.ratio}`);
  }
  assert.equal(r.summary!.verdict.find((v) => v.metric === 'ratioControl')!.survives, false);
  // No BOS: key 0 is the first code token ('def' — a target); the no-sink variant drops it.
  const py = r.records.find((x) => x.id === 'py_simple_add')!;
  assert.equal(py.targetTokens[0], 0);
  assert.equal(py.marker.merged, true);
  const m = py.marker.token;
  assert.equal(py.uniformNull, 1 / (m + 1));
  assert.equal(py.uniformNullNoSink, 1 / m);
  assert.ok(r.summary!.warnings.some((w) => /group 'python_doctest': 10\/10 marker\(s\) land on a token merged/.test(w)));
});
