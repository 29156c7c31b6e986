/**
 * The DRAM page allocator per NUMA node, on both cores (CorePair): each RAM range is one node's, an
 * allocation walks the zonelist the host set (the preferred node, then its fallbacks) and takes the lowest
 * free block of the first node that has one; dramStats counts per node. The machine is the numa-boot
 * fixture's (test/fixtures/real/6.12.117/numa-boot, "Early memory node ranges"): node 0 holds
 * [0x1000, 0x9efff] and [0x100000, 0x3fffffff], node 1 [0x40000000, 0x7ffdefff].
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EINVAL, MAX_NUMNODES, PopulateFlags, Purpose, type Core, type CoreConfig } from '../../src/core/core.ts';
import { CORE_BACKENDS, coreConfig, CorePair } from '../fixtures.ts';

/** numa-boot's node ranges in pfns. */
const NUMA_BOOT: Pick<CoreConfig, 'ramRanges' | 'ramNodes'> = {
  ramRanges: [
    [0x1, 0x9f],
    [0x100, 0x40000],
    [0x40000, 0x7ffdf],
  ],
  ramNodes: [0, 0, 1],
};
const NODE0 = 0x9e + (0x40000 - 0x100);
const NODE1 = 0x7ffdf - 0x40000;

async function pair(cfg: CoreConfig): Promise<CorePair> {
  const [w, t] = await Promise.all(CORE_BACKENDS.map(([, make]) => make()));
  const p = new CorePair(w, t);
  p.same('init', (c) => c.init(cfg));
  return p;
}

