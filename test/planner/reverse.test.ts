/**
 * Reverse sizing (issue 15): planCapacity({ usable }) finds, per era, mode, map and align, the smallest raw
 * size on ndctl's granularity whose usable capacity reaches the target; each answer is a machine run, and so
 * is the run one granule smaller, which must fall short. namespaces.md's worked examples are among the
 * targets, and the v6 arithmetic of namespaces.md is the oracle for the v6 rows.
 */
import { describe, expect, it } from 'vitest';
import { KERNELS, planCapacity, planConfigs, type PlanRow, type KernelName } from '../../src/index.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;

/** Targets from 16 MiB to 4 TiB: namespaces.md's worked examples (usable sizes of its table) and round sizes. */
const TARGETS: Array<[string, number]> = [
  ['16 MiB', 16 * MiB],
  ['namespaces.md 48 MiB dev 2M (v6)', 48234496],
  ['1 GiB', GiB],
  ['namespaces.md 2 GiB dev 1G', 1073741824],
  ['namespaces.md 16 GiB dev 2M', 16909336576],
  ['namespaces.md 32 GiB dev 2M', 33820770304],
  ['namespaces.md 64 GiB mem 2M', 68717379584],
  ['1500 GiB', 1500 * GiB],
  ['namespaces.md 1 TiB dev 2M', 1082329661440],
  ['4 TiB', 4 * TiB],
];

function checkRow(r: PlanRow, target: number): void {
  const where = `${r.label}: raw ${r.raw}`;
  expect(r.ok, `${where}: ${r.error}`).toBe(true);
  expect(r.usable, where).toBeGreaterThanOrEqual(target);
  expect(r.raw % r.granule!, where).toBe(0);
  expect(r.deviceGivenUp, where).toBe(r.raw - r.usable);
  if (r.below === null) {
    // one granule smaller is below ndctl's 16 MiB minimum
    expect(r.raw - r.granule!, where).toBeLessThan(16 * MiB);
  } else {
    expect(r.below!.raw, where).toBe(r.raw - r.granule!);
    expect(r.below!.ok ? r.below!.usable : 0, where).toBeLessThan(target);
  }
}

describe('reverse sizing: usable >= target, one granule smaller is below it (every era, 16 MiB to 4 TiB)', () => {
  for (const kernel of KERNELS) {
    it.each(TARGETS)(`${kernel}: %s`, async (_name, target) => {
      const plan = await planCapacity({ usable: target, kernel });
      expect(plan.usable).toBe(target);
      expect(plan.rows.map((r) => r.label)).toEqual(planConfigs(kernel).map((c) => c.label));
      for (const r of plan.rows) checkRow(r, target);
    }, 240_000);
  }
});

describe('reverse sizing against namespaces.md', () => {
  // the table's raw sizes give its usable sizes, and one granule less gives less: the answer is the table's raw
  it.each([
    ['16 GiB dev 2M', 16909336576, 'fsdax', 'dev', '2M', 16 * GiB],
    ['32 GiB dev 2M', 33820770304, 'fsdax', 'dev', '2M', 32 * GiB],
    ['2 GiB dev 1G', 1073741824, 'devdax', 'dev', '1G', 2 * GiB],
    ['64 GiB mem 2M', 68717379584, 'fsdax', 'mem', '2M', 64 * GiB],
    ['1 TiB dev 2M', 1082329661440, 'fsdax', 'dev', '2M', TiB],
  ] as const)('namespaces.md %s: the raw size is the table\'s on every era', async (_n, target, mode, map, align, raw) => {
    for (const kernel of KERNELS) {
      if (mode === 'devdax' && kernel.startsWith('v4.5')) continue; // device-dax arrived in v4.7
      const plan = await planCapacity({ usable: target, kernel, mode, map, align });
      expect(plan.rows.length).toBeGreaterThan(0);
      for (const r of plan.rows) expect(r.raw, `${kernel} ${r.label}`).toBe(raw);
    }
  }, 120_000);
});

/** namespaces.md "v5.3 and later": the usable size of a raw size at a 1 GiB-aligned start (the test's oracle, not the planner's). */
function v6Usable(raw: number, map: 'dev' | 'mem', align: number): number {
  const aeff = Math.max(align, 2 * MiB);
  const up = (x: number, a: number) => Math.ceil(x / a) * a;
  const npfns0 = Math.floor((raw - 8192) / 4096);
  const endTrunc = raw % aeff;
  const offset = map === 'dev' ? up(8192 + 64 * npfns0, aeff) : up(8192, aeff);
  if (offset >= raw - endTrunc) return 0;
  return Math.floor((raw - offset - endTrunc) / 4096) * 4096;
}

/** dax kmem over the devdax 2M map=mem data area: whole 128 MiB memory blocks; with memmap_on_memory each block keeps 2 MiB for its memmap. */
function v6KmemUsable(raw: number, mom: boolean): number {
  const B = 128 * MiB;
  const blocks = Math.floor(raw / B) - 1; // the first block holds the 2 MiB info area
  return Math.max(0, blocks) * (mom ? B - 2 * MiB : B);
}

describe('reverse sizing: the v6 rows against namespaces.md\'s arithmetic (oracle)', () => {
  it.each([['48 MiB', 48234496], ['1 GiB + 4 KiB', GiB + 4096], ['1500 GiB', 1500 * GiB], ['1 TiB + 5 MiB', TiB + 5 * MiB]])('v6 and v6.1, %s: each row is the smallest 16 MiB multiple the arithmetic allows', async (_n, target) => {
    for (const kernel of ['v6', 'v6.1'] as KernelName[]) {
      const plan = await planCapacity({ usable: target, kernel });
      for (const r of plan.rows) {
        const usable = (raw: number) => (r.systemRam ? v6KmemUsable(raw, r.systemRam.memmapOnMemory) : v6Usable(raw, r.map, r.align === '1G' ? GiB : 2 * MiB));
        const g = r.align === '1G' ? GiB : 16 * MiB;
        let k = Math.ceil(target / g);
        while (usable(k * g) < target) k++;
        expect(r.raw, `${kernel} ${r.label}`).toBe(k * g);
        expect(r.usable, `${kernel} ${r.label}`).toBe(usable(k * g));
      }
    }
  }, 120_000);
});
