/**
 * Types shared by the report renderers: a results document, the section a renderer produces, and the
 * context it may use (a loaded model for recomputing a sample's attention).
 *
 * @module
 */
import type { HookedModel } from '../../model/model.ts';
import type { Figure } from './figure.ts';

/** A finished results file `{header, records, summary}` as read from disk. */
export interface ResultsDoc {
  /** The file it came from (as given). */
  path: string;
  header: {
    experiment: string;
    schemaVersion?: number;
    tool?: { name: string; version: string };
    model?: { id?: string; revision?: string; commitHash?: string; configHash?: string; family?: string; nLayers?: number; nHeads?: number; backend?: string };
    corpus?: { path: string; sha256: string; nSamples: number };
    settings?: Record<string, unknown>;
    seed?: number | null;
    argv?: string[];
    startedAt?: string;
    [k: string]: unknown;
  };
  records: unknown[];
  summary: unknown;
}

/** A table cell: numbers are formatted by the page (p-values in scientific notation when small). */
export type Cell = string | number | boolean | null;

export interface Table {
  caption: string;
  columns: string[];
  rows: Cell[][];
  /** Column indices holding p-values (formatted 1.2e-5 below 1e-3). */
  pColumns?: number[];
  /** Optional CSS class per cell (rows × columns), e.g. 'met' / 'notmet' in a criteria matrix. */
  cellClasses?: Array<Array<string | null>>;
}

/** A success criterion of the study roadmap, checked against this result. */
export interface Criterion {
  /** The criterion as the roadmap states it. */
  name: string;
  /** Where it comes from, e.g. "roadmap Phase 2". */
  source: string;
  /** true = met, false = not met, null = this result cannot decide it (detail says why). */
  met: boolean | null;
  detail: string;
}

/** Attention from one query token over a sample's tokens (for the CircuitsVis-style token view). */
export interface TokenAttention {
  sampleId: string;
  /** What the values are, e.g. "layer 3, mean over heads 0–5". */
  label: string;
  tokens: string[];
  /** Query token (absolute position, BOS included). */
  query: number;
  /** values[k] = attention of the query on key k (0 for k > query). */
  values: number[];
  /** Tokens to outline (e.g. the targets). */
  highlight: number[];
}

/** What a renderer produces for one results file. */
export interface ReportSection {
  title: string;
  /** Short plain-text description of the experiment and this run. */
  intro: string;
  figures: Figure[];
  tables: Table[];
  criteria: Criterion[];
  tokenViews: TokenAttention[];
  /** Notes, warnings and limitations (plain text). */
  notes: string[];
}

export interface RenderContext {
  /** Loaded model to recompute a sample's attention (`plip report --model`); without it no token view is drawn. */
  model?: HookedModel;
  /** Sample id for the token view (default: the renderer's choice, stated in the view's label). */
  sample?: string;
}

/** A renderer of one result kind, keyed by `header.experiment`. */
export interface KindRenderer {
  kind: string;
  /** Throws a clear error (file and field) when the document is not a valid result of this kind. */
  validate(doc: ResultsDoc): void;
  render(doc: ResultsDoc, ctx: RenderContext): Promise<ReportSection>;
}