describe('DRAM allocator per node (issue 14 item 2), Wasm and TS alike', () => {
  it('numa-boot: the nodes hold their ranges; after init the zonelist is every node by id', async () => {
    const p = await pair(coreConfig(NUMA_BOOT));
    const s = p.same('stats', (c) => c.dramStats());
    // init took the root table from node 0
    expect(s.byNode.map((n) => n.totalPages)).toEqual([NODE0, NODE1]);
    expect(s.byNode.map((n) => n.freePages)).toEqual([NODE0 - 1, NODE1]);
    expect(s.totalPages).toBe(NODE0 + NODE1);
    expect(p.same('alloc', (c) => c.allocPages(0, Purpose.Slab))).toBe(0x2);
  });

  it('numa-boot: zonelist 1 0 takes node 1 first, falls back to node 0 when node 1 is full', async () => {
    const p = await pair(coreConfig(NUMA_BOOT));
    expect(p.same('zonelist', (c) => c.setZonelist([1, 0]))).toBe(0);
    expect(p.same('order 9', (c) => c.allocPages(9, Purpose.Memmap))).toBe(0x40000);
    expect(p.same('order 0', (c) => c.allocPages(0, Purpose.PageTable))).toBe(0x40200);
    // order 18 (1 GiB): node 1 has no aligned free GiB (it is 0x40000..0x7ffdf, partly used), node 0 neither: -ENOMEM
    expect(p.same('order 18', (c) => c.allocPages(18, Purpose.HugeTlb))).toBe(-12);
    // fill node 1 with order-9 blocks: its whole free 2 MiB blocks 0x40400 .. 0x7fc00 (509; 0x7fe00 ends past
    // 0x7ffdf), then the allocator falls back to node 0's lowest
    const got: number[] = [];
    do got.push(p.same('fill', (c) => c.allocPages(9, Purpose.HugeTlb)));
    while (got.at(-1)! >= 0x40000);
    expect(got.length).toBe(510);
    expect(got.at(-2)).toBe(0x7fc00);
    expect(got.at(-1)).toBe(0x200);
    const s = p.same('stats', (c) => c.dramStats());
    expect(s.byNode[1].byPurpose[Purpose.HugeTlb]).toBe(509 * 512);
    expect(s.byNode[0].byPurpose[Purpose.HugeTlb]).toBe(512);
    expect(s.byNode[1].byPurpose[Purpose.Memmap]).toBe(512);
    expect(s.byNode[1].freePages).toBe(NODE1 - 510 * 512 - 1);
    expect(s.byPurpose[Purpose.HugeTlb]).toBe(510 * 512);
    // a free goes back to its own node and lowers its hint: node 1 hands it out again first
    expect(p.same('free', (c) => c.freePages(0x40000, 9, Purpose.Memmap))).toBe(0);
    expect(p.same('stats after free', (c) => c.dramStats()).byNode[1].byPurpose[Purpose.Memmap]).toBe(0);
    expect(p.same('again', (c) => c.allocPages(0, Purpose.Slab))).toBe(0x40000);
  });

  it('numa-boot: vmemmap_populate under zonelist 1 0 charges node 1 its memmap blocks and tables', async () => {
    const p = await pair(coreConfig(NUMA_BOOT));
    p.same('zonelist', (c) => c.setZonelist([1, 0]));
    // one section (128 MiB) of pmem at 4 GiB: 2 MiB of struct pages, from node 1
    expect(p.same('populate', (c) => c.vmemmapPopulate(0x100000, 32768, -1, 0))).toBe(0);
    const s = p.same('stats', (c) => c.dramStats());
    expect(s.byNode[1].byPurpose[Purpose.Memmap]).toBe(512);
    expect(s.byNode[0].byPurpose[Purpose.Memmap]).toBe(0);
    // its PUD and PMD tables too (node 0 only has the root)
    expect(s.byNode[1].byPurpose[Purpose.PageTable]).toBe(2);
    expect(s.byNode[0].byPurpose[Purpose.PageTable]).toBe(1);
    p.same('walk', (c) => c.walk(0xffffea0000000000n + 64n * 0x100000n).phys);
  });

  it('interleaved ranges: a node skips the other node ranges between its own (orders 0, 9 and 10)', async () => {
    const p = await pair(coreConfig({ ramRanges: [[0x100, 0x1000], [0x1000, 0x2000], [0x2000, 0x3000]], ramNodes: [0, 1, 0] }));
    p.same('zonelist 0', (c) => c.setZonelist([0]));
    for (let i = 0; i < 7; i++) p.same('order 9', (c) => c.allocPages(9, Purpose.Slab));
    // node 0's blocks below 0x1000 are gone (0x100.. is not 2 MiB aligned: 0x200..0xe00 held 7), the next is at 0x2000
    expect(p.same('order 9 past node 1', (c) => c.allocPages(9, Purpose.Slab))).toBe(0x2000);
    expect(p.same('order 10', (c) => c.allocPages(10, Purpose.Slab))).toBe(0x2400);
    expect(p.same('order 10', (c) => c.allocPages(10, Purpose.Slab))).toBe(0x2800);
    expect(p.same('order 10', (c) => c.allocPages(10, Purpose.Slab))).toBe(0x2c00);
    // node 0 only: no fallback to node 1 once node 0 is out of order-10 blocks
    expect(p.same('order 10 none', (c) => c.allocPages(10, Purpose.Slab))).toBe(-12);
    p.same('zonelist 0 1', (c) => c.setZonelist([0, 1]));
    expect(p.same('order 10 from node 1', (c) => c.allocPages(10, Purpose.Slab))).toBe(0x1000);
  });

  it('setZonelist refuses what is not a list of distinct node ids with a record (-EINVAL, unchanged)', async () => {
    const p = await pair(coreConfig(NUMA_BOOT));
    for (const bad of [[], [2], [0, 0], [-1], [0.5], [0, 1, 0]]) expect(p.same(`zonelist ${JSON.stringify(bad)}`, (c) => c.setZonelist(bad))).toBe(EINVAL);
    // unchanged: still every node by id, node 0 first
    expect(p.same('alloc', (c) => c.allocPages(0, Purpose.Slab))).toBe(0x2);
  });

  it('init refuses a node that is not an integer below MAX_NUMNODES (1024, Debian CONFIG_NODES_SHIFT=10)', async () => {
    for (const [, make] of CORE_BACKENDS) {
      for (const node of [MAX_NUMNODES, -1, 1.5, Number.NaN]) {
        const c: Core = await make();
        expect(c.init(coreConfig({ ramRanges: [[0x100, 0x1000]], ramNodes: [node] })), `node ${node}`).toBe(EINVAL);
      }
      const c: Core = await make();
      expect(c.init(coreConfig({ ramRanges: [[0x100, 0x1000], [0x1000, 0x2000]], ramNodes: [0, MAX_NUMNODES - 1] }))).toBe(0);
      const s = c.dramStats();
      expect(s.byNode).toHaveLength(MAX_NUMNODES);
      expect(s.byNode[MAX_NUMNODES - 1].totalPages).toBe(0x1000);
      expect(s.byNode[5]).toEqual({ totalPages: 0, freePages: 0, byPurpose: [0, 0, 0, 0, 0] });
    }
  });

  it('random allocations, frees and zonelists agree on both cores (fast-check)', async () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('alloc' as const), order: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ k: fc.constant('free' as const), i: fc.nat() }),
      fc.record({ k: fc.constant('zl' as const), zl: fc.constantFrom([0], [1], [2], [0, 1, 2], [2, 1, 0], [1, 2], [1, 0]) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops) => {
        const p = await pair(coreConfig({ ramRanges: [[0x100, 0x1800], [0x1800, 0x2400], [0x2400, 0x2c00], [0x3000, 0x4000]], ramNodes: [0, 2, 1, 2] }));
        const live: Array<[number, number]> = [];
        for (const o of ops) {
          if (o.k === 'alloc') {
            const pfn = p.same('alloc', (c) => c.allocPages(o.order, Purpose.Slab));
            if (pfn >= 0) live.push([pfn, o.order]);
          } else if (o.k === 'free' && live.length) {
            const [pfn, order] = live.splice(o.i % live.length, 1)[0];
            expect(p.same('free', (c) => c.freePages(pfn, order, Purpose.Slab))).toBe(0);
          } else if (o.k === 'zl') p.same('zl', (c) => c.setZonelist(o.zl));
        }
        const s = p.same('stats', (c) => c.dramStats());
        expect(s.byNode.reduce((a, n) => a + n.freePages, 0)).toBe(s.freePages);
      }),
      { numRuns: 40 },
    );
  });
});

