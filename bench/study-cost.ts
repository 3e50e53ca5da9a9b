/**
 * Study durations on this machine: fits the study cost model (src/study/cost.ts) to this benchmark run's own
 * measurements, writes it to bench/cost-model.json (which `plip study plan` then uses), and estimates the
 * bundled study (studies/roadmap.json) and the roadmap study on real models (studies/roadmap-real.json:
 * CodeLlama-7b, CodeGemma-7b, Qwen2.5-Coder-0.5B) phase by phase. With PLIP_BENCH_STUDY=1 it also runs the
 * bundled study once (`plip study run`, ~10 min) and reports its measured wall time beside the estimate.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_COST, parameterCount, type CostModel } from '../src/study/cost.ts';
import { planStudy } from '../src/study/plan.ts';
import { dur } from '../src/study/render-plan.ts';
import { loadStudy } from '../src/study/schema.ts';
import { resolveSpec } from '../src/model/families.ts';

export interface Measured {
  /** Qwen2.5-Coder-0.5B dims, bf16 weights: 128-token prefill and one decode step (ms), weight bytes. */
  qwen?: { prefillMs: number; decodeMs: number; weightBytes: number; promptLen: number };
  /** bench/batch.ts: full / incremental per-layer knockout sweep. */
  incrementalSpeedup?: number;
  /** bench/half-child.ts compute A/B: prefill ms with `--compute bf16` over float32 activations. */
  computeBf16PrefillFactor?: number;
  /** bench/half.ts with PLIP_BENCH_7B=1: CodeLlama-7b dims prefill (ms) of 128 tokens and decode step (ms). */
  big?: { prefillMs: number; decodeMsMedian: number; checkpointBytes: number };
}

const QWEN_CONFIG = '../shared/configs/Qwen--Qwen2.5-Coder-0.5B-Instruct/config.json';
const LLAMA7B_CONFIG = '../shared/configs/codellama--CodeLlama-7b-hf/config.json';
const paramsOf = (file: string) => parameterCount(resolveSpec(JSON.parse(readFileSync(file, 'utf8')), file).spec);

/** The cost model fitted to `m` (constants not measured here keep their defaults). */
export function fitCost(m: Measured, machine: string): CostModel {
  const c: CostModel = { ...DEFAULT_COST };
  const parts: string[] = [];
  if (m.qwen) {
    c.prefillSecPerParamToken = m.qwen.prefillMs / 1000 / (paramsOf(QWEN_CONFIG) * m.qwen.promptLen);
    c.decodeSecPerWeightByte = m.qwen.decodeMs / 1000 / m.qwen.weightBytes;
    parts.push('Qwen2.5-Coder-0.5B dims bf16 prefill + decode');
  }
  if (m.incrementalSpeedup && m.incrementalSpeedup > 0) {
    c.incrementalSpeedup = m.incrementalSpeedup;
    parts.push('incremental knockout sweep');
  }
  if (m.computeBf16PrefillFactor && m.computeBf16PrefillFactor > 0) {
    c.computeBf16PrefillFactor = m.computeBf16PrefillFactor;
    parts.push('--compute bf16 prefill');
  }
  c.source = `npm run bench ${new Date().toISOString().slice(0, 10)} (${parts.join(', ') || 'defaults'}; ${machine})`;
  return c;
}

/** Writes bench/cost-model.json and returns the markdown table of estimated study durations. */
export async function studyDurations(m: Measured, machine: string): Promise<string> {
  const cost = fitCost(m, machine);
  writeFileSync('bench/cost-model.json', JSON.stringify(cost, null, 2) + '\n');
  const rows = [
    `Estimated study durations on this machine (\`plip study plan\` with the cost model fitted to this run, bench/cost-model.json; ${cost.source}).`,
    '',
    '| study | model | phase 2 knockout | phase 3 preservation | phase 4 steering | phase 5 transplant | total | peak memory |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const file of ['studies/roadmap.json', 'studies/roadmap-real.json']) {
    const plan = await planStudy(loadStudy(file), cost);
    for (const mp of plan.models) {
      const ph = (n: number) => {
        const x = mp.phases.find((p) => p.roadmapPhase === n);
        return x ? dur(x.estSeconds) : '—';
      };
      rows.push(`| ${file} | ${mp.model.id} | ${ph(2)} | ${ph(3)} | ${ph(4)} | ${ph(5)} | ${dur(mp.estSeconds)} | ${(mp.estPeakBytes / 2 ** 30).toFixed(1)} GiB |`);
    }
  }
  rows.push('');
  // the estimate against measurements it was not fitted to
  if (m.big) {
    const p7 = paramsOf(LLAMA7B_CONFIG);
    const estPrefill = p7 * 128 * cost.prefillSecPerParamToken, estDecode = m.big.checkpointBytes * cost.decodeSecPerWeightByte;
    rows.push(`Check at CodeLlama-7b dims (measured in this run, not fitted): prefill 128 tokens estimated ${estPrefill.toFixed(1)} s, measured ${(m.big.prefillMs / 1000).toFixed(1)} s; one decode step estimated ${estDecode.toFixed(2)} s, measured ${(m.big.decodeMsMedian / 1000).toFixed(2)} s.`);
  }
  if (process.env.PLIP_BENCH_STUDY === '1') {
    const dir = mkdtempSync(join(tmpdir(), 'plip-bench-study-'));
    try {
      process.stderr.write('bench: the bundled study (plip study run studies/roadmap.json) …\n');
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['bin/plip.mjs', 'study', 'run', 'studies/roadmap.json', '--out', dir], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
      const s = (Date.now() - t0) / 1000;
      const plan = await planStudy(loadStudy('studies/roadmap.json'), cost);
      rows.push(
        r.status === 0
          ? `Check on the bundled study: estimated ${dur(plan.models.reduce((a, x) => a + x.estSeconds, 0))}, measured ${dur(s)} (\`plip study run studies/roadmap.json\`, every model, one process).`
          : `Bundled study run failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else rows.push('The bundled study was not run here (PLIP_BENCH_STUDY=1 runs it and reports measured against estimated).');
  return rows.join('\n');
}
