/**
 * From a study's phase settings to the experiments that run them: which experiment, which input, which
 * options. One place, so `study run`, `study merge` and `study plan` agree on what a phase is.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadCorpus } from '../corpus/load.ts';
import type { Corpus } from '../corpus/schema.ts';
import { locatePrompts } from '../corpus/test-prompts.ts';
import type { Experiment, WorkItem } from '../experiments/contract.ts';
import { knockoutExperiment } from '../experiments/knockout/experiment.ts';
import { preservationExperiment, type PreservationInput } from '../experiments/preservation/experiment.ts';
import { openScorer } from '../experiments/shared/scorer.ts';
import { steerGenExperiment } from '../experiments/steer-generation/experiment.ts';
import { transplantExperiment, transplantInput } from '../experiments/transplant/experiment.ts';
import type { HookedModel } from '../model/model.ts';
import { loadStudyPrompts } from './prompts.ts';
import type { PhaseName, Study } from './schema.ts';
import { resolveLayers } from './units.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyExperiment = Experiment<any, any, any, WorkItem, { key: string }, any>;

/** What one phase runs on one model. */
export interface PhaseRun {
  phase: PhaseName;
  experiment: AnyExperiment;
  input: unknown;
  options: Record<string, unknown>;
}

/** Inputs shared by every phase of a study, built once per study. */
export interface StudyInputs {
  corpus: Corpus | null;
  /** The located prompts with a scorer that runs the tests, and one that does not (phases with `execute: false`). */
  prompts: { execute: PreservationInput; static: PreservationInput } | null;
  close(): void;
}

/** Loads the corpus and the prompts and opens the scorer (execute unless every generation phase turns it off). */
export async function openStudyInputs(study: Study): Promise<StudyInputs> {
  const corpus = study.phases.knockout ? await loadCorpus(study.data.corpus) : null;
  const needPrompts = study.phases.preservation || study.phases.steering || study.phases.transplant;
  if (!needPrompts) return { corpus, prompts: null, close: () => {} };
  const g = loadStudyPrompts(study.data.prompts);
  const located = await locatePrompts([...g.python, ...g.rust]);
  const running = await openScorer({ execute: true });
  const quiet = await openScorer({ execute: false });
  const { python, rust } = study.data.prompts;
  const sha = createHash('sha256').update(readFileSync(python)).update(python === rust ? '' : readFileSync(rust)).digest('hex');
  const path = python === rust ? python : `${python} + ${rust}`;
  const input = (scorer: PreservationInput['scorer']): PreservationInput => ({ path, sha256: sha, prompts: located.located, skipped: located.skipped, scorer });
  return {
    corpus,
    prompts: { execute: input(running), static: input(quiet) },
    close: () => {
      running.close();
      quiet.close();
    },
  };
}

/** The phases of the study, in roadmap order, as experiment runs on `model`. */
export async function phaseRuns(study: Study, model: HookedModel, inputs: StudyInputs): Promise<PhaseRun[]> {
  const out: PhaseRun[] = [];
  const nL = model.spec.nLayers;
  const ko = study.phases.knockout;
  if (ko) {
    out.push({ phase: 'knockout', experiment: knockoutExperiment as unknown as AnyExperiment, input: inputs.corpus, options: { layers: resolveLayers(ko.layers, nL, 'phases.knockout.layers'), modes: ko.modes, window: ko.window, controls: ko.controls, nPermutations: ko.nPermutations, targets: ko.targets, alpha: study.alpha } });
  }
  const pr = study.phases.preservation;
  if (pr) {
    out.push({
      phase: 'preservation',
      experiment: preservationExperiment as unknown as AnyExperiment,
      input: pr.execute ? inputs.prompts!.execute : inputs.prompts!.static,
      options: { layers: resolveLayers(pr.layers, nL, 'phases.preservation.layers'), modes: pr.modes, window: pr.window, conditions: pr.conditions.filter((c) => c !== 'baseline'), levels: pr.levels, n: pr.n, maxNewTokens: pr.maxNewTokens, controls: pr.controls, alpha: study.alpha, dropThreshold: pr.dropThreshold },
    });
  }
  const st = study.phases.steering;
  if (st) {
    out.push({
      phase: 'steering',
      experiment: steerGenExperiment as unknown as AnyExperiment,
      input: st.execute ? inputs.prompts!.execute : inputs.prompts!.static,
      options: { layers: resolveLayers(st.layers, nL, 'phases.steering.layers'), modes: st.modes, window: st.window, multiples: st.multiples, overSteer: st.overSteer, n: st.n, maxNewTokens: st.maxNewTokens, controls: st.controls, alpha: study.alpha },
    });
  }
  const tp = study.phases.transplant;
  if (tp) {
    const base = tp.execute ? inputs.prompts!.execute : inputs.prompts!.static;
    // pairs and position maps depend on the model's tokenizer; the input keeps the study's prompt provenance
    const t = await transplantInput(study.data.prompts.python, { located: base.prompts, skipped: base.skipped }, model, base.scorer, tp.n);
    out.push({
      phase: 'transplant',
      experiment: transplantExperiment as unknown as AnyExperiment,
      input: { ...t, path: base.path, sha256: base.sha256 },
      options: { layers: resolveLayers(tp.layers, nL, 'phases.transplant.layers'), n: tp.n, maxNewTokens: tp.maxNewTokens, alpha: study.alpha },
    });
  }
  return out;
}
