/**
 * Run tables (docs/core.md "Run tables"): a PMD table covering one whole GiB of vmemmap whose 512 leaves
 * are one contiguous run is held as one table pattern, its frame not backed. The oracle is the same
 * machine with `debug` on, where the hugepage loop writes every entry one by one (Pmd events): walks,
 * table bytes, struct pages, dramStats and altmap fields must be those of the per-entry tables, on both
 * cores, and only the host memory differs.
 */
import { describe, expect, it } from 'vitest';
import { FaultKind, NO_ALTMAP, type Core, type CoreConfig } from '../../src/core/core.ts';
import { createTsCore } from '../../src/core/ts/index.ts';
import { createWasmCore } from '../../src/core/wasm.ts';
import { CorePair } from '../fixtures.ts';

const VMEMMAP = 0xffffea0000000000n;
const GIB_PFNS = 262144;
/** pfn 2^24 (64 GiB): va(pfn) starts a GiB of vmemmap, so each 64 GiB of device is one whole PMD table. */
const DEV = 1 << 24;
/** 256 GiB of device: 4 PMD tables, 2048 leaves of 2 MiB. */
const DEV_PFNS = 256 * GIB_PFNS;

function config(debug: boolean): CoreConfig {
  return {
    ramRanges: [[0x100, 32 * GIB_PFNS]],
    levels: 4,
    vmemmapStart: VMEMMAP,
    pageOffset: 0xffff888000000000n,
    pse: true,
    gbpages: true,
    hostMemoryLimit: 256 << 20,
    eagerMemmap: false,
    debug,
  };
}

async function cores(): Promise<{ pair: CorePair; ref: Core }> {
  const w = await createWasmCore();
  const t = createTsCore();
  const ref = await createWasmCore();
  w.init(config(false));
  t.init(config(false));
  ref.init(config(true));
  return { pair: new CorePair(w, t), ref };
}

const va = (pfn: number) => VMEMMAP + 64n * BigInt(pfn);
/** Struct pages to sample: each table's first and last leaf, leaf boundaries, a page inside a leaf. */
const SAMPLES = [DEV, DEV + 1, DEV + 32767, DEV + 32768, DEV + 64 * GIB_PFNS - 1, DEV + 64 * GIB_PFNS, DEV + 100 * GIB_PFNS + 12345, DEV + DEV_PFNS - 1];

function altmapFor(c: Core): number {
  return c.altmapCreate({ basePfn: BigInt(DEV), reserve: 2n, free: BigInt(DEV_PFNS / 64 + 1024), align: 0n, alloc: 0n });
}

/** Everything observable but host memory, on c. */
function observe(c: Core, altmap: number) {
  return {
    dram: c.dramStats(),
    altmap: altmap >= 0 ? c.altmapRead(altmap) : null,
    walks: SAMPLES.map((p) => c.walk(va(p))),
    pages: SAMPLES.map((p) => c.readPage(p)),
    tables: SAMPLES.map((p) => {
      const pmd = c.walk(va(p)).levels.at(-1)!.table;
      return Buffer.from(c.readPhys(pmd, 4096)).toString('hex');
    }),
  };
}

