// The admin HTTP listener (node:http, no framework): JSON API under /api/v1 (docs/openapi.yaml) and
// Prometheus metrics at /metrics. Reads are open to whoever reaches the listener (bind it to a trusted
// address); anything that changes state needs `Authorization: Bearer <token>` and is refused with 403 when
// no token is configured. Errors are JSON `{ "error": code, "message": text }`, never a stack trace.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { ProxyContext } from '../frontend/context.js';
import type { Logger } from '../util/log.js';
import type { AdminActions, AdminContext, AdminMonitor } from './types.js';
import { backendsDoc, poolsDoc, sessionsDoc, statsDoc, digestsDoc, failoverDoc, failoverEventsDoc, switchoverDoc, FAILOVER_DISABLED_MESSAGE } from './views.js';
import type { FailoverControl } from '../failover/types.js';
import { createSluiceMetrics } from './metrics.js';

export type { AdminActions } from './types.js';

export interface AdminHttpOptions {
  host: string;
  port: number;
  /** Bearer token for state-changing endpoints; null disables them (403). */
  token: string | null;
  /** The backend monitor (BackendMonitor); null when none runs (no replica configured). */
  monitor: AdminMonitor | null;
  /** Backend offline/online; null: those endpoints answer 501. */
  actions?: AdminActions | null;
  /** Include the process_* / nodejs_* default metrics in /metrics (default true). */
  processMetrics?: boolean;
}

export interface AdminHttpServer {
  /** The port actually bound (resolved when 0 was asked). */
  readonly port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Largest request body read (only POST /api/v1/switchover reads one). */
const MAX_BODY_BYTES = 64 * 1024;
const BACKEND_ACTION = /^\/api\/v1\/backends\/([^/]+)\/(offline|online)$/;

export async function startAdminHttp(ctx: ProxyContext, opts: AdminHttpOptions, log: Logger): Promise<AdminHttpServer> {
  const source: AdminContext = ctx;
  const metrics = createSluiceMetrics(source, opts.monitor, { processMetrics: opts.processMetrics ?? true });
  const actions = opts.actions ?? null;
  const tokenDigest = opts.token !== null && opts.token !== '' ? sha256(opts.token) : null;

  const snapshot = () => (opts.monitor ? opts.monitor.snapshot() : null);
  const dashboard = loadDashboard(log); // dashboard: static assets, read once

  /** The failover feature, read per request (ProxyContext.failover is set once the manager runs). */
  const failover = (status: number, code: string): FailoverControl => {
    const f = source.failover ?? null;
    if (f === null) throw new HttpError(status, code, FAILOVER_DISABLED_MESSAGE);
    return f;
  };

  const routes: Record<string, () => Promise<unknown> | unknown> = {
    '/api/v1/backends': () => ({ backends: backendsDoc(source, snapshot(), actions) }),
    '/api/v1/pools': () => ({ pools: poolsDoc(source) }),
    '/api/v1/sessions': () => ({ sessions: sessionsDoc(source) }),
    '/api/v1/stats': () => statsDoc(source),
    '/api/v1/digests': () => ({ digests: digestsDoc(source) }),
    '/api/v1/failover': () => failoverDoc(failover(404, 'not_found')),
    '/api/v1/failovers': () => ({ events: failoverEventsDoc(failover(404, 'not_found')) }),
  };

  /** POST /api/v1/switchover: body {"target": "<name>"} or empty (the most advanced healthy replica). */
  async function switchover(body: Promise<Buffer | null>): Promise<unknown> {
    const raw = await body;
    if (raw === null) throw new HttpError(413, 'bad_request', `request body larger than ${MAX_BODY_BYTES} bytes`);
    const target = switchoverTarget(raw);
    const f = failover(409, 'conflict');
    const phase = f.phase();
    if (phase !== 'normal') throw new HttpError(409, 'conflict', `a failover or switchover is in progress (phase ${phase})`);
    log.info({ target }, 'switchover requested by admin API');
    try {
      return switchoverDoc(await f.switchover(target));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.warn({ target, reason: message }, 'switchover requested by admin API not done');
      throw new HttpError(409, 'conflict', message.slice(0, 2000) || 'switchover refused');
    }
  }

  function authorize(req: IncomingMessage): void {
    if (tokenDigest === null) {
      throw new HttpError(403, 'forbidden', 'state-changing endpoints are disabled: no admin token is configured');
    }
    const header = req.headers.authorization ?? '';
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    const challenge = { 'WWW-Authenticate': 'Bearer realm="sluice-admin"' };
    if (!m) throw new HttpError(401, 'unauthorized', 'missing bearer token (Authorization: Bearer <token>)', challenge);
    if (!timingSafeEqual(sha256(m[1]!), tokenDigest)) throw new HttpError(401, 'unauthorized', 'invalid bearer token', challenge);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Promise<Buffer | null>): Promise<void> {
    const method = req.method ?? 'GET';
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://admin.invalid').pathname;
    } catch {
      throw new HttpError(400, 'bad_request', 'malformed request target');
    }
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);

