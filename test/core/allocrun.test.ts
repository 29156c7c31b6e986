/**
 * allocPagesRun (docs/core.md "DRAM page allocator"): `count` allocPages calls in one step when they
 * form one contiguous run, else -1 and nothing changes. The oracle is a third core making the single
 * calls: the same first pfn, dramStats and next allocations, on both backends.
 */
import { describe, expect, it } from 'vitest';
import { EINVAL, FaultKind, Purpose, type Core, type CoreConfig } from '../../src/core/core.ts';
import { createTsCore } from '../../src/core/ts/index.ts';
import { createWasmCore } from '../../src/core/wasm.ts';

/** Two RAM ranges on two nodes: [0x100, 0x20000) on node 0 and [0x30000, 0x50000) on node 1. */
function config(): CoreConfig {
  return {
    ramRanges: [
      [0x100, 0x20000],
      [0x30000, 0x50000],
    ],
    ramNodes: [0, 1],
    levels: 4,
    vmemmapStart: 0xffffea0000000000n,
    pageOffset: 0xffff888000000000n,
    pse: true,
    gbpages: true,
    hostMemoryLimit: 64 << 20,
    eagerMemmap: false,
    debug: false,
  };
}

async function three(): Promise<Core[]> {
  const cs = [await createWasmCore(), createTsCore(), await createWasmCore()];
  for (const c of cs) expect(c.init(config())).toBe(0);
  return cs;
}

/** The single calls allocPagesRun stands for, on the oracle: their first pfn if contiguous, else -1 (and they are undone). */
function singles(ref: Core, order: number, count: number, purpose: Purpose): number {
  const got: number[] = [];
  for (let i = 0; i < count; i++) got.push(ref.allocPages(order, purpose));
  const run = got.every((p, i) => p >= 0 && p === got[0] + i * 2 ** order);
  if (!run) for (const p of got.filter((p) => p >= 0).reverse()) expect(ref.freePages(p, order, purpose)).toBe(0);
  return run ? got[0] : -1;
}

describe('allocPagesRun (both cores against the single allocPages calls)', () => {
  it.each([
    ['fresh memory, 66049 order-0 pages (a GiB of compound vmemmap)', 0, 66049, 0x101],
    ['order 9, 100 blocks', 9, 100, 0x200],
    ['order 0, up to the range end exactly', 0, 0x20000 - 0x101, 0x101],
  ])('%s: the run the single calls take', async (_name, order, count, first) => {
    const [w, t, ref] = await three();
    // the root table took pfn 0x100; order 9 starts at the first whole free 2 MiB block
    const want = singles(ref, order, count, Purpose.Memmap);
    expect(want).toBe(order === 9 ? 0x200 : first);
    expect(w.allocPagesRun(order, count, Purpose.Memmap)).toBe(want);
    expect(t.allocPagesRun(order, count, Purpose.Memmap)).toBe(want);
    const stats = ref.dramStats();
    const next = ref.allocPages(0, Purpose.PageTable);
    for (const c of [w, t]) {
      expect(c.dramStats()).toEqual(stats);
      expect(c.allocPages(0, Purpose.PageTable)).toBe(next);
    }
  });

  /** pfns 0x101..0x103 taken, 0x101 and 0x102 given back: 0x103 stays used inside any run from 0x101. */
  const hole = (c: Core) => {
    for (let i = 0; i < 3; i++) c.allocPages(0, Purpose.Memmap);
    c.freePages(0x101, 0, Purpose.Memmap);
    c.freePages(0x102, 0, Purpose.Memmap);
  };
  it.each([
    ['a used page inside the run', hole, 1000],
    ['a run past the end of the first range', () => 0, 0x20000],
    ['a fault armed (each call an attempt)', (c: Core) => c.setFault(FaultKind.Backing, 5), 16],
  ])('%s: -1 and nothing changes', async (_name, setup, count) => {
    const [w, t, ref] = await three();
    for (const c of [w, t, ref]) setup(c);
    const before = ref.dramStats();
    const next = ref.allocPages(0, Purpose.Memmap);
    for (const c of [w, t]) {
      expect(c.allocPagesRun(0, count, Purpose.Memmap)).toBe(-1);
      expect(c.dramStats()).toEqual(before);
      expect(c.allocPages(0, Purpose.Memmap)).toBe(next);
    }
  });

  it('node 0 full: the run comes from node 1, the zonelist order, counted on node 1', async () => {
    const [w, t, ref] = await three();
    for (const c of [w, t, ref]) expect(c.allocPagesRun(0, 0x20000 - 0x101, Purpose.Memmap)).toBe(0x101);
    const want = singles(ref, 0, 512, Purpose.PageTable);
    expect(want).toBe(0x30000);
    for (const c of [w, t]) {
      expect(c.allocPagesRun(0, 512, Purpose.PageTable)).toBe(want);
      expect(c.dramStats()).toEqual(ref.dramStats());
      expect(c.dramStats().byNode[1].byPurpose[Purpose.PageTable]).toBe(512);
    }
  });

  it.each([
    [-1, 1, Purpose.Memmap],
    [31, 1, Purpose.Memmap],
    [0, 0, Purpose.Memmap],
    [0, 1.5, Purpose.Memmap],
    [0, 2 ** 41, Purpose.Memmap],
    [0, 1, 5],
  ])('order %d, count %d, purpose %d: -EINVAL, nothing changes', async (order, count, purpose) => {
    const [w, t] = await three();
    for (const c of [w, t]) {
      const before = c.dramStats();
      expect(c.allocPagesRun(order, count, purpose as Purpose)).toBe(EINVAL);
      expect(c.dramStats()).toEqual(before);
    }
  });
});
