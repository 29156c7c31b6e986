/** namespaces.md per era and kernel.md "M": the v4.18 and v6 profiles next to v4.5, on every backend. */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, type KernelName } from '../../src/index.ts';
import { BACKENDS, kernelErrorOf, newLines, NAMESPACES_MD_TABLE } from '../fixtures.ts';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

const TABLE = NAMESPACES_MD_TABLE;


describe.each(BACKENDS)('kernel eras [%s]', (backend) => {
  for (const [raw, map, align, sizes] of TABLE) {
    for (const kernel of ['v4.5', 'v4.18', 'v6'] as const) {
      it(`namespaces.md worked table: ${raw} map=${map} align ${align} on ${kernel} -> ${sizes[kernel]}`, async () => {
        const m = await createMachine({ backend, kernel });
        const before = m.snapshot();
        if (sizes[kernel] === 'ENOMEM') {
          expect(kernelErrorOf(() => m.createNamespace({ size: raw, map, align })).code).toBe('ENOMEM');
          return;
        }
        const ns = m.createNamespace({ size: raw, map, align });
        expect(ns.size).toBe(sizes[kernel]);
        m.destroyNamespace(ns.dev as string);
        expect(m.snapshot()).toEqual(before);
      });
    }
  }

  const small = (kernel: KernelName) =>
    createMachine({
      backend,
      kernel,
      e820: [
        { start: 0x100000n, size: 4n * GiB, type: 'System RAM' },
        { start: 8n * GiB, size: 512n * MiB, type: 'Persistent Memory' },
      ],
    });

  it('v6: ten 48 MiB fsdax map=dev namespaces fit one after another in a 512 MiB region (2 MiB sub-sections)', async () => {
    const m = await small('v6');
    const before = m.snapshot();
    const sizes = Array.from({ length: 10 }, () => m.createNamespace({ size: '48M' }).size);
    expect(sizes).toEqual(Array(10).fill(48234496));
    // a namespace inside a section has a memmap under a whole section's: base pages from DRAM
    const w = m.walk(m.pfnToPage(Number((8n * GiB + 48n * MiB) >> 12n) + 1000))!;
    expect(w.pageSize).toBe(4096);
    expect(w.phys).toBeLessThan(4n * GiB);
    for (const ns of m.listNamespaces()) m.destroyNamespace(ns.dev as string);
    expect(m.snapshot()).toEqual(before);
  });

  it('v4.18: the second pfn namespace in one 128 MiB section fails: "Conflicting mapping in same section", -ENOMEM', async () => {
    const m = await small('v4.18');
    expect(m.createNamespace({ size: '48M' }).size).toBe(46137344);
    const before = m.snapshot();
    const n = m.dmesg().length;
    expect(kernelErrorOf(() => m.createNamespace({ size: '48M' })).code).toBe('ENOMEM');
    const lines = newLines(m.dmesg(), n);
    expect(lines).toContain('nd_pmem pfn0.1: Conflicting mapping in same section');
    expect(lines).toContain('nd_pmem: probe of pfn0.1 failed with error -12');
    expect(m.snapshot()).toEqual(before);
  });

  it('v4.18 trims a namespace that shares its first section with System RAM: start_pad 64 MiB, "section collision", memremap from the trimmed start', async () => {
    const m = await createMachine({
      backend,
      kernel: 'v4.18',
      e820: [
        { start: 0x100000n, size: 0x37c000000n - 0x100000n, type: 'System RAM' },
        { start: 0x37c000000n, size: 0x838000000n - 0x37c000000n, type: 'Persistent Memory' },
      ],
    });
    const n = m.dmesg().length;
    const ns = m.createNamespace({ size: '4G' });
    const info = m.namespaceInfo(ns.dev as string);
    expect(info.startPad).toBe(64n * MiB);
    expect(ns.size).toBe(Number(4n * GiB - info.startPad - info.offset));
    expect(newLines(m.dmesg(), n)).toContain('nd_pfn pfn0.0: namespace0.0 section collision, truncate 67108864 bytes');
    // the mapping starts at the section boundary, so it shares no section with RAM
    expect(m.findDevPagemap(0x37c000000n)).toBeNull();
    expect(m.findDevPagemap(0x380000000n)?.dev).toBe('pfn0.0');
    m.checkInvariants();
  });

  it('v6 debug log: altmap_alloc_block_buf and the vmemmap PMD run exactly as a 6.x kernel prints them', async () => {
    const m = await createMachine({
      backend,
      kernel: 'v6',
      debug: true,
      e820: [
        { start: 0x100000n, size: 4n * GiB - 0x100000n, type: 'System RAM' },
        { start: 4n * GiB, size: GiB, type: 'Persistent Memory' },
      ],
    });
    const n = m.dmesg().length;
    const ns = m.createNamespace({ size: '1G' });
    const lines = newLines(m.dmesg(), n);
    expect(lines[0]).toBe('altmap_alloc_block_buf: pfn: 0x100200 alloc: 512 align: 510 nr: 0x200');
    expect(lines).toContain(' [ffffea0004000000-ffffea0004ffffff] PMD -> [ffff888100200000-ffff8881011fffff] on node 0');
    // memmap_init_zone_device counts the data pages after the altmap's offset (18 MiB)
    const data = (Number(GiB) - 18 * 2 ** 20) / 4096;
    expect(lines.some((l) => l.startsWith(`memmap_init_zone_device initialised ${data} pages in `))).toBe(true);
    expect(ns.size).toBe(data * 4096);
    // the reserve pfns are never initialised; the pool's own pages are
    expect(m.page(0x100000)!.initialised).toBe(false);
    expect(m.page(0x100002)).toMatchObject({ initialised: true, zone: 'Device', pgmap: null });
    expect(m.page(0x100000 + 4608)!.pgmap).not.toBeNull();
  });

  it('v6 map=mem: memmap_init_zone_device counts the whole range, info area included', async () => {
    const m = await createMachine({ backend, kernel: 'v6', debug: true });
    const n = m.dmesg().length;
    m.createNamespace({ size: '16G', map: 'mem' });
    expect(newLines(m.dmesg(), n).some((l) => l.startsWith('memmap_init_zone_device initialised 4194304 pages in 40ms'))).toBe(true);
  });

  it('v6 refuses a range inside System RAM (-ENXIO) where v4.5 returned __va', async () => {
    const m = await createMachine({ backend, kernel: 'v6' });
    const dev = m.createDevice('ram0');
    expect(kernelErrorOf(() => m.devmMemremapPages(dev, { start: 0x200000000n, end: 0x23fffffffn })).code).toBe('ENXIO');
    expect(m.dmesg().join('\n')).toContain('pagemap_range attempted on ram region [mem 0x200000000-0x23fffffff flags 0x200]');
  });

  it('v6 direct map at 0xffff888000000000; 5-level paging puts it at 0xff11000000000000 and walks show the P4D', async () => {
    const m4 = await createMachine({ backend, kernel: 'v6' });
    const ns = m4.createNamespace({ size: '16G' });
    expect(ns.size).toBe(16909336576);
    expect(m4.walk(0xffff888000000000n + 0x1040000000n)!.pageSize).toBe(2 ** 30);
    const m5 = await createMachine({ backend, kernel: 'v6', paging: 5 });
    m5.createNamespace({ size: '16G' });
    expect(m5.walk(0xff11000000000000n + 0x1040000000n)!.levels.map((l) => l.level)).toEqual(['pgd', 'p4d', 'pud']);
    const w = m5.walk(m5.pfnToPage(0x1040000))!;
    expect(m5.pfnToPage(0x1040000)).toBe(0xffd4000000000000n + 64n * 0x1040000n);
    expect(w.levels.map((l) => l.level)).toEqual(['pgd', 'p4d', 'pud', 'pmd']);
    expect(w.phys >> 12n).toBe(0x1040200n);
    expect(() => m5.walk(0xfe00000000000000n)).toThrow(/canonical/);
    await expect(createMachine({ backend, kernel: 'v4.5', paging: 5 })).rejects.toThrow(/v6/);
  });

  it('v6 release WARN has no device prefix: "failed to free all reserved pages"', async () => {
    const m = await small('v6');
    const dev = m.createDevice('pfn9.9');
    m.devmMemremapPages(dev, { start: 8n * GiB, end: 8n * GiB + 128n * MiB - 1n }, { basePfn: Number((8n * GiB) >> 12n), reserve: 2, free: 1022 });
    m.vmemAltmapFree(m.toVmemAltmap(m.pfnToPage(Number((8n * GiB) >> 12n)))!, 1);
    m.unbind(dev);
    expect(m.dmesg().filter((l) => / failed to free all reserved pages$/.test(l))).toHaveLength(1);
    expect(m.dmesg().join('\n')).not.toContain('devm_memremap_pages_release');
  });
});
