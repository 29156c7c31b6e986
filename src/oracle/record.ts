/**
 * The recorder: boot every selected case on every selected real kernel (a fresh boot per case), write
 * the fixtures and the manifest. Runs `jobs` QEMUs at once (TCG uses one host core per guest).
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { prepare, toolVersions, type Initramfs, type KernelImage } from './env.ts';
import { FIXTURES_DIR, readManifest, writeFixture, writeManifest, fixtureCases, type Manifest } from './fixtures.ts';
import { BASE_CMDLINE, bootCase } from './qemu.ts';
import { usesKpages } from './cases.ts';
import type { OracleCase, OracleProfile, RealRun } from './types.ts';

export interface RecordOptions {
  cases: OracleCase[];
  profiles: OracleProfile[];
  /** Package per profile (default DEFAULT_IMAGES, or the newest of its series when that is gone). */
  images?: Partial<Record<OracleProfile, string>>;
  /** apt-get install missing host packages (default true). */
  install?: boolean;
  workdir?: string;
  jobs?: number;
  fixturesDir?: string;
  /** Called with every finished run (after its fixture is written). */
  onRun?: (run: RealRun, done: number, total: number) => void;
  log?: (line: string) => void;
  /** Show a cli-progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
}

export interface RecordSummary {
  runs: number;
  incomplete: Array<{ kernel: string; caseId: string; why: string }>;
  seconds: number;
  perKernel: Record<string, { cases: number; wallSeconds: number; bootSeconds: number }>;
}

export interface Bar {
  start(total: number, value: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}

/** A cli-progress bar on stderr: ' ███░░ 12/400 3m left  6.12.117 ns-fsdax-dev-16G'. */
export function progressBar(total: number): Bar {
  const require = createRequire(import.meta.url);
  const cp = require('cli-progress') as { SingleBar: new (o: object, preset: object) => Bar; Presets: Record<string, object> };
  const bar = new cp.SingleBar({ stream: process.stderr, format: ' {bar} {value}/{total} {eta_formatted} left  {what}', hideCursor: true, barsize: 30, etaBuffer: 20 }, cp.Presets.shades_classic!);
  bar.start(total, 0, { what: '' });
  return bar;
}

export async function record(o: RecordOptions): Promise<RecordSummary> {
  const log = o.log ?? (() => {});
  const root = o.fixturesDir ?? FIXTURES_DIR;
  const envs = new Map<OracleProfile, { kernel: KernelImage; initramfs: Initramfs; workdir: string }>();
  const structPages = o.cases.some(usesKpages);
  for (const p of o.profiles) envs.set(p, prepare(p, { structPages, ...(o.images?.[p] ? { pkg: o.images[p] } : {}), ...(o.workdir ? { workdir: o.workdir } : {}), ...(o.install !== undefined ? { install: o.install } : {}), log }));
  const queue: Array<{ c: OracleCase; p: OracleProfile }> = [];
  for (const c of o.cases) for (const p of o.profiles) if (!c.profiles || c.profiles.includes(p)) queue.push({ c, p });
  const total = queue.length;
  const bar = (o.progress ?? !!process.stderr.isTTY) ? progressBar(total) : null;
  const t0 = performance.now();
  const summary: RecordSummary = { runs: 0, incomplete: [], seconds: 0, perKernel: {} };
  const logFile = join(envs.values().next().value!.workdir, 'logs', `record-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  mkdirSync(join(logFile, '..'), { recursive: true });
  let done = 0;
  const worker = async () => {
    for (;;) {
      const job = queue.shift();
      if (!job) return;
      const env = envs.get(job.p)!;
      let run = await bootCase(job.c, env);
      // a boot that never reached the first step is QEMU's or the host's trouble, not the kernel's: once more
      if (!run.complete && run.steps.length <= 1) run = await bootCase(job.c, env);
      const { console: consoleText, ...real } = run;
      writeFixture(job.c, real, root, consoleText);
      done++;
      summary.runs++;
      const k = (summary.perKernel[real.kernel] ??= { cases: 0, wallSeconds: 0, bootSeconds: 0 });
      k.cases++;
      k.wallSeconds += real.wallSeconds;
      k.bootSeconds += real.bootSeconds ?? 0;
      const line = `${real.kernel} ${job.c.id}: ${real.complete ? 'ok' : `INCOMPLETE (${real.incomplete})`} ${real.wallSeconds}s, ${real.steps.length} steps, exits ${real.steps.slice(1).map((s) => s.exit ?? 'T').join(',')}`;
      appendFileSync(logFile, line + '\n');
      if (!real.complete) {
        summary.incomplete.push({ kernel: real.kernel, caseId: job.c.id, why: real.incomplete ?? '' });
        appendFileSync(logFile, `  console tail:\n${consoleText.split('\n').slice(-25).map((l) => `    ${l}`).join('\n')}\n`);
      }
      if (bar) bar.update(done, { what: `${real.kernel} ${job.c.id}` });
      else log(`[${done}/${total}] ${line}`);
      o.onRun?.(real, done, total);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.jobs ?? 2) }, worker));
  } finally {
    bar?.stop();
  }
  summary.seconds = (performance.now() - t0) / 1000;
  updateManifest([...envs.values()], root);
  log(`recorded ${summary.runs} runs in ${summary.seconds.toFixed(0)} s; log ${logFile}`);
  return summary;
}

/** Merge this recording's kernels and tools into the manifest. */
export function updateManifest(envs: Array<{ kernel: KernelImage; initramfs: Initramfs; workdir?: string }>, root = FIXTURES_DIR): Manifest {
  const now = new Date().toISOString();
  const m: Manifest = readManifest(root) ?? { recorded: now, tools: {}, kernels: {} };
  m.recorded = now;
  m.tools = { ...toolVersions(), note: 'host tools of the recording: ndctl/daxctl/busybox are copied from the host into the guest initramfs' } as unknown as Record<string, unknown>;
  for (const e of envs) {
    m.kernels[e.kernel.upstream] = {
      profile: e.kernel.profile,
      package: e.kernel.pkg,
      packageVersion: e.kernel.version,
      release: e.kernel.release,
      cmdlineBase: BASE_CMDLINE.join(' '),
      modules: e.initramfs.modules.map((x) => `${x.rel}${x.dyndbg ? ' dyndbg=+p' : ''}`),
      cases: fixtureCases(e.kernel.upstream, root).length,
      recorded: now,
      ...(e.workdir && existsSync(join(e.workdir, 'kpages', e.kernel.release, 'altmap_pages.ko')) ? { structPages: `altmap_pages.ko (src/oracle/kpages.ts) built against linux-headers-${e.kernel.release} ${e.kernel.version}, loaded by the first kpages step of a boot` } : {}),
    };
  }
  writeManifest(m, root);
  return m;
}