describe.each(['altmap', 'dram'] as const)('run tables (%s blocks)', (kind) => {
  it(`populate of 256 GiB (4 whole PMD tables): the tables read as the per-entry loop writes them, on both cores, with ${kind === 'altmap' ? '2048 altmap blocks' : '2048 DRAM blocks'} and no table frame backed`, async () => {
    const { pair, ref } = await cores();
    const ids = [altmapFor(pair.w), altmapFor(pair.t), altmapFor(ref)].map((id) => (kind === 'altmap' ? id : -1));
    const before = pair.w.backedBytes();
    expect(pair.same('populate', (c) => c.vmemmapPopulate(DEV, DEV_PFNS, c === pair.w ? ids[0] : ids[1], 0))).toBe(0);
    expect(ref.vmemmapPopulate(DEV, DEV_PFNS, ids[2], 0)).toBe(0);
    ref.takeEvents();
    // both back the root's first entry and the PUD table; the per-entry loop also the 4 PMD tables, the runs none
    expect(pair.w.backedBytes()).toBe(pair.t.backedBytes());
    expect(pair.w.backedBytes() - before).toBe(2 * 4096);
    expect(ref.backedBytes() - before).toBe(6 * 4096);
    if (kind === 'altmap') expect(pair.w.altmapRead(ids[0]).alloc).toBe(2048n * 512n);
    else expect(pair.w.dramStats().byPurpose).toEqual(ref.dramStats().byPurpose);
    const want = observe(ref, ids[2]);
    expect(observe(pair.w, ids[0])).toEqual(want);
    expect(observe(pair.t, ids[1])).toEqual(want);
    pair.sameTables(4);
  });

  it('memmapInit over the device, then vmemmapFree of one table and a half, then of the rest: the same struct pages, frees and tables as per entry', async () => {
    const { pair, ref } = await cores();
    const ids = [altmapFor(pair.w), altmapFor(pair.t), altmapFor(ref)].map((id) => (kind === 'altmap' ? id : -1));
    const all = [pair.w, pair.t, ref];
    all.forEach((c, i) => expect(c.vmemmapPopulate(DEV, DEV_PFNS, ids[i], 0)).toBe(0));
    all.forEach((c) => expect(c.memmapInit(DEV, DEV_PFNS, 4, 1)).toBe(0));
    all.forEach((c) => c.takeEvents());
    const want = observe(ref, ids[2]);
    expect(observe(pair.w, ids[0])).toEqual(want);
    expect(observe(pair.t, ids[1])).toEqual(want);
    // a table and a half: one whole run table released at once, one split by the partial removal
    const part = 96 * GIB_PFNS;
    all.forEach((c, i) => expect(c.vmemmapFree(DEV, part, kind === 'altmap' ? ids[i] : NO_ALTMAP)).toBe(0));
    const mid = observe(ref, ids[2]);
    expect(observe(pair.w, ids[0])).toEqual(mid);
    expect(observe(pair.t, ids[1])).toEqual(mid);
    pair.sameTables(4);
    all.forEach((c, i) => expect(c.vmemmapFree(DEV + part, DEV_PFNS - part, kind === 'altmap' ? ids[i] : NO_ALTMAP)).toBe(0));
    const end = observe(ref, ids[2]);
    expect(observe(pair.w, ids[0])).toEqual(end);
    expect(observe(pair.t, ids[1])).toEqual(end);
    expect(end.walks.every((x) => !x.mapped)).toBe(true);
    if (kind === 'altmap') expect(pair.w.altmapRead(ids[0]).alloc).toBe(0n);
    expect(pair.w.dramStats()).toEqual(ref.dramStats());
  });
});

