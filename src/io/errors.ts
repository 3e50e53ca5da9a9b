/**
 * Error types of the I/O layer. Every failure reading model files or talking to the Hugging Face Hub
 * surfaces as one of these, with a message that names the file (or repo), what is wrong and what to do.
 */

/** A model file (safetensors, index, config) is missing, unreadable or malformed. */
export class PlipFileError extends Error {
  /** The file (or directory) the problem is in. */
  readonly file: string;
  /** The header field / tensor name / JSON key concerned, when there is one. */
  readonly field?: string;

  constructor(file: string, message: string, opts?: { field?: string; cause?: unknown }) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'PlipFileError';
    this.file = file;
    if (opts?.field !== undefined) this.field = opts.field;
  }
}

/**
 * An invalid option value passed to a library function. `field` is the option's name in the library
 * API (e.g. `layers`, `nPermutations`); the CLI maps it to its flag (`--layers`, `--n-permutations`),
 * so library messages never name a flag.
 */
export class PlipOptionError extends Error {
  readonly field: string;
  /** The message without the leading `field: `. */
  readonly detail: string;

  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.name = 'PlipOptionError';
    this.field = field;
    this.detail = detail;
  }
}

/** Why a hub operation failed; lets callers branch without parsing messages. */
export type PlipHubErrorKind =
  | 'invalid-id'
  | 'not-found'
  | 'unauthorized'
  | 'forbidden'
  | 'network'
  | 'offline'
  | 'server'
  | 'integrity'
  | 'no-weights';

/** Resolving or downloading a model from the Hugging Face Hub failed. */
export class PlipHubError extends Error {
  readonly kind: PlipHubErrorKind;
  /** `ORG/NAME` when known. */
  readonly repoId?: string;
  readonly revision?: string;
  /** Repo-relative file concerned, when there is one. */
  readonly file?: string;
  /** HTTP status when the failure was an HTTP response. */
  readonly status?: number;

  constructor(
    kind: PlipHubErrorKind,
    message: string,
    opts?: { repoId?: string; revision?: string; file?: string; status?: number; cause?: unknown },
  ) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'PlipHubError';
    this.kind = kind;
    if (opts?.repoId !== undefined) this.repoId = opts.repoId;
    if (opts?.revision !== undefined) this.revision = opts.revision;
    if (opts?.file !== undefined) this.file = opts.file;
    if (opts?.status !== undefined) this.status = opts.status;
  }
}

/** Node system errors carry a string `code` (ENOENT, EACCES, ...). */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}
