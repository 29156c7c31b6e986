/**
 * addMemoryBlocks (docs/core.md "Memory blocks"): memmap_on_memory's hot-add of 128 MiB blocks, a chunk of
 * 512 in one call, must leave what the single steps leave (each block: directMapAdd, its own altmap
 * { base = the block, free = 512 }, vmemmapPopulate from it): every table byte, walks, dramStats, results;
 * only the host memory differs. Wasm and TS alike. The kernel's steps are the planner's
 * "system-ram, memmap_on_memory" row (create_altmaps_and_memory_blocks -> arch_add_memory per block).
 */
import { describe, expect, it } from 'vitest';
import { EINVAL, FaultKind, Purpose, type Core } from '../../src/core/core.ts';
import { CORE_BACKENDS, CorePair, coreConfig } from '../fixtures.ts';

const BLOCK = 32768;
/** pfn 2^25 (128 GiB): a 64 GiB chunk boundary. */
const DEV = 1 << 25;
const va = (pfn: number) => 0xffffea0000000000n + BigInt(pfn) * 64n;
const dm = (pfn: number) => 0xffff888000000000n + BigInt(pfn) * 4096n;

/** The single steps for blocks [from, to) of DEV: each block's arch_add_memory; the blocks added before the first that failed. */
function singles(c: Core, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const b = DEV + i * BLOCK;
    if (c.directMapAdd(b, b + BLOCK) < 0) return i;
    const id = c.altmapCreate({ basePfn: BigInt(b), reserve: 0n, free: 512n, align: 0n, alloc: 0n });
    const r = c.vmemmapPopulate(b, BLOCK, id, 0);
    const alloc = c.altmapRead(id).alloc;
    c.altmapRelease(id);
    if (r < 0) return i;
    expect(alloc).toBe(512n);
  }
  return to;
}

/** What the two cores show: results of walks over the blocks' direct map and vmemmap, and dramStats. */
function same(p: CorePair, blocks: number): void {
  p.sameTables();
  expect(p.w.dramStats()).toEqual(p.t.dramStats());
  for (const i of [0, 1, 7, 8, 63, 64, 255, 511, 512, 513, blocks - 1].filter((x) => x < blocks + 2)) {
    const b = DEV + i * BLOCK;
    for (const a of [va(b), va(b + BLOCK - 64), dm(b), dm(b + BLOCK - 1)]) expect(p.w.walk(a), `block ${i} ${a.toString(16)}`).toEqual(p.t.walk(a));
  }
}

async function fresh(make: () => Promise<Core>, over = {}): Promise<Core> {
  const c = await make();
  expect(c.init(coreConfig({ hostMemoryLimit: 64 << 20, ...over }))).toBe(0);
  return c;
}

describe.each(CORE_BACKENDS)('addMemoryBlocks against the single steps (%s)', (_name, make) => {
  it('1100 blocks from 128 GiB: two chunks of 512 at once, the rest one by one; tables, walks, stats as block by block', async () => {
    const a = await fresh(make);
    const b = await fresh(make);
    const done = a.addMemoryBlocks(DEV, 1100, 512);
    expect(done).toBe(1024);
    expect(singles(a, done, 1100)).toBe(1100);
    expect(singles(b, 0, 1100)).toBe(1100);
    same(new CorePair(a, b), 1100);
    // a chunk's 64 direct-map tables and its vmemmap table are not backed
    expect(b.backedBytes() - a.backedBytes()).toBeGreaterThanOrEqual(2 * 65 * 4096);
    // and they free as the single ones do
    for (const c of [a, b]) expect(c.directMapRemove(DEV, DEV + 1100 * BLOCK)).toBe(0);
    same(new CorePair(a, b), 1100);
  });

  it('DRAM for 10 more tables: the chunk stops before block 56 (window 7 gets no PMD table), as the single steps do', async () => {
    const a = await fresh(make, { ramRanges: [[0x100, 0x4100]] });
    const b = await fresh(make, { ramRanges: [[0x100, 0x4100]] });
    for (const c of [a, b]) {
      while (c.dramStats().freePages > 10) expect(c.allocPages(0, Purpose.Slab)).toBeGreaterThanOrEqual(0);
    }
    const done = a.addMemoryBlocks(DEV, 512, 512);
    // 4 tables for block 0 (direct map PUD and PMD, vmemmap PUD and PMD), one each for windows 1..6
    expect(done).toBe(56);
    expect(singles(a, done, 512)).toBe(56);
    expect(singles(b, 0, 512)).toBe(56);
    same(new CorePair(a, b), 57);
    expect(a.dramStats()).toEqual(b.dramStats());
  });

  it('DRAM for 3 tables: block 0 keeps its direct map, its vmemmap fails, nothing is added; the single step meets the same', async () => {
    const a = await fresh(make, { ramRanges: [[0x100, 0x4100]] });
    const b = await fresh(make, { ramRanges: [[0x100, 0x4100]] });
    for (const c of [a, b]) {
      while (c.dramStats().freePages > 3) expect(c.allocPages(0, Purpose.Slab)).toBeGreaterThanOrEqual(0);
    }
    expect(a.addMemoryBlocks(DEV, 512, 512)).toBe(0);
    expect(singles(a, 0, 512)).toBe(0);
    expect(singles(b, 0, 512)).toBe(0);
    same(new CorePair(a, b), 1);
  });

  it('0 blocks where it cannot go at once: not on a 64 GiB boundary, fewer than 512, a fault armed, debug, memmapPages < 512, a PUD entry already in use; -EINVAL for non-integers', async () => {
    const c = await fresh(make);
    expect(c.addMemoryBlocks(DEV + BLOCK, 1024, 512)).toBe(0);
    expect(c.addMemoryBlocks(DEV, 511, 512)).toBe(0);
    expect(c.addMemoryBlocks(DEV, 512, 511)).toBe(0);
    c.setFault(FaultKind.AltmapAlloc, 1000);
    expect(c.addMemoryBlocks(DEV, 512, 512)).toBe(0);
    c.setFault(FaultKind.AltmapAlloc, 0);
    // one block of the chunk mapped already: its direct-map PUD entry holds a table
    expect(c.directMapAdd(DEV + 9 * BLOCK, DEV + 10 * BLOCK)).toBe(0);
    expect(c.addMemoryBlocks(DEV, 512, 512)).toBe(0);
    expect(c.dramStats().byPurpose[Purpose.PageTable]).toBe(1);
    expect(c.addMemoryBlocks(DEV + 512 * BLOCK, 512, 512)).toBe(512);
    const d = await fresh(make, { debug: true });
    expect(d.addMemoryBlocks(DEV, 512, 512)).toBe(0);
    for (const bad of [-1, 0.5, NaN, Infinity]) {
      expect(c.addMemoryBlocks(bad, 512, 512)).toBe(EINVAL);
      expect(c.addMemoryBlocks(DEV, bad, 512)).toBe(EINVAL);
      expect(c.addMemoryBlocks(DEV, 512, bad)).toBe(EINVAL);
    }
  });
});