describe('allocPages after a free completes a 1 GiB block below the hint (docs/core.md: the lowest-addressed free block)', () => {
  it('both cores: a 1 GiB group freed piece by piece, its last 4 KiB page last, is the next order-18 block (Wasm once skipped it: the free lowered the hint to the freed page\'s 2 MiB block, not its 1 GiB group)', async () => {
    for (const [name, make] of CORE_BACKENDS) {
      const c = await make();
      expect(c.init(coreConfig({ ramRanges: [[0, 0x100000]], hostMemoryLimit: 1 << 26 }))).toBe(0);
      const groups: number[] = [];
      for (let p = c.allocPages(18, Purpose.Memmap); p >= 0; p = c.allocPages(18, Purpose.Memmap)) groups.push(p);
      expect(groups, name).toEqual([0x40000, 0x80000, 0xc0000]);
      const a = groups[0 + 1]!;
      for (let b = 0; b < 512; b++) if (b !== 5) expect(c.freePages(a + b * 512, 9, Purpose.Memmap)).toBe(0);
      for (let i = 1; i < 512; i++) expect(c.freePages(a + 5 * 512 + i, 0, Purpose.Memmap)).toBe(0);
      expect(c.freePages(0xc0000, 18, Purpose.Memmap)).toBe(0);
      // the group at 0x80000 is one page short of whole: the higher one comes first, and goes back
      expect(c.allocPages(18, Purpose.Memmap), name).toBe(0xc0000);
      expect(c.freePages(a + 5 * 512, 0, Purpose.Memmap)).toBe(0);
      expect(c.freePages(0xc0000, 18, Purpose.Memmap)).toBe(0);
      expect(c.allocPages(18, Purpose.Memmap), name).toBe(0x80000);
      c.dispose?.();
    }
  });
});
