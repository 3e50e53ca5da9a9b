/**
 * Hugging Face `tokenizer.json` tokenizers (byte-level BPE, SentencePiece-style BPE with byte fallback, ...)
 * loaded through `@huggingface/tokenizers`, with code point offsets and an explicit BOS policy.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { alignSurfaces } from './align.ts';
import { byteFallbackValue, byteLevelTokenBytes, utf8Decode, utf8Encode } from './bytes.ts';
import { rustCompatibleTokenizerJson } from './compat.ts';
import type { DecodeOptions, EncodeOptions, Encoding, PlipTokenizer } from './types.ts';

type Json = Record<string, unknown>;

/** Error raised when a tokenizer directory or file cannot be loaded; the message names the file. */
export class TokenizerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerLoadError';
  }
}

function isObj(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function readJsonFile(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenizerLoadError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new TokenizerLoadError(`malformed JSON in ${path}: ${(e as Error).message}`);
  }
  if (!isObj(parsed)) throw new TokenizerLoadError(`malformed tokenizer file ${path}: top level is not a JSON object`);
  return parsed;
}

/** A special-token entry of tokenizer_config.json: a string, `{content: string, ...}`, or null. */
function tokenContent(x: unknown): string | null {
  if (typeof x === 'string') return x;
  if (isObj(x) && typeof x['content'] === 'string') return x['content'];
  return null;
}

/** The `TemplateProcessing` post-processor of a tokenizer.json (possibly inside a `Sequence`), if any. */
function findTemplate(pp: unknown): Json | null {
  if (!isObj(pp)) return null;
  if (pp['type'] === 'TemplateProcessing') return pp;
  if (pp['type'] === 'Sequence' && Array.isArray(pp['processors'])) {
    for (const p of pp['processors'] as unknown[]) {
      const t = findTemplate(p);
      if (t) return t;
    }
  }
  return null;
}

/** Special tokens at the start and end of a TemplateProcessing `single` template. */
function templateSpecials(tpl: Json): { leading: string[]; trailing: string[] } {
  const single = Array.isArray(tpl['single']) ? (tpl['single'] as unknown[]) : [];
  const leading: string[] = [];
  const trailing: string[] = [];
  let seenSeq = false;
  for (const piece of single) {
    if (!isObj(piece)) continue;
    if (isObj(piece['Sequence'])) {
      seenSeq = true;
      continue;
    }
    const sp = piece['SpecialToken'];
    if (isObj(sp) && typeof sp['id'] === 'string') (seenSeq ? trailing : leading).push(sp['id']);
  }
  return { leading, trailing };
}

/** BOS/EOS policy derived from the configuration files. */
export interface SpecialTokenPolicy {
  bosToken: string | null;
  eosToken: string | null;
  addsBos: boolean;
  addsEos: boolean;
}

/**
 * Decide the BOS/EOS tokens and whether encode() adds them, by the rule:
 * `add_bos_token` of tokenizer_config.json if present, else whether the tokenizer.json post_processor is a
 * TemplateProcessing that starts with the BOS token, else `false` (GPT-2 style). `add_eos_token` likewise
 * (template ending with the EOS token).
 *
 * The BOS/EOS token strings come from tokenizer_config.json, then special_tokens_map.json, then the template;
 * as a last resort a vocabulary that has `<|endoftext|>` uses it for both (the GPT-2 tokenizer class default).
 *
 * @param tokenizerConfig - parsed tokenizer_config.json (may be `{}`)
 * @param tokenizerJson - parsed tokenizer.json, or `null` when only the config is available
 * @param specialTokensMap - parsed special_tokens_map.json, if present
 */
export function resolveSpecialTokenPolicy(
  tokenizerConfig: Json,
  tokenizerJson: Json | null,
  specialTokensMap: Json | null = null,
): SpecialTokenPolicy {
  const tpl = tokenizerJson ? findTemplate(tokenizerJson['post_processor']) : null;
  const specials = tpl ? templateSpecials(tpl) : { leading: [], trailing: [] };
  const has = (k: string): boolean => k in tokenizerConfig;
  let bosToken = has('bos_token') ? tokenContent(tokenizerConfig['bos_token']) : undefined;
  let eosToken = has('eos_token') ? tokenContent(tokenizerConfig['eos_token']) : undefined;
  if (bosToken === undefined && specialTokensMap && 'bos_token' in specialTokensMap) {
    bosToken = tokenContent(specialTokensMap['bos_token']);
  }
  if (eosToken === undefined && specialTokensMap && 'eos_token' in specialTokensMap) {
    eosToken = tokenContent(specialTokensMap['eos_token']);
  }
  if (bosToken === undefined && specials.leading.length > 0) bosToken = specials.leading[0]!;
  if (eosToken === undefined && specials.trailing.length > 0) eosToken = specials.trailing[specials.trailing.length - 1]!;
  if (tokenizerJson && (bosToken === undefined || eosToken === undefined)) {
    const added = Array.isArray(tokenizerJson['added_tokens']) ? (tokenizerJson['added_tokens'] as unknown[]) : [];
    const hasEot = added.some((a) => isObj(a) && a['content'] === '<|endoftext|>');
    if (hasEot) {
      if (bosToken === undefined) bosToken = '<|endoftext|>';
      if (eosToken === undefined) eosToken = '<|endoftext|>';
    }
  }
  const addBosCfg = tokenizerConfig['add_bos_token'];
  const addEosCfg = tokenizerConfig['add_eos_token'];
  const addsBos =
    typeof addBosCfg === 'boolean' ? addBosCfg : bosToken != null && specials.leading.includes(bosToken);
  const addsEos =
    typeof addEosCfg === 'boolean' ? addEosCfg : eosToken != null && specials.trailing.includes(eosToken);
  return { bosToken: bosToken ?? null, eosToken: eosToken ?? null, addsBos, addsEos };
}

