/**
 * Where the planner's cost grew with the device (issue 15), checked by behaviour, not by timing: the core
 * hands out the lowest free altmap id without rescanning from 0 (memmap_on_memory takes one altmap per
 * memory block, 65536 of them for 8 TiB), and both cores agree on which id that is; a 2 PiB compound
 * devmap is compound runs (docs/core.md), not 16M backed PTE tables.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/core/load.ts';
import { defaultPlanDram, measureConfig, planMachine, runConfig } from '../../src/planner/run.ts';
import { CORE_BACKENDS, coreConfig } from '../fixtures.ts';

const fields = (basePfn: number) => ({ basePfn: BigInt(basePfn), reserve: 2n, free: 510n, align: 0n, alloc: 0n });

describe('altmapCreate: the lowest free id, on both cores', () => {
  it.each(CORE_BACKENDS)('%s: ids 0..4, release 1 and 3, then 1, 3, 5; a released id reads back as zeros', async (_name, make) => {
    const c = await make();
    try {
      expect(c.init(coreConfig())).toBe(0);
      const ids = [0, 1, 2, 3, 4].map((i) => c.altmapCreate(fields(0x100000 + i * 0x8000)));
      expect(ids).toEqual([0, 1, 2, 3, 4]);
      c.altmapRelease(3);
      c.altmapRelease(1);
      expect(c.altmapRead(1).basePfn).toBe(0n);
      expect(c.altmapCreate(fields(0x200000))).toBe(1);
      expect(c.altmapCreate(fields(0x208000))).toBe(3);
      expect(c.altmapCreate(fields(0x210000))).toBe(5);
      expect(c.altmapRead(3).basePfn).toBe(0x208000n);
      // releasing the top and below it: the next one is the lowest free again
      c.altmapRelease(5);
      c.altmapRelease(0);
      expect(c.altmapCreate(fields(0x300000))).toBe(0);
      expect(c.altmapCreate(fields(0x308000))).toBe(5);
    } finally {
      c.dispose();
    }
  });
});

describe('the 2 PiB fsdax map=mem row (issue 15 item 4): 32 TiB of memmap in DRAM, 32768 runs of 512 order-9 blocks', () => {
  it('on both cores: usable raw - 2 MiB, memmap raw / 64, 2^39 struct pages initialised, DRAM = memmap + page tables + a slab page; the same figures', async () => {
    const raw = 2n << 50n;
    const rows = [];
    for (const [name] of CORE_BACKENDS) rows.push(await runConfig({ label: 'fsdax, map=mem', mode: 'fsdax', map: 'mem', align: '2M' }, raw, 'v6', name as Backend, defaultPlanDram(raw)));
    const [w, t] = rows;
    expect(w.ok, w.error).toBe(true);
    expect(w.usable).toBe(Number(raw - (2n << 20n)));
    expect(w.memmapDram).toBe(Number(raw / 64n));
    expect(w.structPagesInitialised).toBe(2 ** 39);
    expect(w.dram).toBe(w.memmapDram + w.pageTablePages * 4096 + 4096);
    // the vmemmap's 32768 PMD tables and 64 PUD tables, the direct map's 4096 PUD tables of 1 GiB pages, and the P4D/PGD-level ones above them
    expect(w.pageTablePages).toBeGreaterThanOrEqual(32768 + 64 + 4096);
    expect(w.pageTablePages).toBeLessThan(32768 + 64 + 4096 + 16);
    expect(t).toEqual(w);
  }, 60_000);
});

describe('2 PiB compound devmap rows on the planning machine (issue 15 part 4): every row completes, in bounded host memory', () => {
  const RAW = 2n ** 51n;
  it.each([
    ['2M', 2n ** 21n],
    ['1G', 2n ** 30n],
  ])('devdax %s map=mem: usable is raw less one align (the info block), memmap DRAM is 2 pages (VMEMMAP_RESERVE_NR) for each compound page of the pgmap range (the whole namespace), under 64 MiB of host memory, both cores alike', async (align, alignBytes) => {
    const rows = [];
    for (const backend of ['wasm', 'ts'] as const) {
      const m = await planMachine('v6', backend, defaultPlanDram(RAW), RAW);
      try {
        const row = measureConfig(m, { mode: 'devdax', map: 'mem', align }, RAW);
        expect(row.ok, row.error).toBe(true);
        expect(row.compound).toBe(true);
        expect(BigInt(row.usable)).toBe(RAW - alignBytes);
        expect(BigInt(row.memmapDram)).toBe((RAW / alignBytes) * 2n * 4096n);
        // a PTE table per 2 MiB of vmemmap (128 MiB of device), in DRAM
        expect(row.pageTablePages).toBeGreaterThanOrEqual(Number(RAW / 2n ** 27n));
        expect(m.stats().host.backedBytes).toBeLessThan(64 * 2 ** 20);
        rows.push(row);
      } finally {
        m.dispose();
      }
    }
    expect(rows[1]).toEqual(rows[0]);
  });
});

describe('the system-ram, memmap_on_memory row on the planning machine (issue 15 part 4): every block its own arch_add_memory, 512 at once', () => {
  const cfg = { label: 'system-ram, memmap_on_memory', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: true } } as const;
  /** Page tables the row costs: a direct-map PMD table per GiB (each 128 MiB block mapped with 2 MiB pages) and a PUD table per 512 GiB, a vmemmap PMD table per 64 GiB (a block's 2 MiB memmap is one leaf) and a PUD table per 32 TiB. */
  const tables = (raw: bigint) => Number(raw / 2n ** 30n + raw / 2n ** 39n + raw / 2n ** 36n + raw / 2n ** 45n);

  it('2 PiB (Wasm): completes; usable is every whole 128 MiB block after the 2 MiB info block (the first block lost to alignment) less its own 2 MiB memmap, no DRAM memmap, DRAM is the page tables alone (8 GiB of direct-map PMD tables), under 64 MiB of backed host memory', async () => {
    const raw = 2n ** 51n;
    const m = await planMachine('v6', 'wasm', defaultPlanDram(raw), raw);
    try {
      const row = measureConfig(m, cfg, raw);
      expect(row.ok, row.error).toBe(true);
      expect(BigInt(row.usable)).toBe((raw / 2n ** 27n - 1n) * (126n << 20n));
      expect(row.memmapDram).toBe(0);
      expect(row.dram).toBe(row.pageTablePages * 4096);
      expect(row.pageTablePages).toBeGreaterThanOrEqual(tables(raw));
      expect(row.pageTablePages).toBeLessThan(tables(raw) + 16);
      expect(m.stats().host.backedBytes).toBeLessThan(64 * 2 ** 20);
    } finally {
      m.dispose();
    }
  }, 60_000);

  it('8 TiB: the same figures on both cores', async () => {
    const raw = 2n ** 43n;
    const rows = [];
    for (const [name] of CORE_BACKENDS) rows.push(await runConfig(cfg, raw, 'v6', name as Backend, defaultPlanDram(raw)));
    const [w, t] = rows;
    expect(w.ok, w.error).toBe(true);
    expect(BigInt(w.usable)).toBe((raw / 2n ** 27n - 1n) * (126n << 20n));
    expect(w.pageTablePages).toBeGreaterThanOrEqual(tables(raw));
    expect(w.pageTablePages).toBeLessThan(tables(raw) + 16);
    expect(t).toEqual(w);
  }, 60_000);
});