describe('run tables in the direct map', () => {
  const PAGE_OFFSET = 0xffff888000000000n;
  const TIB_PFNS = 1 << 28;
  const dva = (phys: bigint) => PAGE_OFFSET + phys;
  const PHYS = [0n, 0x40000000n, 0x3fffffff000n, 0x8000000000n, 0x8000001000n, 0xffffffff000n, 0x10000000000n];

  function observeDirect(c: Core) {
    return {
      dram: c.dramStats(),
      walks: PHYS.map((p) => c.walk(dva(p))),
      tables: PHYS.map((p) => Buffer.from(c.readPhys(c.walk(dva(p)).levels.at(-1)!.table, 4096)).toString('hex')),
    };
  }

  it.each([true, false])('gbpages %s: init_memory_mapping of 1 TiB + 4 KiB (2 whole tables of leaves), then a partial and a whole kernel_physical_mapping_remove, as the per-entry writes (a fault armed that never fires)', async (gbpages) => {
    const w = await createWasmCore();
    const t = createTsCore();
    const ref = await createWasmCore();
    const cfg = { ...config(false), gbpages };
    for (const c of [w, t, ref]) expect(c.init(cfg)).toBe(0);
    // an armed fault that the direct map never attempts: the per-entry path
    ref.setFault(FaultKind.AltmapAlloc, 1);
    const before = w.backedBytes();
    const end = TIB_PFNS + 1;
    for (const c of [w, t, ref]) expect(c.directMapAdd(0, end)).toBe(0);
    const pair = new CorePair(w, t);
    const want = observeDirect(ref);
    expect(observeDirect(w)).toEqual(want);
    expect(observeDirect(t)).toEqual(want);
    pair.sameTables(4);
    expect(w.backedBytes()).toBe(t.backedBytes());
    // 1 GiB leaves: the two PUD tables of 512 GiB are runs; 2 MiB leaves: 1024 PMD tables of 1 GiB are
    expect(ref.backedBytes() - w.backedBytes()).toBe((gbpages ? 2 : 1024) * 4096);
    expect(w.backedBytes() - before).toBeLessThan(16 * 4096);
    // the first 512 GiB and a half (one whole run table released, one split), then the rest
    const half = (3 * TIB_PFNS) / 4;
    for (const c of [w, t, ref]) expect(c.directMapRemove(0, half)).toBe(0);
    const mid = observeDirect(ref);
    expect(observeDirect(w)).toEqual(mid);
    expect(observeDirect(t)).toEqual(mid);
    for (const c of [w, t, ref]) expect(c.directMapRemove(half, end)).toBe(0);
    const gone = observeDirect(ref);
    expect(observeDirect(w)).toEqual(gone);
    expect(observeDirect(t)).toEqual(gone);
    expect(gone.walks.every((x) => !x.mapped)).toBe(true);
  });
});

describe('run tables: the altmap side in one step (altmapAllocRun)', () => {
  /** An altmap of `blocks` 2 MiB blocks after a reserve of `reserve` pfns (pad = 512 - reserve % 512 on the first block). */
  const altmap = (c: Core, reserve: number, blocks: number) =>
    c.altmapCreate({ basePfn: BigInt(DEV + 7), reserve: BigInt(reserve), free: BigInt(blocks * 512 + ((512 - ((DEV + 7 + reserve) % 512)) % 512)), align: 0n, alloc: 0n });

  it.each([
    ['enough for all 4 tables (2048 blocks), next_pfn unaligned', 3, 2048, 0],
    ['runs out in the second table (700 blocks)', 3, 700, -12],
    ['runs out at the first table (511 blocks)', 500, 511, -12],
    ['exactly one table (512 blocks), the second gets none', 0, 512, -12],
  ])('%s: the same altmap fields, entries and tables as 512 single altmapAlloc calls per table', async (_name, reserve, blocks, rc) => {
    const { pair, ref } = await cores();
    const ids = [pair.w, pair.t, ref].map((c) => altmap(c, reserve, blocks));
    expect(pair.w.vmemmapPopulate(DEV, DEV_PFNS, ids[0], 0)).toBe(rc);
    expect(pair.t.vmemmapPopulate(DEV, DEV_PFNS, ids[1], 0)).toBe(rc);
    expect(ref.vmemmapPopulate(DEV, DEV_PFNS, ids[2], 0)).toBe(rc);
    ref.takeEvents();
    expect(pair.w.takeEvents()).toEqual([]);
    expect(pair.t.takeEvents()).toEqual([]);
    const want = observe(ref, ids[2]);
    expect(want.altmap!.alloc).toBe(BigInt(Math.min(blocks, 2048) * 512));
    expect(observe(pair.w, ids[0])).toEqual(want);
    expect(observe(pair.t, ids[1])).toEqual(want);
    pair.sameTables(4);
    // each table whose 512 blocks all fit is a run table (no frame backed), the rest per entry
    expect(pair.w.backedBytes()).toBe(pair.t.backedBytes());
    expect(ref.backedBytes() - pair.w.backedBytes()).toBe(4096 * Math.floor(Math.min(blocks, 2048) / 512));
  });
});
