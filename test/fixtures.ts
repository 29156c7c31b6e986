/**
 * The one fixtures module: the backends every behavioural test runs on, the spec's machines, the
 * core-level configuration and CorePair, and the one helper per assertion.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Core, CoreConfig } from '../src/core/core.ts';
import type { Backend } from '../src/core/load.ts';
import { createTsCore } from '../src/core/ts/index.ts';
import { createWasmCore } from '../src/core/wasm.ts';
import { createMachine, KernelError, pageTables, type MachineConfig } from '../src/index.ts';
import { readFixture, type FixtureStep } from '../src/oracle/fixtures.ts';

/** Every behavioural suite runs once per backend (ALTMAP_BACKENDS=ts narrows it while developing). */
export const BACKENDS = (process.env.ALTMAP_BACKENDS ?? 'wasm,ts').split(',') as Backend[];

/** kernel.md §5's iomem layout: System RAM [0x100000, 0x3FFFFFFFF], Persistent Memory [0x400000000, 0x7FFFFFFFF]. */
export const T10_E820: MachineConfig['e820'] = [
  { start: 0x100000n, size: 0x400000000n - 0x100000n, type: 'System RAM' },
  { start: 0x400000000n, size: 0x400000000n, type: 'Persistent Memory' },
];

export function t10Machine(backend: Backend, extra: MachineConfig = {}) {
  return createMachine({ backend, e820: T10_E820, ...extra });
}

export const VA = (phys: bigint) => 0xffff880000000000n + phys;
export const P16_ALTMAP = { basePfn: 0x400000, reserve: 2, free: 66046 };
export const P16_RES = { start: 0x400000000n, end: 0x7ffffffffn };

/** dmesg lines added since `before` (a length taken earlier). */
export function newLines(lines: string[], before: number): string[] {
  return lines.slice(before).map((l) => l.replace(/^\[[ 0-9.]+\] /, ''));
}

/** fn (sync or async) fails with a KernelError of this code; returns the error. */
export async function expectKernelError(fn: () => unknown, code: string): Promise<KernelError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KernelError);
    expect((e as KernelError).code).toBe(code);
    return e as KernelError;
  }
  throw new Error(`expected ${code}`);
}

// ---------------------------------------------------------------- the core-level suites

export const VMEMMAP_START = 0xffffea0000000000n;

/** 64 GiB of RAM from 1 MiB, 4-level paging, the 6.x direct-map base; override what a test needs. */
export function coreConfig(over: Partial<CoreConfig> = {}): CoreConfig {
  return {
    ramRanges: [[0x100, 0x1000100]],
    levels: 4,
    vmemmapStart: VMEMMAP_START,
    pageOffset: 0xffff888000000000n,
    pse: true,
    gbpages: true,
    hostMemoryLimit: 1 << 30,
    eagerMemmap: false,
    debug: false,
    ...over,
  };
}

/** Both cores, by name. */
export const CORE_BACKENDS: Array<[string, () => Promise<Core>]> = [
  ['wasm', () => createWasmCore()],
  ['ts', async () => createTsCore()],
];

/** The two cores side by side: run an operation on both, expect the same result and the same events. */
export class CorePair {
  constructor(
    readonly w: Core,
    readonly t: Core,
  ) {}

  /** Every table reachable from the root (walked on the Wasm core) reads the same on both. */
  sameTables(levels: 4 | 5 = 4): void {
    const root = this.w.walk(0n).levels[0].table;
    expect(this.t.walk(0n).levels[0].table).toBe(root);
    for (const t of pageTables((table) => this.w.readPhys(table, 4096), root, levels)) {
      const b = this.t.readPhys(t.table, 4096);
      if (!Buffer.from(t.bytes).equals(Buffer.from(b))) expect(Buffer.from(b).toString('hex'), `table ${t.table.toString(16)}`).toBe(Buffer.from(t.bytes).toString('hex'));
    }
  }

  /** Run f on both; same result, same events. */
  same<T>(what: string, f: (c: Core) => T): T {
    const a = f(this.w);
    const b = f(this.t);
    expect(a, what).toEqual(b);
    expect(this.w.takeEvents(), `${what}: events`).toEqual(this.t.takeEvents());
    return a;
  }
}

// ---------------------------------------------------------------- the CLI as a subprocess

/** bin/altmap.js, the installed entry. */
export const ALTMAP_BIN = fileURLToPath(new URL('../bin/altmap.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `altmap ...args` with node from `cwd` (not the package), with extra environment. */
export function runAltmap(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ALTMAP_BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------- the real kernels' recordings

/** Step `index` of a recorded real-kernel case (test/fixtures/real), its state files resolved (deltas applied). */
export function realStep(kernel: string, caseId: string, index: number): FixtureStep {
  const f = readFixture(fileURLToPath(new URL(`fixtures/real/${kernel}/${caseId}`, import.meta.url)));
  const step = f.steps.find((x) => x.index === index);
  if (!step) throw new Error(`${kernel}/${caseId} has no step ${index}`);
  return step;
}

/** namespaces.md's worked table: raw, map, align and the size each era reports (start 1 GiB-aligned). */
export const NAMESPACES_MD_TABLE: Array<[string, 'dev' | 'mem', string, Record<'v4.5' | 'v4.18' | 'v6', number | 'ENOMEM'>]> = [
  ['16G', 'dev', '2M', { 'v4.5': 16909336576, 'v4.18': 16909336576, v6: 16909336576 }],
  ['32G', 'dev', '2M', { 'v4.5': 33820770304, 'v4.18': 33820770304, v6: 33820770304 }],
  ['48M', 'dev', '2M', { 'v4.5': 'ENOMEM', 'v4.18': 46137344, v6: 48234496 }],
  ['2G', 'dev', '1G', { 'v4.5': 1073741824, 'v4.18': 1073741824, v6: 1073741824 }],
  ['64G', 'mem', '2M', { 'v4.5': 68717379584, 'v4.18': 68717379584, v6: 68717379584 }],
  ['1T', 'dev', '2M', { 'v4.5': 1082329661440, 'v4.18': 1082329661440, v6: 1082329661440 }],
];

/** The error of class `type` fn throws (its typed refusal); anything else thrown is rethrown, and no error at all fails. */
export function errorOf<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The KernelError fn throws (its typed refusal). */
export function kernelErrorOf(fn: () => unknown): KernelError {
  return errorOf(fn, KernelError);
}
