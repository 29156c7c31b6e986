/** kernel.md §2.9, §2.5: the altmap bump allocator through the public API (T1–T9), on every backend. */
import { describe, expect, it } from 'vitest';
import { BACKENDS, newLines, t10Machine, VA } from '../fixtures.ts';

const M2 = 2 * 1024 * 1024;

describe.each(BACKENDS)('altmap allocator [%s]', (backend) => {
  it('T1 worked example A: 0x240200, 0x240400, fail, fail; alloc 1024 align 510 nr_free 0', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x240000, reserve: 2, free: 1534 });
    expect(m.altmapAllocBlockBuf(a, M2)).toBe(VA(0x240200000n));
    expect(a.nrFree).toBe(512);
    expect(m.altmapAllocBlockBuf(a, M2)).toBe(VA(0x240400000n));
    expect(m.altmapAllocBlockBuf(a, M2)).toBeNull();
    expect(m.altmapAllocBlockBuf(a, 4096)).toBeNull();
    expect(a.toJSON()).toMatchObject({ alloc: 1024, align: 510, nrFree: 0, nextPfn: 0x240600 });
    // the first block's VA on a v4.5 non-KASLR layout
    expect(VA(0x240200000n)).toBe(0xffff880240200000n);
  });

  it('T2 worked example B: mixed sizes 1,2,8,24,3 pfns -> 0x100003, 0x100004, 0x100008, 0x100010, 0x100028', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x100000, reserve: 3, free: 100 });
    const got = [1, 2, 8, 24, 3].map((n) => m.altmapAllocBlockBuf(a, n * 4096));
    expect(got).toEqual([0x100003n, 0x100004n, 0x100008n, 0x100010n, 0x100028n].map((p) => VA(p << 12n)));
    expect(a.toJSON()).toMatchObject({ alloc: 38, align: 2, nrFree: 60 });
  });

  it('T3 a failed allocation changes nothing; freeing 512 reuses the same block', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x240000, reserve: 2, free: 1534 });
    m.altmapAllocBlockBuf(a, M2);
    m.altmapAllocBlockBuf(a, M2);
    const before = a.toJSON();
    expect(m.altmapAllocBlockBuf(a, M2)).toBeNull();
    expect(a.toJSON()).toEqual(before);
    m.vmemAltmapFree(a, 512);
    expect(a.alloc).toBe(512);
    expect(a.nextPfn).toBe(0x240400);
    expect(m.altmapAllocBlockBuf(a, M2)).toBe(VA(0x240400000n));
  });

  it('T4 a size that is not a page multiple returns NULL and warns once', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x240000, reserve: 2, free: 1534 });
    const n = m.dmesg().length;
    expect(m.altmapAllocBlockBuf(a, 6000)).toBeNull();
    expect(newLines(m.dmesg(), n)).toEqual(['altmap_alloc_block_buf: allocations must be multiple of PAGE_SIZE (6000)']);
    expect(m.altmapAllocBlockBuf(a, 100)).toBeNull();
    expect(newLines(m.dmesg(), n)).toHaveLength(1);
    expect(a.toJSON()).toMatchObject({ alloc: 0, align: 0 });
  });

  it('T5 natural alignment is of the physical pfn: base 0x1001, 8 pfns -> 0x1008, align 7', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x1001, reserve: 0, free: 4096 });
    expect(m.altmapAllocBlockBuf(a, 8 * 4096)).toBe(VA(0x1008000n));
    expect(a.align).toBe(7);
  });

  it('T6 exact fit: free 1022 on a section-aligned base with reserve 2 holds one 2 MiB block', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x400000, reserve: 2, free: 1022 });
    expect(m.altmapAllocBlockBuf(a, M2)).toBe(VA(0x400200000n));
    expect(a.nrFree).toBe(0);
    expect(m.altmapAllocBlockBuf(a, M2)).toBeNull();
  });

  it('T7 nr_free saturates at 0 when alloc + align exceed free; the request fails without underflow', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x400000, reserve: 2, free: 100, alloc: 200, align: 5 });
    expect(a.nrFree).toBe(0);
    expect(m.altmapAllocBlockBuf(a, 4096)).toBeNull();
    expect(a.toJSON()).toMatchObject({ alloc: 200, align: 5, nrFree: 0 });
  });

  it('T8 devm_memremap_pages copies the altmap: changing the caller\'s struct later has no effect', async () => {
    const m = await t10Machine(backend);
    const dev = m.createDevice('pfn0.0');
    const mine = { basePfn: 0x400000, reserve: 2, free: 1022 };
    m.devmMemremapPages(dev, { start: 0x400000000n, end: 0x407ffffffn }, mine);
    mine.free = 0;
    const a = m.toVmemAltmap(m.pfnToPage(0x400000))!;
    expect(a.free).toBe(1022);
    expect(a.toJSON()).toMatchObject({ alloc: 512, align: 510, nrFree: 0 });
  });

  it('T9 LIFO frees are safe; a non-LIFO free makes the next block overlap a live one', async () => {
    const m = await t10Machine(backend);
    const b = () => {
      const a = m.createAltmap({ basePfn: 0x100000, reserve: 3, free: 100 });
      for (const n of [1, 2, 8, 24, 3]) m.altmapAllocBlockBuf(a, n * 4096);
      return a;
    };
    const lifo = b();
    m.vmemAltmapFree(lifo, 3);
    m.vmemAltmapFree(lifo, 24);
    expect(lifo.alloc).toBe(11);
    expect(lifo.nextPfn).toBe(0x100010);

    const bad = b();
    m.vmemAltmapFree(bad, 24);
    expect(bad.toJSON()).toMatchObject({ alloc: 14, nextPfn: 0x100013, nrFree: 84 });
    // unit 8, pad 5: 0x100018..0x10002f overlaps the live 3-block at 0x100028
    expect(m.altmapAllocBlockBuf(bad, 24 * 4096)).toBe(VA(0x100018000n));
    expect(bad.toJSON()).toMatchObject({ alloc: 38, align: 7, nrFree: 55 });
  });

  it('vmem_altmap_free has no underflow check: alloc wraps modulo 2^64', async () => {
    const m = await t10Machine(backend);
    const a = m.createAltmap({ basePfn: 0x100000, reserve: 0, free: 100 });
    m.vmemAltmapFree(a, 1);
    expect(BigInt(a.alloc)).toBe(2n ** 64n); // 2^64 - 1, as a number
    expect(a.nrFree).toBe(0);
    expect(m.altmapAllocBlockBuf(a, 4096)).toBeNull();
  });
});
