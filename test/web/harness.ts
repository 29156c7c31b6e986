/**
 * What the browser test needs around the page: a static file server on 127.0.0.1 for the built folder
 * (node:http, nothing else; .wasm as application/wasm so compileStreaming takes it), and Debian's
 * Chromium, headless, in a fresh profile, driven by playwright-core.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export interface StaticServer {
  url: string;
  /** Paths requested, with their status (the test checks nothing 404s). */
  log: Array<{ path: string; status: number }>;
  close(): Promise<void>;
}

export async function serveStatic(root: string): Promise<StaticServer> {
  const log: StaticServer['log'] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    let file = normalize(join(root, path));
    let status = 200;
    try {
      if (!file.startsWith(normalize(root + sep)) && file !== normalize(root)) throw new Error('outside the root');
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
    log.push({ path, status });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    log,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's chromium, headless, a fresh --user-data-dir (playwright passes the directory as that flag). */
export async function launchChromium(viewport = { width: 1600, height: 1000 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'altmap-sim-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
    deviceScaleFactor: 1,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
