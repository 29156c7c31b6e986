/**
 * npm run bench:startup [-- --quick] [-- --runs N]: how fast the `altmap` command starts, as the compiled
 * CLI that the package ships (bin/altmap.js -> dist/cli/index.js, plain node), against `node -e 0` (the
 * floor: starting Node itself) in the same process environment. Each command runs in a fresh process from a
 * scratch cwd, after warm-up runs, interleaved so that drift hits every command alike; medians and MADs of
 * the wall time, and their ratio to the floor, are printed and written to bench/startup.json.
 *
 * For reference, the same CLI through tsx from the TypeScript source (how bin/altmap.js started it before
 * the package shipped compiled JavaScript) when tsx is installed (a devDependency, not a runtime one).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runs: { type: 'string' }, out: { type: 'string' } } });
const RUNS = Number(values.runs ?? (values.quick ? 7 : 25));
const WARMUP = values.quick ? 1 : 3;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'altmap.js');
const outFile = values.out ?? join(ROOT, 'bench', 'startup.json');

if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js'))) {
  console.error('bench/startup: dist/cli/index.js is missing: run `npm run build` first');
  process.exit(1);
}

interface Cmd {
  name: string;
  args: string[];
  /** Not part of the ratio table's subject: the floor, or a reference point. */
  role: 'floor' | 'cli' | 'reference';
}
const node = process.execPath;
const cmds: Cmd[] = [
  { name: 'node -e 0', args: ['-e', '0'], role: 'floor' },
  { name: 'altmap --version', args: [BIN, '--version'], role: 'cli' },
  { name: 'altmap --help', args: [BIN, '--help'], role: 'cli' },
  { name: 'altmap create-namespace -s 16G', args: [BIN, 'create-namespace', '-s', '16G'], role: 'cli' },
];
const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
if (existsSync(tsx)) {
  const src = join(ROOT, 'src', 'cli', 'index.ts');
  cmds.push({ name: 'tsx src/cli/index.ts --version (source, for reference)', args: [tsx, src, '--version'], role: 'reference' });
}

const cwd = mkdtempSync(join(os.tmpdir(), 'altmap-startup-'));
// the environment, less NODE_OPTIONS and NODE_EXTRA_CA_CERTS: with the latter, Node 20 reads a CA bundle
// at every start (40 ms on the development machine), a fixed cost that would flatter every ratio
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.NODE_OPTIONS;
delete env.NODE_EXTRA_CA_CERTS;

function once(c: Cmd): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(node, c.args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mad = (xs: number[]) => {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m)));
};

try {
  const samples = new Map<Cmd, number[]>(cmds.map((c) => [c, []]));
  for (let i = 0; i < WARMUP; i++) for (const c of cmds) once(c);
  for (let i = 0; i < RUNS; i++) for (const c of cmds) samples.get(c)!.push(once(c));

  const floor = median(samples.get(cmds[0])!);
  const rows = cmds.map((c) => {
    const xs = samples.get(c)!;
    return { command: c.name, role: c.role, runs: xs.length, medianMs: +median(xs).toFixed(2), madMs: +mad(xs).toFixed(2), ratio: +(median(xs) / floor).toFixed(2) };
  });

  const w = Math.max(...rows.map((r) => r.command.length));
  console.log(`CLI start-up, ${RUNS} runs each after ${WARMUP} warm-up (Node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores)\n`);
  console.log(`${'command'.padEnd(w)}  median ms   MAD ms  x node -e 0`);
  console.log(`${'-'.repeat(w)}  ---------  -------  -----------`);
  for (const r of rows) console.log(`${r.command.padEnd(w)}  ${r.medianMs.toFixed(1).padStart(9)}  ${r.madMs.toFixed(1).padStart(7)}  ${r.ratio.toFixed(2).padStart(10)}x`);

  writeFileSync(
    outFile,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, v8: process.versions.v8, cpu: os.cpus()[0]?.model.trim(), cores: os.cpus().length, runs: RUNS, warmup: WARMUP, rows }, null, 2) + '\n',
  );
  console.log(`\nwrote ${outFile}`);
} finally {
  rmSync(cwd, { recursive: true, force: true });
}
