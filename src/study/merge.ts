/**
 * `plip study merge OUT SHARD_DIR…`: assembles the shards of one study into the results an unsharded run
 * writes. Checks that every shard belongs to the same study (config hash) and the same split, rejects a
 * record present in two shards, names every missing record (and the shards that did not finish), then
 * writes each phase file — records in plan order, summary from the experiment's own `summarize` — and the
 * study summary and report.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResultsStore, type Provenance } from '../report/results.ts';
import { studyCriteria, type StudySummary } from './criteria.ts';
import { openStudyInputs, phaseRuns } from './phases.ts';
import { openStudyModel, phasePath, type PhaseOutcome, type Shard } from './run.ts';
import { loadStudy, type LoadedStudy } from './schema.ts';

/** The marker a shard run leaves in its output folder. */
export interface ShardMarker {
  kind: 'plip-study-shard';
  study: string;
  /** Absolute path of the study file (merge re-reads it and checks its hash). */
  studyPath: string;
  hash: string;
  shard: Shard;
}

export const SHARD_MARKER = 'study-shard.json';

export function writeShardMarker(dir: string, loaded: LoadedStudy, shard: Shard): void {
  mkdirSync(dir, { recursive: true });
  const m: ShardMarker = { kind: 'plip-study-shard', study: loaded.study.name, studyPath: loaded.path, hash: loaded.hash, shard };
  const p = join(dir, SHARD_MARKER);
  if (existsSync(p)) {
    const old = JSON.parse(readFileSync(p, 'utf8')) as ShardMarker;
    if (old.hash !== m.hash || old.shard.k !== shard.k || old.shard.n !== shard.n) throw new Error(`${p}: this folder holds shard ${old.shard.k}/${old.shard.n} of study hash ${old.hash.slice(0, 12)}; use another --out for shard ${shard.k}/${shard.n} of ${m.hash.slice(0, 12)}`);
    return;
  }
  writeFileSync(p, JSON.stringify(m, null, 1) + '\n');
}

/** Header fields that must agree between shards (timestamps and the command line may differ). */
function identity(h: Provenance): string {
  return JSON.stringify({ e: h.experiment, v: h.schemaVersion, m: h.model.configHash ?? h.model.id, c: h.corpus?.sha256 ?? null, s: h.settings, seed: h.seed });
}

/** Header and complete records of a progress file (a torn last line is left out and shows as a gap). */
function readProgress(path: string): { header: Provenance; records: { key: string }[] } | null {
  if (!existsSync(path)) return null;
  const lines = readFileSync(path, 'utf8').split('\n');
  let header: Provenance | null = null;
  const records: { key: string }[] = [];
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    let obj: { type?: string } & Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch {
      break;
    }
    const { type, ...rest } = obj;
    if (type === 'header') header = rest as unknown as Provenance;
    else if (type === 'record') records.push(rest as unknown as { key: string });
  }
  if (!header) throw new Error(`${path}: not a PLIP progress file (no header line)`);
  return { header, records };
}

/**
 * Merges shard folders into `out`; the study is the one the shards name (its file is re-read and must
 * still hash the same). @throws Error naming the shard/record for a mismatch, an overlap or a gap
 */
export async function mergeStudy(out: string, shardDirs: readonly string[]): Promise<{ loaded: LoadedStudy; phases: PhaseOutcome[]; summary: StudySummary }> {
  if (shardDirs.length === 0) throw new Error('study merge: give at least one shard folder');
  const read = shardDirs.map((d) => {
    const p = join(d, SHARD_MARKER);
    if (!existsSync(p)) throw new Error(`${d}: no ${SHARD_MARKER}; not the output of 'plip study run --shard K/N'`);
    return { d, m: JSON.parse(readFileSync(p, 'utf8')) as ShardMarker };
  });
  const loaded = loadStudy(read[0]!.m.studyPath);
  const markers = read.map(({ d, m }) => {
    if (m.hash !== loaded.hash) throw new Error(`${d}: shard of a different study (config hash ${m.hash.slice(0, 12)}, this study is ${loaded.hash.slice(0, 12)}): the study file or its settings changed`);
    return { dir: d, ...m };
  });
  const n = markers[0]!.shard.n;
  for (const m of markers) if (m.shard.n !== n) throw new Error(`${m.dir}: shard ${m.shard.k}/${m.shard.n} of a split into ${m.shard.n}, the others are of ${n}`);
  const seen = new Map<number, string>();
  for (const m of markers) {
    if (seen.has(m.shard.k)) throw new Error(`shard ${m.shard.k}/${n} given twice: ${seen.get(m.shard.k)} and ${m.dir}`);
    seen.set(m.shard.k, m.dir);
  }
  const absent = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !seen.has(k));
  const { study } = loaded;
  const inputs = await openStudyInputs(study);
  const phases: PhaseOutcome[] = [];
  try {
    for (const entry of study.models) {
      const model = await openStudyModel(entry);
      for (const run of await phaseRuns(study, model, inputs)) {
        const { config } = run.experiment.configure(model, run.input, run.options);
        const plan = run.experiment.plan(model, run.input, config);
        const path = phasePath(out, entry.id, run.phase);
        let header: Provenance | null = null;
        const byKey = new Map<string, { key: string }>();
        const from = new Map<string, string>();
        for (const m of markers) {
          const p = readProgress(`${phasePath(m.dir, entry.id, run.phase)}.progress.jsonl`);
          if (!p) continue;
          if (header && identity(header) !== identity(p.header)) throw new Error(`${m.dir}: ${entry.id}/${run.phase} was run with different settings, model or input than ${[...from.values()][0]}`);
          header ??= p.header;
          for (const r of p.records) {
            if (byKey.has(r.key)) throw new Error(`${entry.id}/${run.phase}: record '${r.key}' is in two shards (${from.get(r.key)} and ${m.dir}): overlapping shards cannot be merged`);
            byKey.set(r.key, r);
            from.set(r.key, m.dir);
          }
        }
        const want = plan.items.flatMap((it) => it.keys ?? []);
        const missing = want.filter((k) => !byKey.has(k));
        if (missing.length || !header) {
          const why = absent.length ? `; shard(s) ${absent.map((k) => `${k}/${n}`).join(', ')} not given` : '; a shard did not finish (re-run it, it resumes)';
          throw new Error(`${entry.id}/${run.phase}: ${missing.length} of ${want.length} records missing (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})${why}`);
        }
        const extra = [...byKey.keys()].filter((k) => !want.includes(k));
        if (extra.length) throw new Error(`${entry.id}/${run.phase}: records not in the study's plan (${extra.slice(0, 3).join(', ')}): the shards do not match this study's input`);
        const records = want.map((k) => byKey.get(k)!);
        const summary = run.experiment.summarize(records, { model, input: run.input, config, seed: study.seed, plan });
        mkdirSync(join(out, entry.id), { recursive: true });
        const store = new ResultsStore(path, header, { restart: true });
        for (const r of records) store.add(r);
        store.finish(summary);
        phases.push({ model: entry.id, phase: run.phase, path, items: want.length, selected: want.length, complete: true, summary });
      }
    }
  } finally {
    inputs.close();
  }
  return { loaded, phases, summary: studyCriteria(loaded, phases) };
}
