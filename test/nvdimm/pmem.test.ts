/** kernel.md §2.14 and namespaces.md: namespaces through the pmem driver on the v4.5 profiles (T24, T25, T34, T37–T39). */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError } from '../../src/index.ts';
import { decodeInfoBlock, ndPfnValidate } from '../../src/nvdimm/infoblock.ts';
import { BACKENDS, newLines, t10Machine, expectKernelError } from '../fixtures.ts';

const S = 32768;
const GiB = 1n << 30n;


describe.each(BACKENDS)('pmem namespaces [%s]', (backend) => {
  it('T37 P16 map=dev: offset 0x10200000, npfns 4128256, altmap {0x400000, 2, 66046}, data pfn 0x410200; re-probe says "bad offset"', async () => {
    const m = await t10Machine(backend);
    const ns = m.createNamespace({ size: '16G', mode: 'fsdax', map: 'dev' });
    expect(ns).toMatchObject({ dev: 'namespace0.0', mode: 'fsdax', map: 'dev', size: 16909336576, sector_size: 512, align: 2097152, blockdev: 'pmem0' });
    expect(ns.altmap).toMatchObject({ basePfn: 0x400000, reserve: 2, free: 66046, alloc: 65536, align: 510, nrFree: 0 });
    expect((ns.size as number) / 512).toBe(33026048);
    // the info block is on the media at namespace offset 4 KiB
    const sb = decodeInfoBlock(m.readPhys(0x400001000n, 4096))!;
    expect(sb).not.toBeNull();
    expect(sb.dataoff).toBe(0x10200000n);
    expect(BigInt(sb.npfns)).toBe(4128256n);
    expect(() => ndPfnValidate('v4.5', sb, 16n * GiB)).toThrow(/bad offset: 0x10200000 dax disabled/);
    // the first data page's struct page points at the pgmap
    expect(m.page(0x410200)!.pgmap).not.toBeNull();
    expect(m.page(0x410200 - 1)!.pgmap).toBeNull();
  });

  it('T38 P16 map=mem: offset 2 MiB, npfns 4193792, no altmap, 256 MiB of memmap from DRAM', async () => {
    const m = await t10Machine(backend);
    const before = m.stats().dram;
    const ns = m.createNamespace({ size: '16G', map: 'mem' });
    expect(ns).toMatchObject({ map: 'mem', size: 17177772032, altmap: null });
    expect((ns.size as number) / 512).toBe(33550336);
    const after = m.stats().dram;
    expect(after.memmapPages - before.memmapPages).toBe(65536);
    expect(m.stats().devices['pfn0.0']).toMatchObject({ memmapPages: 65536, dramMemmapPages: 65536, altmapPages: 0 });
    const sb = decodeInfoBlock(m.readPhys(0x400001000n, 4096))!;
    expect(ndPfnValidate('v4.5', sb, 16n * GiB).align).toBe(2n << 20n);
    // the memmap is in DRAM: the vmemmap of the first device page points below the pmem
    expect(m.walk(m.pfnToPage(0x400000))!.phys).toBeLessThan(0x400000000n);
  });

  it('T34 a 128 MiB map=dev namespace: offset 4 MiB, free 1022, npfns 31744, an exact fit that re-probes fine', async () => {
    const m = await t10Machine(backend);
    const ns = m.createNamespace({ size: '128M' });
    expect(ns.size).toBe(31744 * 4096);
    expect(ns.altmap).toMatchObject({ free: 1022, alloc: 512, align: 510, nrFree: 0 });
    const sb = decodeInfoBlock(m.readPhys(0x400001000n, 4096))!;
    expect(ndPfnValidate('v4.5', sb, 128n << 20n).align).toBe(4n << 20n);
  });

  it('T25 align 4K: the pool is 510 pfns short, section 255 fails with -ENOMEM, no fallback, 127 sections stay hot-added', async () => {
    const m = await t10Machine(backend, { debug: true });
    const before = m.snapshot();
    const n = m.dmesg().length;
    const err = await expectKernelError(() => m.createNamespace({ size: '16G', align: '4K' }), 'ENOMEM');
    expect(err.message).toMatch(/arch_add_memory/);
    const lines = newLines(m.dmesg(), n);
    expect(lines.join('\n')).not.toContain('falling back');
    // the failed attempt, as C/F print it
    expect(lines).toContain('altmap_alloc_block_buf: pfn: 0xffffffffffffffff alloc: 65024 align: 510 nr: 0x200');
    expect(lines).toContain('nd_pmem: probe of pfn0.0 failed with error -12');
    expect(m.presentSections()).toContainEqual([128, 254]);
    expect(m.listNamespaces()).toEqual([]);
    // leftovers: the sections, their direct map; the lookup and devices are gone
    const after = m.snapshot();
    expect(after.lookup).toEqual([]);
    expect(after.devices).toEqual(before.devices);
    expect(m.walk(0xffff880400000000n)).not.toBeNull();
  });

  it('T24 a section-misaligned namespace: v4.5-rc1 "invalid altmap" -EINVAL; v4.5 rounds base_pfn down (first block 0x404200)', async () => {
    const e820 = [
      { start: 0x100000n, size: 0x400000000n - 0x100000n, type: 'System RAM' as const },
      { start: 0x404000000n, size: GiB, type: 'Persistent Memory' as const },
    ];
    const rc1 = await createMachine({ backend, e820, kernel: 'v4.5-rc1' });
    await expectKernelError(() => rc1.createNamespace({ size: '1G' }), 'EINVAL');
    expect(rc1.dmesg().join('\n')).toContain('memory add fail, invalid altmap');

    const f = await createMachine({ backend, e820, debug: true });
    // with end alignment the hot-add spans 9 sections: 5118 pfns needed, 4606 in the pool (kernel.md §2.14)
    await expectKernelError(() => f.createNamespace({ size: '1G' }), 'ENOMEM');
    const log = f.dmesg().join('\n');
    expect(log).toContain('altmap_alloc_block_buf: pfn: 0x404200 alloc: 512 align: 510 nr: 0x200');
    expect(f.presentSections()).toContainEqual([128, 135]);
  });

  it('T39 P1T: offset 0x400200000, free 4194814, 8192 blocks from 0x10000200 to 0x10400000, 1082329661440 bytes usable; map=mem costs 16 GiB of DRAM', async () => {
    const e820 = [
      { start: 0x100000n, size: 64n * GiB, type: 'System RAM' as const },
      { start: 0x10000000000n, size: 1024n * GiB, type: 'Persistent Memory' as const },
    ];
    const m = await createMachine({ backend, e820 });
    const ns = m.createNamespace({});
    expect(ns.size).toBe(1082329661440);
    expect(ns.altmap).toMatchObject({ basePfn: 0x10000000, reserve: 2, free: 4194814, alloc: 4194304, align: 510, nrFree: 0 });
    expect(m.walk(m.pfnToPage(0x10000000))!.phys >> 12n).toBe(0x10000200n);
    expect(m.walk(m.pfnToPage(0x10000000 + 8191 * S))!.phys >> 12n).toBe(0x10400000n);
    const sb = decodeInfoBlock(m.readPhys(0x10000001000n, 4096))!;
    expect(sb.dataoff).toBe(0x400200000n);
    expect(BigInt(sb.npfns)).toBe(264240640n);

    const mem = await createMachine({ backend, e820 });
    const before = mem.stats().dram.memmapPages;
    const ns2 = mem.createNamespace({ map: 'mem' });
    expect(mem.stats().dram.memmapPages - before).toBe(4194304);
    expect(BigInt(decodeInfoBlock(mem.readPhys(0x10000001000n, 4096))!.npfns)).toBe(268434944n);
    expect(ns2.size).toBe(268434944 * 4096);
  });

  it('the default scenario: two 256 GiB namespaces, map=dev and map=mem, then every counter back where it started', async () => {
    const m = await createMachine({ backend });
    const before = m.snapshot();
    const dev = m.createNamespace({ size: '256G', map: 'dev' });
    const mem = m.createNamespace({ size: '256G', map: 'mem' });
    expect(dev.size).toBe(256 * 2 ** 30 - (256 * 2 ** 30) / 64 - 2 * 2 ** 20);
    expect(mem.size).toBe(256 * 2 ** 30 - 2 * 2 ** 20);
    expect(m.stats().devices['pfn0.1'].dramMemmapPages).toBe(1048576);
    m.destroyNamespace('namespace0.0');
    m.destroyNamespace('namespace0.1');
    expect(m.snapshot()).toEqual(before);
  });

  it('rejects devdax on v4.5 and bad namespace options without changing anything (-a 8K is ENXIO: fixture refuse-align-8K)', async () => {
    const m = await t10Machine(backend);
    const before = m.snapshot();
    await expectKernelError(() => m.createNamespace({ mode: 'devdax' as 'fsdax' }), 'EINVAL');
    await expectKernelError(() => m.createNamespace({ size: '1025M', align: '1G' }), 'EINVAL');
    await expectKernelError(() => m.createNamespace({ size: '17G' }), 'ENOSPC');
    await expectKernelError(() => m.createNamespace({ size: '16G', align: '8K' }), 'ENXIO');
    await expectKernelError(() => m.createNamespace({ size: '-1G' }), 'EINVAL');
    await expectKernelError(() => m.destroyNamespace('namespace9.9'), 'ENODEV');
    expect(m.snapshot()).toEqual(before);
  });
});
