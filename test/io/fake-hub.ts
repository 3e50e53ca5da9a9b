/**
 * A minimal in-process Hugging Face Hub for tests, on 127.0.0.1 (ephemeral port), serving the URL
 * layout @huggingface/hub and our downloader use:
 *   GET  /api/models/ORG/NAME/revision/REV        model info (sha)
 *   POST /api/models/ORG/NAME/paths-info/REV      [{type, path, oid, size, lfs?}]
 *   GET|HEAD /ORG/NAME/resolve/REV/FILE           bytes, with ETag / X-Repo-Commit / Range support
 * Fault injection: cut a body mid-way, stall mid-body, ignore Range, serve corrupt bytes.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export interface FakeRepo {
  sha: string;
  files: Record<string, Buffer>;
  /** When set the repo is private: requests need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const isLfs = (path: string): boolean => path.endsWith('.safetensors') || path.endsWith('.bin');

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly log: LoggedRequest[] = [];
  /** `repo/file` → number of upcoming GETs whose body is cut after half the bytes. */
  readonly interrupt = new Map<string, number>();
  /** `repo/file` → number of upcoming GETs that ignore Range and send the full body with 200. */
  readonly ignoreRange = new Map<string, number>();
  /** `repo/file` → number of upcoming GETs that serve flipped bytes. */
  readonly corrupt = new Map<string, number>();
  /** `repo/file` → number of upcoming GETs that send half the body, then hang (never end). */
  readonly stall = new Map<string, number>();
  /** Number of upcoming requests (of any kind) answered with HTTP 503. */
  fail503 = 0;
  /** Called just before a body is cut (the client is mid-transfer). */
  onInterrupt: ((file: string, sentBytes: number) => void) | undefined;
  private server: Server | undefined;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  requests(filter?: (r: LoggedRequest) => boolean): LoggedRequest[] {
    return filter ? this.log.filter(filter) : this.log;
  }

  private take(map: Map<string, number>, key: string): boolean {
    const n = map.get(key) ?? 0;
    if (n <= 0) return false;
    map.set(key, n - 1);
    return true;
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  /** Auth + revision checks shared by all endpoints; returns the repo or null after answering. */
  private access(res: ServerResponse, req: IncomingMessage, repoId: string, rev: string): FakeRepo | null {
    const repo = this.repos.get(repoId);
    if (!repo) {
      this.json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      return null;
    }
    if (repo.token) {
      const auth = req.headers['authorization'];
      if (auth === 'Bearer hf_noaccess') {
        this.json(res, 403, { error: 'Access to model is restricted' }, { 'X-Error-Code': 'GatedRepo' });
        return null;
      }
      if (auth !== `Bearer ${repo.token}`) {
        this.json(res, 401, { error: 'Invalid credentials in Authorization header' });
        return null;
      }
    }
    if (rev !== 'main' && rev !== repo.sha) {
      this.json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
      return null;
    }
    return repo;
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    this.log.push({ method: req.method ?? '', path, headers: req.headers });
    if (this.fail503 > 0) {
      this.fail503--;
      this.json(res, 503, { error: 'Service Unavailable' });
      return;
    }
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    if (m && req.method === 'GET') {
      const repo = this.access(res, req, m[1]!, m[2]!);
      if (repo) this.json(res, 200, { _id: 'x', id: m[1], sha: repo.sha, private: !!repo.token, downloads: 0, likes: 0, lastModified: '2024-01-01T00:00:00.000Z', gated: false });
      return;
    }
    m = /^\/api\/models\/([^/]+\/[^/]+)\/paths-info\/(.+)$/.exec(path);
    if (m && req.method === 'POST') {
      const repo = this.access(res, req, m[1]!, m[2]!);
      if (!repo) return;
      const { paths } = JSON.parse(body.toString('utf8')) as { paths: string[] };
      const out = paths
        .filter((p) => Object.prototype.hasOwnProperty.call(repo.files, p))
        .map((p) => {
          const data = repo.files[p]!;
          return { type: 'file', path: p, oid: gitOid(data), size: data.length, ...(isLfs(p) ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}) };
        });
      this.json(res, 200, out);
      return;
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      const [, repoId, rev, file] = m as unknown as [string, string, string, string];
      const repo = this.access(res, req, repoId, rev);
      if (!repo) return;
      const data = repo.files[file];
      if (!data) {
        this.json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
        return;
      }
      this.serveFile(req, res, repo, `${repoId}/${file}`, file, data);
      return;
    }
    this.json(res, 404, { error: `no route ${req.method} ${path}` });
  }

  private serveFile(req: IncomingMessage, res: ServerResponse, repo: FakeRepo, key: string, file: string, data: Buffer): void {
    const headers: Record<string, string> = {
      ETag: `"${isLfs(file) ? sha256(data) : gitOid(data)}"`,
      'X-Repo-Commit': repo.sha,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    };
    if (isLfs(file)) headers['X-Linked-Etag'] = headers['ETag']!;
    let start = 0;
    let end = data.length - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers['range'] ?? '');
    if (range && !(req.method === 'GET' && this.take(this.ignoreRange, key))) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
      if (start >= data.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${data.length}`;
    }
    let slice = data.subarray(start, end + 1);
    headers['Content-Length'] = String(slice.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (this.take(this.corrupt, key)) slice = Buffer.from(slice.map((b) => b ^ 0xff));
    if (this.take(this.stall, key)) {
      res.write(slice.subarray(0, Math.floor(slice.length / 2)));
      return; // closed by the client's stall timeout (or closeAllConnections)
    }
    if (this.take(this.interrupt, key)) {
      const half = Math.floor(slice.length / 2);
      res.write(slice.subarray(0, half), () => {
        this.onInterrupt?.(file, half);
        res.socket?.destroy();
      });
      return;
    }
    res.end(slice);
  }
}
