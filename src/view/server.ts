/**
 * `plip view`: a local web app over a model held in this process (node:http, bound to 127.0.0.1 only).
 *
 * API (JSON in, JSON out; every error is `{ "error": message }` with a 4xx status, and the server keeps running):
 * - `GET  /`                 the page (src/view/page.ts; inline script and style, no external resource)
 * - `GET  /api/info`         model dims, the samples (corpus / prompts), the results files that may be opened
 * - `POST /api/attention`    `{text, query?, layer, head}` → tokens, attention from `query` at every layer × head,
 *                            and heatmaps (inline SVG, vega) of that and of the (layer, head) pattern
 * - `POST /api/intervene`    `{text, kind, factor?, basis?, level?, layers, heads, edges, topK?, maxNewTokens?}` → baseline and
 *                            intervened top-k, KL(baseline ‖ intervened) in nats and greedy continuations
 * - `GET  /api/report?file=` the HTML report of a results file inside the allowed directory
 *
 * Model work runs one request at a time through a bounded queue; a request beyond it gets 429.
 * Everything goes through the engine's public functions: `forwardWithIntervention` (which runs
 * `model.runWithCache` with and without the `attentionEdit` hooks), `generate` with the same hooks, and
 * `model.runWithCache` for patterns.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { generate } from '../generate/generate.ts';
import { attentionEdit } from '../interventions/attention.ts';
import { forwardWithIntervention } from '../interventions/forward.ts';
import { InterventionSpecError, type AttentionMaskSpec } from '../interventions/spec.ts';
import type { HookedModel } from '../model/model.ts';
import { buildReport, readResults } from '../report/html/build.ts';
import { inlineSvg, renderSvg } from '../report/html/figure.ts';
import { viewerPage } from './page.ts';

export interface ViewerSample {
  id: string;
  group: string;
  text: string;
}

export interface ViewerOptions {
  model: HookedModel;
  samples: ViewerSample[];
  /** Results files may be opened from this directory (and below) only. */
  resultsDir: string;
  /** 0 = an ephemeral port. */
  port?: number;
  /** Most requests waiting for the model (beyond the one running); more get 429. Default 8. */
  maxQueue?: number;
  /** Largest input text in characters (default 8000) and in tokens (default min(nCtx, 512)). */
  maxChars?: number;
  maxTokens?: number;
  /** Largest request body in bytes (default 256 KiB). */
  maxBody?: number;
}

export interface Viewer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sel = z.union([z.literal('all'), z.int().min(0), z.array(z.int().min(0)).min(1)]);
const attentionReq = z.strictObject({ text: z.string(), query: z.int().min(0).optional(), layer: z.int(), head: z.union([z.int(), z.literal('mean')]) });
const interveneReq = z.strictObject({
  text: z.string(),
  kind: z.enum(['knockout', 'amplify', 'scale', 'set']),
  factor: z.number().optional(),
  basis: z.enum(['logit', 'mass']).optional(),
  level: z.number().optional(),
  layers: sel,
  heads: sel,
  edges: z.array(z.strictObject({ sources: z.array(z.int().min(0)).min(1), targets: z.array(z.int().min(0)).min(1) })).min(1, 'select at least one edge (a query token and a target token)'),
  topK: z.int().min(1).max(50).optional(),
  maxNewTokens: z.int().min(0).max(64).optional(),
});

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