describe('addMemoryBlocks: Wasm and TS alike', () => {
  it.each([4, 5] as const)('%i-level paging: 1024 blocks at once, then one by one to 1030; the same tables, stats and walks', async (levels) => {
    const [w, t] = await Promise.all(CORE_BACKENDS.map(([, make]) => fresh(make, { levels })));
    const p = new CorePair(w, t);
    p.same('addMemoryBlocks', (c) => c.addMemoryBlocks(DEV, 1030, 512));
    p.same('singles', (c) => singles(c, 1024, 1030));
    p.sameTables(levels);
    expect(w.dramStats()).toEqual(t.dramStats());
    expect(w.backedBytes()).toBe(t.backedBytes());
  });
});

describe.each(CORE_BACKENDS)('the blocks added at once go as block by block (%s)', (_name, make) => {
  /** arch_remove_memory of blocks [from, to) one by one: vmemmapFree with the block's altmap (alloc 512 back to 0), then the direct map. */
  function removeSingles(c: Core, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const b = DEV + i * BLOCK;
      const id = c.altmapCreate({ basePfn: BigInt(b), reserve: 0n, free: 512n, align: 0n, alloc: 512n });
      expect(c.vmemmapFree(b, BLOCK, id)).toBe(0);
      expect(c.altmapRead(id).alloc).toBe(0n);
      c.altmapRelease(id);
      expect(c.directMapRemove(b, b + BLOCK)).toBe(0);
    }
  }

  it('1100 blocks added (1024 at once), then removed: a run of them in one vmemmapFree (one altmap for all) and one directMapRemove, the rest one by one; the same tables and DRAM as all one by one', async () => {
    const a = await fresh(make);
    const b = await fresh(make);
    expect(a.addMemoryBlocks(DEV, 1100, 512)).toBe(1024);
    expect(singles(a, 1024, 1100)).toBe(1100);
    expect(singles(b, 0, 1100)).toBe(1100);
    // blocks 0..1023 at once (what the host's removal of a run of parked altmaps does), the tail singly
    const id = a.altmapCreate({ basePfn: BigInt(DEV), reserve: 0n, free: 0n, align: 0n, alloc: 1024n * 512n });
    expect(a.vmemmapFree(DEV, 1024 * BLOCK, id)).toBe(0);
    expect(a.altmapRead(id).alloc).toBe(0n);
    a.altmapRelease(id);
    expect(a.directMapRemove(DEV, DEV + 1024 * BLOCK)).toBe(0);
    removeSingles(a, 1024, 1100);
    removeSingles(b, 0, 1100);
    same(new CorePair(a, b), 1100);
    expect(a.dramStats().byPurpose[Purpose.PageTable]).toBe(b.dramStats().byPurpose[Purpose.PageTable]);
    expect(a.dramStats().byPurpose[Purpose.DirectMap]).toBe(0);
  });

  it('the blocks added at once removed one by one, half of a chunk first: the same as all one by one', async () => {
    const a = await fresh(make);
    const b = await fresh(make);
    expect(a.addMemoryBlocks(DEV, 512, 512)).toBe(512);
    expect(singles(b, 0, 512)).toBe(512);
    for (const c of [a, b]) {
      removeSingles(c, 256, 512);
      removeSingles(c, 0, 256);
    }
    same(new CorePair(a, b), 512);
    expect(a.backedBytes()).toBe(b.backedBytes());
  });
});