function collectTypes(node: unknown, key: string, out: Json[]): void {
  if (!isObj(node)) return;
  out.push(node);
  const children = node[key];
  if (Array.isArray(children)) for (const c of children) collectTypes(c, key, out);
}

/** The library config: string-valued special tokens only (objects in tokenizer_config.json become strings). */
function libraryConfig(cfg: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'added_tokens_decoder' || k === 'chat_template') continue;
    out[k] = Array.isArray(v) ? v.map((x) => tokenContent(x) ?? x) : (tokenContent(v) ?? v);
  }
  return out;
}

/** Options of {@link createHfTokenizer}. */
export interface HfTokenizerSources {
  /** Parsed tokenizer.json. */
  tokenizerJson: Json;
  /** Parsed tokenizer_config.json (`{}` if absent). */
  tokenizerConfig?: Json;
  /** Parsed special_tokens_map.json, if present. */
  specialTokensMap?: Json | null;
  /** Name used in error messages (a path). */
  name?: string;
}

/** A {@link PlipTokenizer} backed by `@huggingface/tokenizers`. Build it with {@link createHfTokenizer}. */
export class HfTokenizer implements PlipTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly addsBos: boolean;
  /** Whether encode() appends EOS by default (`add_eos_token` / template). */
  readonly addsEos: boolean;
  /** Whether the vocabulary is byte-level (GPT-2 byte↔unicode table). */
  readonly byteLevel: boolean;
  private readonly tok: Tokenizer;
  private readonly idToStr: Array<string | undefined>;
  private readonly addedById = new Map<number, { content: string; special: boolean }>();
  private readonly cleanUpSpaces: boolean;
  private readonly metaspace: string;

  constructor(src: HfTokenizerSources) {
    const name = src.name ?? 'tokenizer.json';
    const cfg = src.tokenizerConfig ?? {};
    const json = src.tokenizerJson;
    const model = json['model'];
    if (!isObj(model)) throw new TokenizerLoadError(`${name}: missing "model" section`);
    const full: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };
    try {
      this.tok = new Tokenizer(rustCompatibleTokenizerJson(full), libraryConfig(cfg));
    } catch (e) {
      throw new TokenizerLoadError(`${name}: unsupported or invalid tokenizer: ${(e as Error).message}`);
    }
    // id -> token string, from the model vocab and the added tokens.
    const idToStr: Array<string | undefined> = [];
    const vocab = model['vocab'];
    if (Array.isArray(vocab)) {
      vocab.forEach((entry, i) => {
        idToStr[i] = Array.isArray(entry) ? String(entry[0]) : String(entry);
      });
    } else if (isObj(vocab)) {
      for (const [t, id] of Object.entries(vocab)) if (typeof id === 'number') idToStr[id] = t;
    }
    for (const a of Array.isArray(full['added_tokens']) ? (full['added_tokens'] as unknown[]) : []) {
      if (isObj(a) && typeof a['id'] === 'number' && typeof a['content'] === 'string') {
        idToStr[a['id']] = a['content'];
        this.addedById.set(a['id'], { content: a['content'], special: a['special'] === true });
      }
    }
    this.idToStr = idToStr;
    this.vocabSize = idToStr.length;

    const policy = resolveSpecialTokenPolicy(cfg, json, src.specialTokensMap ?? null);
    const idOf = (t: string | null): number | null => (t == null ? null : this.tok.token_to_id(t) ?? null);
    this.bosTokenId = idOf(policy.bosToken);
    this.eosTokenId = idOf(policy.eosToken);
    this.addsBos = policy.addsBos && this.bosTokenId !== null;
    this.addsEos = policy.addsEos && this.eosTokenId !== null;
    this.cleanUpSpaces = cfg['clean_up_tokenization_spaces'] === true;

    const nodes: Json[] = [];
    collectTypes(json['pre_tokenizer'], 'pretokenizers', nodes);
    collectTypes(json['decoder'], 'decoders', nodes);
    collectTypes(json['normalizer'], 'normalizers', nodes);
    this.byteLevel = nodes.some((n) => n['type'] === 'ByteLevel');
    const ms = nodes.find((n) => n['type'] === 'Metaspace');
    this.metaspace = ms && typeof ms['replacement'] === 'string' ? ms['replacement'] : '\u2581';
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    const ids = text.length > 0 ? this.tok.encode(text, { add_special_tokens: false }).ids.slice() : [];
    const addSpecial = opts?.addSpecialTokens ?? true;
    if (addSpecial && this.addsBos) ids.unshift(this.bosTokenId!);
    if (addSpecial && this.addsEos) ids.push(this.eosTokenId!);
    return ids;
  }

  encodeWithOffsets(text: string, opts?: EncodeOptions): Encoding {
    const addSpecial = opts?.addSpecialTokens ?? true;
    const enc = text.length > 0 ? this.tok.encode(text, { add_special_tokens: false }) : null;
    const ids: number[] = enc ? enc.ids.slice() : [];
    const tokens: string[] = enc ? enc.tokens.slice() : [];
    const offsets = alignSurfaces(text, ids.map((id, i) => this.surface(id, tokens[i]!)));
    const special = ids.map((id) => this.addedById.get(id)?.special === true);
    if (addSpecial && this.addsBos) {
      ids.unshift(this.bosTokenId!);
      tokens.unshift(this.idToStr[this.bosTokenId!] ?? '');
      offsets.unshift([0, 0]);
      special.unshift(true);
    }
    if (addSpecial && this.addsEos) {
      const end = [...text].length;
      ids.push(this.eosTokenId!);
      tokens.push(this.idToStr[this.eosTokenId!] ?? '');
      offsets.push([end, end]);
      special.push(true);
    }
    return { ids, tokens, offsets, special };
  }

  /** UTF-8 bytes of the input that token `id` (vocab string `tok`) stands for. */
  private surface(id: number, tok: string): Uint8Array | number[] {
    const added = this.addedById.get(id);
    if (added && added.content === tok) return utf8Encode(added.content);
    if (this.byteLevel) return byteLevelTokenBytes(tok);
    const b = byteFallbackValue(tok);
    if (b !== null) return [b];
    return utf8Encode(tok.split(this.metaspace).join(' '));
  }

  decode(ids: number[], opts?: DecodeOptions): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`token id ${id} out of range [0, ${this.vocabSize})`);
    }
    let list = ids;
    if (opts?.skipSpecialTokens) {
      list = ids.filter((id) => !(this.addedById.get(id)?.special === true || id === this.bosTokenId || id === this.eosTokenId));
      if (list.length === 0) return '';
    }
    return this.tok.decode(list, {
      skip_special_tokens: opts?.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: opts?.cleanUpTokenizationSpaces ?? this.cleanUpSpaces,
    });
  }

  tokenText(id: number): string {
    const t = this.idToStr[id];
    if (t === undefined) throw new RangeError(`token id ${id} out of range [0, ${this.vocabSize})`);
    const added = this.addedById.get(id);
    if (added) return added.content;
    return utf8Decode(Uint8Array.from(this.surface(id, t)));
  }

  idToToken(id: number): string | undefined {
    return this.idToStr[id];
  }
}

/** Build a {@link PlipTokenizer} from parsed tokenizer.json / tokenizer_config.json objects. */
export function createHfTokenizer(src: HfTokenizerSources): HfTokenizer {
  return new HfTokenizer(src);
}

/**
 * Load a Hugging Face tokenizer directory: `tokenizer.json` (required), `tokenizer_config.json` and
 * `special_tokens_map.json` (optional).
 * @throws {@link TokenizerLoadError} naming the directory and file when tokenizer.json is missing, or naming the
 * file when a JSON file is malformed
 */
export function loadHfTokenizer(dir: string): PlipTokenizer {
  const tjPath = join(dir, 'tokenizer.json');
  if (!existsSync(tjPath)) {
    throw new TokenizerLoadError(`no tokenizer.json in ${dir} (expected file ${tjPath})`);
  }
  const tokenizerJson = readJsonFile(tjPath);
  const cfgPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(cfgPath) ? readJsonFile(cfgPath) : {};
  const stmPath = join(dir, 'special_tokens_map.json');
  const specialTokensMap = existsSync(stmPath) ? readJsonFile(stmPath) : null;
  return new HfTokenizer({ tokenizerJson, tokenizerConfig, specialTokensMap, name: tjPath });
}
