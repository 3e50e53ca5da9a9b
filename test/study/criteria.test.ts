/**
 * Phase 2's criterion needs an effect, not only significance: a knockout whose KL excess over matched controls
 * is significant but below the study's floor (phases.knockout.minKl, nats) is reported as not met.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studyCriteria } from '../../src/study/criteria.ts';
import { loadStudy } from '../../src/study/schema.ts';

function summary(klPy: number, klRs: number) {
  const lang = (kl: number) => ({ n: 30, medianDiffKl: kl, wilcoxonP: 1e-6, wilcoxonPHolm: 1e-5, permutationPHolm: 1e-4, met: true });
  return {
    alpha: 0.05,
    units: [{ unit: { id: 'L3' }, n: 60, met: true, meanDiffKl: (klPy + klRs) / 2, meanDiffCI: { lo: 0, hi: 1 }, permutation: { pHolm: 1e-4 }, byLanguage: { python: lang(klPy), rust: lang(klRs) } }],
    verdict: { met: true, units: ['L3'], statement: 'significant at L3' },
    verdictByLanguage: { python: { met: true, units: ['L3'], statement: 'python: L3' }, rust: { met: true, units: ['L3'], statement: 'rust: L3' } },
  };
}

function study(minKl?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'plip-criteria-'));
  const file = join(dir, 'study.json');
  writeFileSync(file, JSON.stringify({ name: 't', models: [{ id: 'm', path: '/nowhere' }], data: { corpus: 'c.json', prompts: { python: 'p.json', rust: 'p.json' } }, phases: { knockout: minKl === undefined ? {} : { minKl } } }));
  const loaded = loadStudy(file);
  rmSync(dir, { recursive: true, force: true });
  return loaded;
}

test('knockout criterion: significant and above the floor is met; significant but negligible is not', () => {
  const s = studyCriteria(study(), [{ model: 'm', phase: 'knockout', path: 'x', summary: summary(0.5, 1e-6) }]);
  const by = (l: string) => s.criteria.find((c) => c.language === l)!;
  assert.equal(by('python').met, true);
  assert.equal(by('rust').met, false, 'a 1e-6-nat effect is below the default floor of 0.01 nats');
  assert.match(by('rust').note, /below the study's floor of 0\.01 nats: significant but negligible/);
  assert.equal(by('pooled').met, true, 'the pooled mean (0.25 nats) is above the floor');
  assert.match(by('python').criterion, /at least 0\.01 nats/);
});

test('knockout criterion: the floor is the study file\'s phases.knockout.minKl', () => {
  const s = studyCriteria(study(0.6), [{ model: 'm', phase: 'knockout', path: 'x', summary: summary(0.5, 1e-6) }]);
  assert.ok(s.criteria.every((c) => !c.met), 'nothing reaches 0.6 nats');
  const z = studyCriteria(study(0), [{ model: 'm', phase: 'knockout', path: 'x', summary: summary(0.5, 1e-6) }]);
  assert.ok(z.criteria.every((c) => c.met), 'with no floor significance alone decides');
});
