/**
 * Typed access to a parsed config.json with errors that name the file and field.
 */
export class ConfigReader {
  private readonly obj: Record<string, unknown>;

  constructor(
    config: unknown,
    readonly file: string,
  ) {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new Error(`${file}: expected a JSON object at the top level`);
    }
    this.obj = config as Record<string, unknown>;
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  number(field: string): number {
    const v = this.obj[field];
    if (v === undefined || v === null) throw new Error(`${this.file}: required field '${field}' is missing`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${this.file}: field '${field}' must be a number (got ${JSON.stringify(v)})`);
    return v;
  }

  optionalNumber(field: string): number | null {
    return this.has(field) ? this.number(field) : null;
  }

  string(field: string): string {
    const v = this.obj[field];
    if (v === undefined || v === null) throw new Error(`${this.file}: required field '${field}' is missing`);
    if (typeof v !== 'string') throw new Error(`${this.file}: field '${field}' must be a string (got ${JSON.stringify(v)})`);
    return v;
  }

  optionalString(field: string): string | null {
    return this.has(field) ? this.string(field) : null;
  }

  optionalBoolean(field: string): boolean | null {
    if (!this.has(field)) return null;
    const v = this.obj[field];
    if (typeof v !== 'boolean') throw new Error(`${this.file}: field '${field}' must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  optionalObject(field: string): Record<string, unknown> | null {
    if (!this.has(field)) return null;
    const v = this.obj[field];
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${this.file}: field '${field}' must be an object`);
    return v as Record<string, unknown>;
  }

  architecture(): string {
    const a = this.obj['architectures'];
    return Array.isArray(a) && typeof a[0] === 'string' ? a[0] : 'unknown';
  }

  eosTokenId(): number | number[] | null {
    const v = this.obj['eos_token_id'];
    if (v === undefined || v === null) return null;
    if (typeof v === 'number') return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
    throw new Error(`${this.file}: field 'eos_token_id' must be a number or array of numbers`);
  }
}
