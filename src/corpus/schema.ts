/**
 * Corpus format 2.0 (the "universal" corpus of PLIP-rs) — zod schema of one sample and the typed,
 * validated form the rest of PLIP-TS uses. See docs/corpus-format.md for the full description.
 *
 * UNITS: every position in a corpus file and in {@link CorpusSample} is a CHARACTER position measured in
 * Unicode CODE POINTS from the start of `code` (not UTF-16 units, not bytes). Token positions never appear
 * here; they are computed from these by src/tokenize/positions.ts.
 *
 * @module
 */
import type { FunctionSpans } from './function-spans.ts';
import { z } from 'zod';

/** The only format version this loader accepts (`"_format_version"` at the top level). */
export const CORPUS_FORMAT_VERSION = '2.0';

/** Languages for which function signatures can be resolved by parsing. */
export type CorpusLanguage = 'python' | 'rust';

/**
 * How `targets: "function-signature"` turns a signature into target positions.
 * - `plip-rs` (default; the convention of the real corpus): Python → `def`, the name, every parameter name;
 *   Rust → `fn`, the name, and the character right after the name (`(` or `<`).
 * - `full`: the keyword, the name and every parameter (its first identifier), for both languages.
 */
export type SignatureStyle = 'plip-rs' | 'full';

const nonNegInt = (what: string) =>
  z.int({ error: (iss) => `${what} must be an integer (got ${JSON.stringify(iss.input)})` }).min(0, { error: (iss) => `${what} must be ≥ 0 (got ${String(iss.input)})` });

/** A target given by a pattern: the first (or `occurrence`-th) occurrence of `pattern` in the code, plus `offset` code points. */
export const targetPatternSchema = z.union(
  [
    z.string().min(1, { error: 'a target pattern must be a non-empty string' }),
    z.strictObject({
      pattern: z.string().min(1, { error: 'pattern must be a non-empty string' }),
      occurrence: z.int().min(1, { error: 'occurrence counts from 1' }).optional(),
      offset: nonNegInt('offset').optional(),
    }),
  ],
  { error: 'each target pattern must be a string or {"pattern": string, "occurrence"?: int ≥ 1, "offset"?: int ≥ 0}' },
);

/** One sample as written in a format-2.0 file (explicit positions, or patterns to be resolved). */
export const sampleSchema = z.strictObject({
  id: z.string({ error: 'id must be a string' }).min(1, { error: 'id must not be empty' }),
  code: z.string({ error: 'code must be a string' }).min(1, { error: 'code must not be empty' }),
  marker_pattern: z.string({ error: 'marker_pattern must be a string' }).min(1, { error: 'marker_pattern must not be empty' }),
  /** Code point offset of the first character of `marker_pattern` in `code`. */
  marker_char_pos: nonNegInt('marker_char_pos').optional(),
  /** Pattern form: which occurrence of `marker_pattern` is the marker (1 = first; default 1). */
  marker_occurrence: z.int({ error: 'marker_occurrence must be an integer' }).min(1, { error: 'marker_occurrence counts from 1' }).optional(),
  /** Code point offsets of the target characters. */
  target_char_positions: z
    .array(nonNegInt('a target position'), { error: 'target_char_positions must be an array of integers' })
    .min(1, { error: 'target_char_positions must not be empty' })
    .optional(),
  /** Pattern form: find the function signature the marker refers to by parsing the code. */
  targets: z.literal('function-signature', { error: 'targets must be "function-signature" (or give target_char_positions / target_patterns)' }).optional(),
  /** Pattern form: explicit target patterns. */
  target_patterns: z.array(targetPatternSchema, { error: 'target_patterns must be an array' }).min(1, { error: 'target_patterns must not be empty' }).optional(),
  /** With `targets: "function-signature"`: the function's name (otherwise found from the marker). */
  function: z.string().min(1, { error: 'function must be a non-empty name' }).optional(),
  signature_style: z.enum(['plip-rs', 'full'], { error: 'signature_style must be "plip-rs" or "full"' }).optional(),
  /** Overrides the language inferred from the group name / marker. */
  language: z.enum(['python', 'rust'], { error: 'language must be "python" or "rust"' }).optional(),
  /** Free text kept with the sample. */
  note: z.string().optional(),
});

/** A sample as written in the file (after schema validation, before position checks). */
export type RawSample = z.infer<typeof sampleSchema>;

/** A validated sample with explicit, checked positions (all in code points). */
export interface CorpusSample {
  /** Unique across the corpus. */
  id: string;
  /** Group key in the file, e.g. `python_doctest`, `rust_test`, `python_baseline`, `rust_baseline`. */
  group: string;
  /** Index of the sample within its group (0-based), as in the file. */
  index: number;
  /** From `language`, else the group name prefix (`python…`/`rust…`), else the marker (`>>>` / `#[`); null if unknown. */
  language: CorpusLanguage | null;
  code: string;
  markerPattern: string;
  /** Code point index of the marker's first character; `code` has `markerPattern` there (checked). */
  markerCharPos: number;
  /** Code point indices of the targets, each inside `code` (checked), in file order. */
  targetCharPositions: number[];
  /** Where the positions came from. */
  source: {
    marker: 'explicit' | 'pattern';
    targets: 'explicit' | 'patterns' | 'function-signature';
    /** For `function-signature`: the function found and the rule that picked it. */
    signature?: { name: string; style: SignatureStyle; rule: string };
  };
  note?: string;
  /**
   * Whole-identifier spans (keyword, name, parameters) of the function whose signature holds every target
   * (./function-spans.ts); null when the targets are not one function's signature or the language is
   * unknown; absent on samples not built by the loader.
   */
  functionSpans?: FunctionSpans | null;
}

/** A loaded corpus. */
export interface Corpus {
  /** File it was read from (null when parsed from a string without a name). */
  file: string | null;
  /** sha256 (hex) of the file bytes (or of the UTF-8 text when parsed from a string). */
  sha256: string;
  formatVersion: string;
  /** Top-level keys starting with `_` (e.g. `_description`), kept verbatim. */
  meta: Record<string, unknown>;
  /** Group keys in file order. */
  groups: string[];
  /** All samples, group by group in file order. */
  samples: CorpusSample[];
  /** True when at least one position was resolved from a pattern. */
  resolved: boolean;
  /** Non-fatal findings (e.g. duplicate target positions), each naming the sample id and field. */
  warnings: string[];
}
