/**
 * Loading and validating format-2.0 corpora (see docs/corpus-format.md).
 *
 * Every problem is reported with the file, the sample id (and `group[index]`) and the field, all problems at
 * once, as a {@link CorpusError}. Positions are Unicode CODE POINT offsets into `code`; a sample may give
 * patterns instead (`marker_pattern` without `marker_char_pos`; `target_patterns`; `targets:
 * "function-signature"`), which are resolved here so the rest of the toolkit only sees explicit positions.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolveSignatureTargets } from './resolve.ts';
import { functionSpans } from './function-spans.ts';
import { CORPUS_FORMAT_VERSION, type Corpus, type CorpusLanguage, type CorpusSample, type RawSample, sampleSchema } from './schema.ts';

/** One validation problem. */
export interface CorpusIssue {
  /** Sample id when known (else null: file-level problem or a sample without a valid id). */
  sampleId: string | null;
  /** `group[index]` of the sample, when the problem is in a sample. */
  where: string | null;
  /** Field path, e.g. `marker_char_pos`, `target_char_positions[2]`. */
  field: string | null;
  message: string;
}

/** A corpus file is malformed or inconsistent. `message` lists every issue, one per line. */
export class CorpusError extends Error {
  constructor(
    readonly file: string,
    readonly issues: CorpusIssue[],
  ) {
    const MAX = 40;
    const lines = issues.slice(0, MAX).map((i) => `  ${formatIssue(i)}`);
    if (issues.length > MAX) lines.push(`  … and ${issues.length - MAX} more`);
    super(`${file}: invalid corpus (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'CorpusError';
  }
}

function formatIssue(i: CorpusIssue): string {
  const parts: string[] = [];
  if (i.sampleId !== null) parts.push(`sample '${i.sampleId}'${i.where ? ` (${i.where})` : ''}`);
  else if (i.where) parts.push(`sample ${i.where}`);
  if (i.field) parts.push(`field '${i.field}'`);
  return parts.length ? `${parts.join(', ')}: ${i.message}` : i.message;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

/** Code point length of a string. */
function cpLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Code point indices of every occurrence of `pattern` in `cps` (array of code points as strings). */
function occurrences(cps: string[], pattern: string[]): number[] {
  const out: number[] = [];
  outer: for (let i = 0; i + pattern.length <= cps.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (cps[i + j] !== pattern[j]) continue outer;
    out.push(i);
  }
  return out;
}

function inferLanguage(raw: RawSample, group: string): CorpusLanguage | null {
  if (raw.language) return raw.language;
  if (/^py(thon)?(_|$)/i.test(group)) return 'python';
  if (/^rust(_|$)/i.test(group)) return 'rust';
  if (raw.marker_pattern === '>>>') return 'python';
  if (raw.marker_pattern.startsWith('#[')) return 'rust';
  return null;
}

const show = (s: string) => JSON.stringify(s.length > 20 ? s.slice(0, 20) + '…' : s);

/**
 * Validates one schema-valid sample and resolves its positions. Problems are pushed to `issues`
 * (then null is returned), non-fatal findings to `warnings`.
 */
async function checkSample(raw: RawSample, group: string, index: number, issues: CorpusIssue[], warnings: string[]): Promise<CorpusSample | null> {
  const where = `${group}[${index}]`;
  const before = issues.length;
  const err = (field: string | null, message: string) => issues.push({ sampleId: raw.id, where, field, message });
  const cps = Array.from(raw.code);
  const n = cps.length;
  const pat = Array.from(raw.marker_pattern);
  const occ = occurrences(cps, pat);
  const language = inferLanguage(raw, group);

  // Marker.
  let markerCharPos = -1;
  if (raw.marker_char_pos !== undefined) {
    if (raw.marker_occurrence !== undefined) err('marker_occurrence', 'give either marker_char_pos or marker_occurrence, not both');
    const p = raw.marker_char_pos;
    if (p >= n) err('marker_char_pos', `${p} is outside the code (${n} code points, valid 0..${n - 1})`);
    else if (!occ.includes(p)) {
      const found = cps.slice(p, p + pat.length).join('');
      const hint = occ.length ? `it occurs at code point${occ.length > 1 ? 's' : ''} ${occ.slice(0, 5).join(', ')}` : 'it does not occur in the code at all';
      err('marker_char_pos', `marker_pattern ${show(raw.marker_pattern)} does not occur at code point ${p} (found ${show(found)}; ${hint})`);
    } else markerCharPos = p;
  } else {
    const k = raw.marker_occurrence ?? 1;
    if (occ.length < k) {
      err(raw.marker_occurrence ? 'marker_occurrence' : 'marker_pattern', `marker_pattern ${show(raw.marker_pattern)} occurs ${occ.length} time(s) in the code; occurrence ${k} requested`);
    } else markerCharPos = occ[k - 1]!;
  }

  // Targets: exactly one of the three forms.
  const forms = (['target_char_positions', 'targets', 'target_patterns'] as const).filter((f) => raw[f] !== undefined);
  if (forms.length !== 1) {
    err(forms[1] ?? 'target_char_positions', forms.length === 0 ? 'no targets: give target_char_positions, target_patterns or targets: "function-signature"' : `give only one of ${forms.join(', ')}`);
  }
  if (raw.targets === undefined && (raw.function !== undefined || raw.signature_style !== undefined)) {
    err(raw.function !== undefined ? 'function' : 'signature_style', 'only meaningful with targets: "function-signature"');
  }
  let targets: number[] = [];
  let source: CorpusSample['source'] = { marker: raw.marker_char_pos !== undefined ? 'explicit' : 'pattern', targets: 'explicit' };
  if (raw.target_char_positions) {
    raw.target_char_positions.forEach((p, i) => {
      if (p >= n) err(`target_char_positions[${i}]`, `${p} is outside the code (${n} code points, valid 0..${n - 1})`);
    });
    targets = raw.target_char_positions;
  } else if (raw.target_patterns) {
    source = { ...source, targets: 'patterns' };
    raw.target_patterns.forEach((tp, i) => {
      const spec = typeof tp === 'string' ? { pattern: tp, occurrence: 1, offset: 0 } : { pattern: tp.pattern, occurrence: tp.occurrence ?? 1, offset: tp.offset ?? 0 };
      const o = occurrences(cps, Array.from(spec.pattern));
      if (o.length < spec.occurrence) {
        err(`target_patterns[${i}]`, `pattern ${show(spec.pattern)} occurs ${o.length} time(s) in the code; occurrence ${spec.occurrence} requested`);
        return;
      }
      const p = o[spec.occurrence - 1]! + spec.offset;
      if (p >= n) err(`target_patterns[${i}]`, `offset ${spec.offset} puts the target at ${p}, outside the code (${n} code points)`);
      else targets.push(p);
    });
  } else if (raw.targets === 'function-signature' && markerCharPos >= 0) {
    if (!language) err('language', 'cannot tell the language for targets: "function-signature"; add "language": "python" | "rust"');
    else {
      try {
        const style = raw.signature_style ?? 'plip-rs';
        const r = await resolveSignatureTargets(raw.code, language, markerCharPos, { function: raw.function, style });
        targets = r.targets;
        source = { ...source, targets: 'function-signature', signature: { name: r.fn.name, style, rule: r.rule } };
      } catch (e) {
        err('targets', (e as Error).message);
      }
    }
  }
  if (issues.length > before) return null;

  const seen = new Set<number>();
  targets.forEach((p, i) => {
    if (seen.has(p)) warnings.push(`sample '${raw.id}' (${where}), field 'target_char_positions[${i}]': duplicate target position ${p}`);
    seen.add(p);
  });
  if (targets.every((p) => p > markerCharPos)) {
    warnings.push(`sample '${raw.id}' (${where}): every target comes after the marker (code point ${markerCharPos}); causal attention from the marker to them is 0 by construction`);
  }
  const fnSpans = language ? await functionSpans(raw.code, language, targets) : null;
  return {
    id: raw.id,
    group,
    index,
    language,
    code: raw.code,
    markerPattern: raw.marker_pattern,
    markerCharPos,
    targetCharPositions: targets,
    functionSpans: fnSpans,
    source,
    ...(raw.note !== undefined ? { note: raw.note } : {}),
  };
}

/** Drops a leading UTF-8 byte-order mark (U+FEFF), which JSON.parse rejects with an invisible "Unexpected token". */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Parses and validates corpus text (format 2.0), resolving pattern-based samples.
 *
 * @param text - the JSON text
 * @param file - name used in messages (and {@link Corpus.file}); `null` → `<memory>`
 * @param sha256 - hash to record (default: sha256 of the UTF-8 text)
 * @throws CorpusError listing every problem (file, sample id, group[index], field)
 */
export async function parseCorpus(text: string, file: string | null = null, sha256?: string): Promise<Corpus> {
  const name = file ?? '<memory>';
  text = stripBom(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    let where = '';
    if (at) {
      const before = text.slice(0, Number(at[1]));
      const line = before.split('\n').length;
      where = ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
    }
    throw new CorpusError(name, [{ sampleId: null, where: null, field: null, message: `not valid JSON${where}: ${msg}` }]);
  }
  const issues: CorpusIssue[] = [];
  const warnings: string[] = [];
  const fileIssue = (field: string | null, message: string) => issues.push({ sampleId: null, where: null, field, message });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CorpusError(name, [{ sampleId: null, where: null, field: null, message: 'the top level must be a JSON object of groups ({"_format_version": "2.0", "python_doctest": [...], ...})' }]);
  }
  const obj = json as Record<string, unknown>;
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (k.startsWith('_')) meta[k] = v;
  if (obj._format_version !== CORPUS_FORMAT_VERSION) {
    fileIssue('_format_version', obj._format_version === undefined ? `missing (expected "${CORPUS_FORMAT_VERSION}")` : `is ${JSON.stringify(obj._format_version)}; only "${CORPUS_FORMAT_VERSION}" is supported`);
  }
  const groups = Object.keys(obj).filter((k) => !k.startsWith('_'));
  if (groups.length === 0) fileIssue(null, 'no sample groups (top-level arrays such as "python_doctest") found');
  const samples: CorpusSample[] = [];
  const ids = new Map<string, string>();
  for (const g of groups) {
    const arr = obj[g];
    if (!Array.isArray(arr)) {
      fileIssue(g, `group '${g}' must be an array of samples (got ${arr === null ? 'null' : typeof arr})`);
      continue;
    }
    for (let i = 0; i < arr.length; i++) {
      const where = `${g}[${i}]`;
      const item = arr[i];
      const rawId = typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string' && (item as { id: string }).id ? (item as { id: string }).id : null;
      const parsed = sampleSchema.safeParse(item);
      if (!parsed.success) {
        for (const iss of parsed.error.issues) {
          const field = iss.code === 'unrecognized_keys' ? (iss as { keys: string[] }).keys.join(', ') : fieldPath(iss.path) || null;
          const message = iss.code === 'unrecognized_keys' ? `unknown field(s) ${(iss as { keys: string[] }).keys.map((k) => `'${k}'`).join(', ')} (see docs/corpus-format.md)` : iss.message;
          issues.push({ sampleId: rawId, where, field, message });
        }
        continue;
      }
      const raw = parsed.data;
      if (ids.has(raw.id)) {
        issues.push({ sampleId: raw.id, where, field: 'id', message: `duplicate id (also used by ${ids.get(raw.id)})` });
        continue;
      }
      ids.set(raw.id, where);
      const s = await checkSample(raw, g, i, issues, warnings);
      if (s) samples.push(s);
    }
  }
  if (issues.length === 0 && groups.length > 0 && samples.length === 0) {
    fileIssue(null, `every group (${groups.join(', ')}) is empty: the corpus has no samples to run`);
  }
  if (issues.length) throw new CorpusError(name, issues);
  return {
    file,
    sha256: sha256 ?? createHash('sha256').update(text, 'utf8').digest('hex'),
    formatVersion: CORPUS_FORMAT_VERSION,
    meta,
    groups: groups.filter((g) => Array.isArray(obj[g])),
    samples,
    resolved: samples.some((s) => s.source.marker !== 'explicit' || s.source.targets !== 'explicit'),
    warnings,
  };
}

/**
 * Reads, validates and resolves a corpus file.
 * @throws CorpusError (file unreadable, malformed JSON, schema or position problems — each naming sample id and field)
 */
export async function loadCorpus(path: string): Promise<Corpus> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new CorpusError(path, [{ sampleId: null, where: null, field: null, message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  return parseCorpus(buf.toString('utf8'), path, createHash('sha256').update(buf).digest('hex'));
}

/**
 * The corpus as format-2.0 JSON with explicit positions (what `plip corpus resolve` writes): metadata keys
 * first, then each group's samples with `id, code, marker_char_pos, marker_pattern, target_char_positions`
 * (+ `note` when set). Samples whose positions were resolved get a `note` saying how (function found, rule).
 */
export function corpusToJson(c: Corpus): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c.meta, _format_version: CORPUS_FORMAT_VERSION };
  for (const g of c.groups) {
    out[g] = c.samples
      .filter((s) => s.group === g)
      .map((s) => {
        const o: Record<string, unknown> = {
          id: s.id,
          code: s.code,
          marker_char_pos: s.markerCharPos,
          marker_pattern: s.markerPattern,
          target_char_positions: s.targetCharPositions,
        };
        if (s.note !== undefined) o.note = s.note;
        if (s.source.marker !== 'explicit' || s.source.targets !== 'explicit') {
          o.note = [s.note, `resolved: marker from ${s.source.marker}, targets from ${s.source.targets}` + (s.source.signature ? ` (function '${s.source.signature.name}', ${s.source.signature.rule}, style ${s.source.signature.style})` : '')]
            .filter(Boolean)
            .join('; ');
        }
        return o;
      });
  }
  return out;
}

/** Samples of one group, in file order. */
export function groupSamples(c: Corpus, group: string): CorpusSample[] {
  return c.samples.filter((s) => s.group === group);
}

export { cpLength as codePointLength };