/** Starts the viewer; resolves once it listens on 127.0.0.1. */
export async function startViewer(o: ViewerOptions): Promise<Viewer> {
  const model = o.model;
  const tok = model.tokenizer;
  if (!tok) throw new Error(`model ${model.info.id} has no tokenizer; the viewer needs one`);
  const { nLayers, nHeads, nCtx } = model.spec;
  const maxQueue = o.maxQueue ?? 8;
  const maxChars = o.maxChars ?? 8000;
  const maxTokens = Math.min(o.maxTokens ?? 512, nCtx);
  const maxBody = o.maxBody ?? 256 * 1024;
  const resultsRoot = realpathSync(resolve(o.resultsDir));
  const page = viewerPage();

  // Admission is counted when a request ARRIVES (before its body is read): model work is synchronous, so
  // requests that came in during a job are all seen in the next event-loop turn and refused at once.
  let pending = 0;
  let chain: Promise<unknown> = Promise.resolve();
  function admit(): () => void {
    if (pending >= maxQueue + 1) throw new HttpError(429, `busy: ${pending} request(s) already waiting for the model (limit ${maxQueue + 1}); retry shortly`);
    pending++;
    let done = false;
    return () => {
      if (!done) pending--;
      done = true;
    };
  }
  /** Runs `fn` after the model work before it (one at a time). */
  function serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = chain.then(() => new Promise<T>((res, rej) => setImmediate(() => Promise.resolve().then(fn).then(res, rej))));
    chain = run.catch(() => undefined);
    return run;
  }

  function encode(text: string): number[] {
    if (text.trim() === '') throw new HttpError(400, 'text: empty input; pick a sample or type some code');
    if ([...text].length > maxChars) throw new HttpError(413, `text: ${[...text].length} characters, more than the viewer's limit of ${maxChars}`);
    const ids = tok!.encode(text);
    if (ids.length > maxTokens) throw new HttpError(413, `text: ${ids.length} tokens, more than the viewer's limit of ${maxTokens}`);
    return ids;
  }
  const checkLayer = (l: number) => {
    if (!(l >= 0 && l < nLayers)) throw new HttpError(400, `layer: unknown layer ${l} (the model has layers 0..${nLayers - 1})`);
  };
  const checkHead = (h: number) => {
    if (!(h >= 0 && h < nHeads)) throw new HttpError(400, `head: unknown head ${h} (the model has heads 0..${nHeads - 1})`);
  };
  const tokenTexts = (ids: number[]) => ids.map((id) => tok!.tokenText(id));

  async function attention(body: unknown) {
    const p = attentionReq.safeParse(body);
    if (!p.success) throw new HttpError(400, zodMessage(p.error));
    const r = p.data;
    checkLayer(r.layer);
    if (r.head !== 'mean') checkHead(r.head);
    const ids = encode(r.text);
    const T = ids.length;
    const query = r.query ?? T - 1;
    if (query >= T) throw new HttpError(400, `query: token ${query} is outside the input's ${T} tokens`);
    const names = [...Array(nLayers).keys()].map((l) => `blocks.${l}.attn.hook_pattern`);
    const res = model.runWithCache(ids, { names }, { logits: 'none' });
    const fromQuery: number[][][] = [];
    for (let l = 0; l < nLayers; l++) {
      const p = res.cache.get(names[l]!).data;
      fromQuery.push([...Array(nHeads).keys()].map((h) => Array.from(p.subarray((h * T + query) * T, (h * T + query + 1) * T))));
    }
    const pat = res.cache.get(names[r.layer]!).data;
    const heads = r.head === 'mean' ? [...Array(nHeads).keys()] : [r.head];
    const texts = tokenTexts(ids);
    const lab = (i: number) => `${i} ${JSON.stringify(texts[i]).slice(1, -1).slice(0, 12)}`;
    const patRows: Record<string, string | number>[] = [];
    for (let q = 0; q < T; q++)
      for (let k = 0; k <= q; k++) {
        let v = 0;
        for (const h of heads) v += pat[(h * T + q) * T + k]! / heads.length;
        patRows.push({ q: lab(q), k: lab(k), v });
      }
    const qRows: Record<string, string | number>[] = [];
    for (let l = 0; l < nLayers; l++) for (let h = 0; h < nHeads; h++) for (let k = 0; k <= query; k++) qRows.push({ lh: `L${l}.h${h}`, k: lab(k), v: fromQuery[l]![h]![k]! });
    const order = texts.map((_, i) => lab(i));
    const heat = (id: string, values: Record<string, string | number>[], x: string, y: string, yOrder: string[], title: string, size: number) =>
      renderSvg({
        id,
        title,
        caption: '',
        spec: {
          data: { values },
          width: Math.min(900, 14 * order.length),
          height: size,
          title,
          mark: 'rect',
          encoding: {
            x: { field: 'k', type: 'ordinal', sort: order, title: x, axis: { labelFontSize: 8 } },
            y: { field: y === 'query token' ? 'q' : 'lh', type: 'ordinal', sort: yOrder, title: y, axis: { labelFontSize: 8 } },
            color: { field: 'v', type: 'quantitative', title: 'attention', scale: { scheme: 'blues', domain: [0, 1] } },
            tooltip: [{ field: 'k' }, { field: y === 'query token' ? 'q' : 'lh' }, { field: 'v', format: '.4f' }],
          },
        },
      }).then(inlineSvg);
    const lhOrder = [...Array(nLayers).keys()].flatMap((l) => [...Array(nHeads).keys()].map((h) => `L${l}.h${h}`));
    const headsLabel = r.head === 'mean' ? 'mean over heads' : `head ${r.head}`;
    return {
      ids,
      tokens: texts,
      query,
      layer: r.layer,
      head: r.head,
      fromQuery,
      heatmapQuery: await heat('from-query', qRows, 'key token', 'layer.head', lhOrder, `Attention from token ${query}, every layer × head`, Math.max(120, 10 * lhOrder.length)),
      heatmapPattern: await heat('pattern', patRows, 'key token', 'query token', order, `Pattern, layer ${r.layer}, ${headsLabel}`, Math.min(900, 14 * T)),
    };
  }

  async function intervene(body: unknown) {
    const p = interveneReq.safeParse(body);
    if (!p.success) throw new HttpError(400, zodMessage(p.error));
    const r = p.data;
    for (const l of r.layers === 'all' ? [] : [r.layers].flat()) checkLayer(l);
    for (const h of r.heads === 'all' ? [] : [r.heads].flat()) checkHead(h);
    const ids = encode(r.text);
    const spec: AttentionMaskSpec = {
      kind: r.kind,
      ...(r.kind === 'scale' || r.kind === 'amplify' ? { factor: r.factor } : {}),
      ...(r.kind === 'amplify' && r.basis ? { basis: r.basis } : {}),
      ...(r.kind === 'set' ? { level: r.level } : {}),
      layers: r.layers,
      heads: r.heads,
      edges: r.edges,
    } as AttentionMaskSpec;
    const k = r.topK ?? 10;
    let res;
    try {
      res = forwardWithIntervention(model, ids, spec, { topK: k, capturePatterns: false });
    } catch (e) {
      if (e instanceof InterventionSpecError || e instanceof RangeError) throw new HttpError(400, (e as Error).message);
      throw e;
    }
    const n = r.maxNewTokens ?? 12;
    const hooks = attentionEdit(res.edits);
    const cont = (h: typeof hooks) => tok!.decode(generate(model, ids, { maxTokens: n, hooks: h }).ids, { skipSpecialTokens: true });
    const list = (t: { id: number; prob: number }[]) => t.map((x) => ({ id: x.id, token: tok!.tokenText(x.id), prob: x.prob }));
    return {
      position: res.position,
      edges: res.edits.reduce((a, e) => a + e.edgesPerLayer * e.layers.length, 0),
      kl: res.metrics.kl,
      top1Changed: res.metrics.top1Changed,
      baseline: { topk: list(res.metrics.topkBaseline), continuation: cont([]) },
      intervened: { topk: list(res.metrics.topkIntervened), continuation: cont(hooks) },
    };
  }

  function listResults(): string[] {
    const out: string[] = [];
    const walk = (d: string, depth: number) => {
      if (depth > 3 || out.length >= 200) return;
      for (const name of readdirSync(d).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue; // listed for picking only; any file below the root can still be opened
        const p = join(d, name);
        let st;
        try {
          st = statSync(p);
        } catch {
          continue;
        }
        if (st.isDirectory()) walk(p, depth + 1);
        else if (/\.jsonl?$/.test(name) && !name.endsWith('.progress.jsonl')) out.push(relative(resultsRoot, p));
      }
    };
    walk(resultsRoot, 0);
    return out;
  }

  async function report(file: string | null) {
    if (!file) throw new HttpError(400, 'file: missing (?file=relative/path.json)');
    let real: string;
    try {
      real = realpathSync(resolve(resultsRoot, file));
    } catch {
      throw new HttpError(404, `file: '${file}' not found in the results directory`);
    }
    if (real !== resultsRoot && !real.startsWith(resultsRoot + sep)) throw new HttpError(403, `file: '${file}' is outside the allowed results directory`);
    if (!/\.jsonl?$/.test(real) || !statSync(real).isFile()) throw new HttpError(403, `file: '${file}' is not a .json / .jsonl results file`);
    let doc;
    try {
      doc = readResults(real);
    } catch (e) {
      throw new HttpError(400, (e as Error).message.replace(real, file));
    }
    doc.path = file;
    try {
      return { html: (await buildReport([doc], { model })).html };
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) throw new HttpError(413, `request body larger than ${maxBody} bytes`);
      chunks.push(c as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpError(400, `malformed JSON body (${(e as Error).message})`);
    }
  }

  function send(res: ServerResponse, status: number, body: string, type: string) {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  }

  let port = 0;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      // only pages served from this address may talk to it (no DNS rebinding, no cross-site form posts)
      const host = req.headers.host ?? '';
      if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) throw new HttpError(403, `Host '${host}' refused: open the viewer as http://127.0.0.1:${port}/`);
      if (req.method === 'POST' && !/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'POST bodies must be sent as content-type application/json');
      if (req.method === 'GET' && url.pathname === '/') return send(res, 200, page, 'text/html; charset=utf-8');
      if (req.method === 'GET' && url.pathname === '/favicon.ico') return send(res, 204, '', 'image/x-icon');
      if (req.method === 'GET' && url.pathname === '/api/info') {
        return send(res, 200, JSON.stringify({ model: { id: model.info.id, nLayers, nHeads, nCtx, maxTokens, maxChars }, samples: o.samples, results: listResults() }), 'application/json');
      }
      const route = `${req.method} ${url.pathname}`;
      const handlers: Record<string, () => Promise<unknown>> = {
        'POST /api/attention': async () => attention(await readBody(req)),
        'POST /api/intervene': async () => intervene(await readBody(req)),
        'GET /api/report': async () => report(url.searchParams.get('file')),
      };
      const h = handlers[route];
      if (!h) throw new HttpError(404, `no such endpoint: ${route}`);
      const release = admit();
      let out: unknown;
      try {
        out = await serial(h);
      } finally {
        release();
      }
      send(res, 200, JSON.stringify(out), 'application/json');
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) process.stderr.write(`plip view: ${(e as Error).stack ?? e}\n`);
      if (status === 429 || status === 413) res.setHeader('connection', 'close'); // the body is not read
      if (!res.headersSent) send(res, status, JSON.stringify({ error: (e as Error).message }), 'application/json');
      else res.end();
    }
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port ?? 0, '127.0.0.1', () => res());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    server,
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}
