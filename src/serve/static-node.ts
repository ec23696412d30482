/**
 * A static file server for the built tool, safe by default: it binds 127.0.0.1, answers only
 * GET/HEAD, refuses foreign Host and Origin headers (DNS rebinding, cross-site requests), never
 * serves outside its root (decoded '..', backslashes, NUL, absolute paths, symlinks leading
 * out), and sends no CORS headers.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';
import { fileError } from '../errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.wav': 'audio/wav',
  '.map': 'application/json',
};

export interface StaticServerOptions {
  root: string;
  host: string;
  port: number;
}

export const STATIC_SERVER_DEFAULTS: Omit<StaticServerOptions, 'root'> = { host: '127.0.0.1', port: 5174 };

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function deny(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(`${code} ${text}\n`);
}

/** The file under `root` a request path names, or undefined when it must not be served. */
export async function resolveRequestPath(root: string, rawUrl: string): Promise<string | undefined> {
  const path = rawUrl.split('?')[0]!.split('#')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\') || decoded.includes('%')) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  let file = join(root, ...segments);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    const real = await realpath(file);
    if (real !== root && !real.startsWith(root + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

function hostAllowed(req: IncomingMessage, port: number, bound: string): boolean {
  const host = req.headers.host;
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!m || (m[2] !== undefined && Number(m[2]) !== port)) return false;
  return LOCAL_HOSTS.has(m[1]!) || m[1] === bound;
}

function originAllowed(req: IncomingMessage, port: number, bound: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' && Number(u.port || 80) === port && (LOCAL_HOSTS.has(u.hostname) || LOCAL_HOSTS.has(`[${u.hostname}]`) || u.hostname === bound);
  } catch {
    return false;
  }
}

export async function startStaticServer(options: Partial<StaticServerOptions> & { root: string }): Promise<RunningServer> {
  const opts = { ...STATIC_SERVER_DEFAULTS, ...options };
  let root: string;
  try {
    root = await realpath(opts.root);
  } catch {
    throw fileError(opts.root, 'the tool is not built here: run npm run build');
  }
  let port = opts.port;
  const server: Server = createServer((req, res) => {
    (async () => {
      if (!hostAllowed(req, port, opts.host) || !originAllowed(req, port, opts.host)) return deny(res, 403, 'Forbidden');
      if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'Method Not Allowed');
      const file = await resolveRequestPath(root, req.url ?? '/');
      if (!file) return deny(res, 404, 'Not Found');
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
    })().catch(() => deny(res, 500, 'Internal Server Error'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? fileError(`${opts.host}:${opts.port}`, 'port already in use (pick another with --port)') : e),
    );
    server.listen(opts.port, opts.host, resolve);
  });
  port = (server.address() as AddressInfo).port;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${hostPart}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