    // ---- dashboard (GET / and GET /dashboard/<file>; see the dashboard section at the end) ----
    if (path === '/' || path === '/dashboard' || path.startsWith('/dashboard/')) {
      allow(method, ['GET', 'HEAD']);
      const asset = dashboard.get(path === '/' || path === '/dashboard' ? '/dashboard/index.html' : path);
      if (asset === undefined) throw new HttpError(404, 'not_found', `no such dashboard file: ${path}`);
      sendAsset(res, asset, method === 'HEAD');
      return;
    }
    // ---- end dashboard ----
    if (path === '/metrics') {
      allow(method, ['GET']);
      const body = await metrics.render();
      send(res, 200, metrics.contentType, body);
      return;
    }
    const route = routes[path];
    if (route) {
      allow(method, ['GET']);
      sendJson(res, 200, await route());
      return;
    }
    if (path === '/api/v1/switchover') {
      allow(method, ['POST']);
      authorize(req);
      sendJson(res, 200, await switchover(body));
      return;
    }
    if (path === '/api/v1/digests/reset') {
      allow(method, ['POST']);
      authorize(req);
      source.digests?.reset();
      sendJson(res, 200, { reset: true });
      return;
    }
    const action = BACKEND_ACTION.exec(path);
    if (action) {
      allow(method, ['POST']);
      authorize(req);
      let name: string;
      try {
        name = decodeURIComponent(action[1]!);
      } catch {
        throw new HttpError(400, 'bad_request', 'malformed backend name');
      }
      const offline = action[2] === 'offline';
      if (actions === null) throw new HttpError(501, 'not_implemented', 'taking backends offline is not available');
      if (!actions.setBackendOffline(name, offline)) throw new HttpError(404, 'not_found', `no backend named '${name}'`);
      log.info({ backend: name, offline }, offline ? 'backend taken offline by admin API' : 'backend put online by admin API');
      sendJson(res, 200, { backend: name, offline });
      return;
    }
    throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${path}`);
  }

  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
    // Request bodies are read (bounded) for the one endpoint that takes one and drained otherwise.
    const body = new Promise<Buffer | null>((resolve) => {
      const chunks: Buffer[] = [];
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_BODY_BYTES) {
          resolve(null);
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('close', () => resolve(null));
    });
    req.on('error', () => {});
    handle(req, res, body).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.code, message: err.message }, err.headers);
        return;
      }
      log.error({ err: err instanceof Error ? err.message : String(err), url: req.url, method: req.method }, 'admin HTTP request failed');
      sendJson(res, 500, { error: 'internal_error', message: 'internal error (see the Sluice log)' });
    });
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'admin HTTP listener error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: opts.host, port, token: tokenDigest !== null }, 'admin HTTP listening');

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The switchover target from a request body: empty or {} → null (Sluice picks), {"target": "name"} → name. */
export function switchoverTarget(raw: Buffer): string | null {
  const text = raw.toString('utf8').trim();
  if (text === '') return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'bad_request', 'request body is not JSON (expected {"target": "<backend name>"} or nothing)');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new HttpError(400, 'bad_request', 'request body must be a JSON object: {"target": "<backend name>"}');
  const extra = Object.keys(doc).filter((k) => k !== 'target');
  if (extra.length > 0) throw new HttpError(400, 'bad_request', `unknown field '${extra[0]}' (only "target" is accepted)`);
  const target = (doc as { target?: unknown }).target;
  if (target === undefined || target === null) return null;
  if (typeof target !== 'string' || target === '') throw new HttpError(400, 'bad_request', '"target" must be a backend name (a non-empty string) or null');
  return target;
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, 'method_not_allowed', `method ${method} not allowed here (allowed: ${methods.join(', ')})`, { Allow: methods.join(', ') });
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON_TYPE, `${JSON.stringify(body, null, 2)}\n`, headers);
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

// ---- dashboard ----------------------------------------------------------------------------------------
// The live dashboard (docs: README "Operating it"): static files from src/admin/dashboard/ (HTML, plain JS,
// CSS; no build step, nothing fetched from elsewhere), read into memory when the listener starts and served
// by exact name only, so no request path can reach any other file.

interface DashboardAsset {
  body: Buffer;
  type: string;
}

const DASHBOARD_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Where the assets are: next to this module (running from src/) or in src/ when running from dist/src/. */
const DASHBOARD_DIRS = [new URL('./dashboard/', import.meta.url), new URL('../../../src/admin/dashboard/', import.meta.url)];

const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function loadDashboard(log: Logger): Map<string, DashboardAsset> {
  for (const dir of DASHBOARD_DIRS) {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    } catch {
      continue;
    }
    if (!names.includes('index.html')) continue;
    const assets = new Map<string, DashboardAsset>();
    for (const name of names) {
      const ext = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[a-z]+)$/.exec(name)?.[1];
      const type = ext === undefined ? undefined : DASHBOARD_TYPES[ext];
      if (type !== undefined) assets.set(`/dashboard/${name}`, { body: readFileSync(new URL(name, dir)), type });
    }
    return assets;
  }
  log.warn('dashboard assets not found (src/admin/dashboard): GET / answers 404');
  return new Map();
}

function sendAsset(res: ServerResponse, asset: DashboardAsset, headOnly: boolean): void {
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': asset.body.length,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...(asset.type.startsWith('text/html') ? { 'Content-Security-Policy': DASHBOARD_CSP, 'X-Frame-Options': 'DENY' } : {}),
  });
  res.end(headOnly ? undefined : asset.body);
}
// ---- end dashboard ------------------------------------------------------------------------------------
