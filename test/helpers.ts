/** Shared test fixtures: the backends every behavioural test runs on, and the spec's machines. */
import { createMachine, type MachineConfig } from '../src/index.ts';
import type { Backend } from '../src/core/load.ts';

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
