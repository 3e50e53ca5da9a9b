/**
 * `plip study run`: every phase of a study on every model, each phase through the experiment contract
 * into `DIR/<model id>/<phase>.json` (the same files the individual commands write), then
 * `DIR/study.json` (criteria and replication, ./criteria.ts) and `DIR/report.html`.
 *
 * Crash safety: each phase resumes from its progress file (src/report/results.ts); a finished phase file
 * whose header matches is not run again, so a study killed at any moment and re-run ends identical to an
 * uninterrupted run (timestamps aside).
 *
 * Sharding (`shard: {k, n}`): the (model × phase × item) grid is numbered in study order and item g
 * belongs to shard (g mod n) + 1 — deterministic and balanced to within one item per phase. A shard
 * leaves its records in progress files; `plip study merge` (./merge.ts) assembles the full results.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment } from '../experiments/contract.ts';
import { loadModel } from '../model/load.ts';
import type { HookedModel } from '../model/model.ts';
import { studyCriteria, type StudySummary } from './criteria.ts';
import { openStudyInputs, phaseRuns, type PhaseRun } from './phases.ts';
import type { LoadedStudy, PhaseName, StudyModel } from './schema.ts';

/** One shard of a run: k in 1..n. */
export interface Shard {
  k: number;
  n: number;
}

/** Parses "K/N" (1 ≤ K ≤ N). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`shard: expected K/N, e.g. 2/8 (got '${text}')`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!(n >= 1 && k >= 1 && k <= n)) throw new Error(`shard: need 1 ≤ K ≤ N (got ${k}/${n})`);
  return { k, n };
}

export interface RunStudyOptions {
  out: string;
  shard?: Shard;
  /** Stop after this many new items in total (tests of crash safety). */
  stopAfter?: number;
  onPhase?: (model: string, phase: PhaseName, total: number) => void;
  onProgress?: (model: string, phase: PhaseName, done: number, total: number, label: string) => void;
  argv?: string[];
}

export interface PhaseOutcome {
  model: string;
  phase: PhaseName;
  path: string;
  /** Items of the phase (all shards). */
  items: number;
  /** Items this run covered (its shard). */
  selected: number;
  complete: boolean;
  summary: unknown;
}

export interface StudyRun {
  phases: PhaseOutcome[];
  /** Null for a shard or an interrupted run. */
  summary: StudySummary | null;
}

/** Loads one study model (directory, or hub id at its revision), in its `compute` mode. */
export async function openStudyModel(m: StudyModel): Promise<HookedModel> {
  return 'path' in m ? loadModel(m.path, { compute: m.compute }) : loadModel(m.hub, { revision: m.revision, compute: m.compute });
}

/** The results file of a phase. */
export function phasePath(out: string, model: string, phase: PhaseName): string {
  return join(out, model, `${phase}.json`);
}

/** A finished phase file with the same experiment, settings, seed and input: its summary, else null. */
function finished(path: string, run: PhaseRun, settings: Record<string, unknown>, seed: number): unknown | null {
  if (!existsSync(path)) return null;
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { header: { experiment: string; settings: unknown; seed: number }; summary: unknown };
  if (doc.header.experiment !== run.experiment.name || doc.header.seed !== seed || JSON.stringify(doc.header.settings) !== JSON.stringify(settings)) {
    throw new Error(`${path}: a finished result with DIFFERENT settings exists; delete it or choose another --out`);
  }
  return doc.summary;
}

/** Runs the study (or one shard of it). */
export async function runStudy(loaded: LoadedStudy, o: RunStudyOptions): Promise<StudyRun> {
  const { study } = loaded;
  mkdirSync(o.out, { recursive: true });
  const inputs = await openStudyInputs(study);
  const phases: PhaseOutcome[] = [];
  let offset = 0;
  let budget = o.stopAfter ?? Infinity;
  try {
    for (const entry of study.models) {
      const model = await openStudyModel(entry);
      for (const run of await phaseRuns(study, model, inputs)) {
        const path = phasePath(o.out, entry.id, run.phase);
        const { config, settings } = run.experiment.configure(model, run.input, run.options);
        // a computed calibration (phase 4) is handed on, so the run does not calibrate a second time
        if (config && typeof config === 'object' && 'calibration' in config) run.options.calibration = (config as { calibration: unknown }).calibration;
        const plan = run.experiment.plan(model, run.input, config);
        const total = plan.items.length;
        const base = offset;
        offset += total;
        const mine = (i: number) => !o.shard || (base + i) % o.shard.n === o.shard.k - 1;
        const selected = plan.items.filter((_, i) => mine(i)).length;
        const done = o.shard ? null : finished(path, run, settings, study.seed);
        if (done !== null) {
          phases.push({ model: entry.id, phase: run.phase, path, items: total, selected, complete: true, summary: done });
          continue;
        }
        if (budget <= 0) {
          phases.push({ model: entry.id, phase: run.phase, path, items: total, selected, complete: false, summary: null });
          continue;
        }
        o.onPhase?.(entry.id, run.phase, total);
        mkdirSync(join(o.out, entry.id), { recursive: true });
        const r = runExperiment(run.experiment, model, run.input, {
          options: run.options,
          seed: study.seed,
          out: path,
          stopAfter: Number.isFinite(budget) ? budget : undefined,
          select: o.shard ? (i) => mine(i) : undefined,
          argv: o.argv,
          onProgress: (d, t, label) => o.onProgress?.(entry.id, run.phase, d, t, label),
        });
        if (Number.isFinite(budget)) budget -= r.records.length - r.resumed;
        phases.push({ model: entry.id, phase: run.phase, path, items: total, selected, complete: r.complete, summary: r.summary });
      }
    }
  } finally {
    inputs.close();
  }
  const complete = !o.shard && phases.every((p) => p.complete);
  return { phases, summary: complete ? studyCriteria(loaded, phases) : null };
}
