/** kernel.md §2.1–2.12 and §5: devm_memremap_pages, lookups, hotplug with an altmap, removal (v4.5 profiles). */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError } from '../../src/index.ts';
import { BACKENDS, newLines, P16_ALTMAP, P16_RES, t10Machine, VA, expectKernelError } from '../fixtures.ts';

const S = 32768; // PAGES_PER_SECTION


describe.each(BACKENDS)('devm_memremap_pages [%s]', (backend) => {
  it('T10 a pmem range is DISJOINT from System RAM and gets 128 lookup entries (sections 128..255)', async () => {
    const m = await t10Machine(backend);
    expect(m.regionIntersects(0x400000000n, 16n << 30n, 'System RAM')).toBe('REGION_DISJOINT');
    const dev = m.createDevice('pfn0.0');
    expect(m.devmMemremapPages(dev, P16_RES)).toBe(0xffff880400000000n);
    for (const sec of [128, 129, 200, 255]) expect(m.findDevPagemap(BigInt(sec) << 27n)?.dev).toBe('pfn0.0');
    expect(m.findDevPagemap(127n << 27n)).toBeNull();
    expect(m.stats().devices['pfn0.0'].sections).toBe(128);
    expect(m.presentSections()).toContainEqual([128, 255]);
  });

  it('T11 a range inside System RAM is INTERSECTS: __va returned, nothing allocated or registered', async () => {
    const m = await t10Machine(backend);
    const dev = m.createDevice('ram0');
    const before = m.snapshot();
    expect(m.regionIntersects(0x200000000n, 1n << 30n, 'System RAM')).toBe('REGION_INTERSECTS');
    expect(m.devmMemremapPages(dev, { start: 0x200000000n, end: 0x23fffffffn }, P16_ALTMAP)).toBe(0xffff880200000000n);
    expect(m.snapshot()).toEqual(before);
    expect(m.findDevPagemap(0x200000000n)).toBeNull();
    m.unbind(dev);
    expect(m.snapshot()).toEqual({ ...before, devices: before.devices.filter((d) => d !== 'ram0') });
  });

  it('T12 a range straddling RAM and pmem is MIXED: WARN once, -ENXIO every time, nothing changes', async () => {
    const m = await t10Machine(backend);
    const dev = m.createDevice('pfn0.0');
    const before = m.snapshot();
    const n = m.dmesg().length;
    const res = { start: 0x3f8000000n, end: 0x407ffffffn };
    await expectKernelError(() => m.devmMemremapPages(dev, res), 'ENXIO');
    const lines = newLines(m.dmesg(), n);
    expect(lines).toContain('devm_memremap_pages attempted on mixed region [mem 0x3f8000000-0x407ffffff flags 0x200]');
    expect(lines[0]).toBe('------------[ cut here ]------------');
    const n2 = m.dmesg().length;
    await expectKernelError(() => m.devmMemremapPages(dev, res), 'ENXIO');
    expect(m.dmesg().length).toBe(n2);
    expect(m.snapshot()).toEqual(before);
  });

  it('T13 (v4.5) the S7 layout: the aligned range shares a section with RAM -> MIXED, -ENXIO', async () => {
    const m = await t10Machine(backend, {
      e820: [
        { start: 0x100000n, size: 0x37c000000n - 0x100000n, type: 'System RAM' },
        { start: 0x37c000000n, size: 0x838000000n - 0x37c000000n, type: 'Persistent Memory' },
      ],
    });
    const dev = m.createDevice('pfn0.0');
    const before = m.snapshot();
    await expectKernelError(() => m.devmMemremapPages(dev, { start: 0x37c000000n, end: 0x837ffffffn }), 'ENXIO');
    expect(m.dmesg().join('\n')).toContain('devm_memremap_pages attempted on mixed region [mem 0x37c000000-0x837ffffff flags 0x200]');
    expect(m.snapshot()).toEqual(before);
  });

  it('T13 (v4.5-rc1) the unaligned check says DISJOINT: with an altmap "invalid altmap" -EINVAL; without, RAM-zone pages stay in a device section', async () => {
    const e820 = [
      { start: 0x100000n, size: 0x37c000000n - 0x100000n, type: 'System RAM' as const },
      { start: 0x37c000000n, size: 0x838000000n - 0x37c000000n, type: 'Persistent Memory' as const },
    ];
    const m = await t10Machine(backend, { kernel: 'v4.5-rc1', e820 });
    const a = m.createDevice('pfn0.0');
    const res = { start: 0x37c000000n, end: 0x837ffffffn };
    await expectKernelError(() => m.devmMemremapPages(a, res, { basePfn: 0x37c000, reserve: 2, free: 100000 }), 'EINVAL');
    expect(m.dmesg().join('\n')).toContain('memory add fail, invalid altmap');

    const m2 = await t10Machine(backend, { kernel: 'v4.5-rc1', e820 });
    const b = m2.createDevice('pfn0.0');
    expect(m2.devmMemremapPages(b, res)).toBe(0xffff88037c000000n);
    // section 111 was already present as RAM (-EEXIST ignored): its pmem pfns are not ZONE_DEVICE
    expect(m2.page(0x37c000)!.zone).not.toBe('Device');
    expect(m2.page(0x380000)!.zone).toBe('Device');
  });

  it('T14 (v4.5) a collision returns -EBUSY and the unwind deletes the other mapping\'s lookup entry', async () => {
    const m = await t10Machine(backend);
    const a = m.createDevice('pfn0.0');
    const b = m.createDevice('pfn0.1');
    m.devmMemremapPages(a, { start: 0x400000000n, end: 0x403ffffffn });
    expect(m.findDevPagemap(0x400000000n)?.dev).toBe('pfn0.0');
    const before = m.snapshot();
    const n = m.dmesg().length;
    await expectKernelError(() => m.devmMemremapPages(b, { start: 0x404000000n, end: 0x407ffffffn }), 'EBUSY');
    expect(newLines(m.dmesg(), n)).toEqual(['altmap_test pfn0.1: devm_memremap_pages: [mem 0x404000000-0x407ffffff flags 0x200] collides with mapping for pfn0.0']);
    expect(m.findDevPagemap(0x400000000n)).toBeNull();
    // exactly that leftover: A's section stays hot-added, its lookup entry is gone
    expect(m.snapshot()).toEqual({ ...before, lookup: [] });
  });

  it('T14 then T33 (v4.5): after the unwind deleted dev3\'s keys, a namespace shares its section and dev3\'s teardown frees into pfn0.0\'s altmap (differential seed 350495080)', async () => {
    const m = await createMachine({
      backend,
      kernel: 'v4.5',
      e820: [
        { start: 0x100000n, size: 1n << 30n, type: 'System RAM' },
        { start: 0x48000000n, size: 1n << 30n, type: 'Persistent Memory' },
      ],
    });
    const dev3 = m.createDevice('dev3');
    m.devmMemremapPages(dev3, { start: 0x48000000n, end: 0x481fffffn }, { basePfn: 0x48000, reserve: 0, free: 1022 });
    await expectKernelError(() => m.createNamespace({ map: 'dev', align: '4K' }), 'EBUSY');
    expect(m.findDevPagemap(0x48000000n)).toBeNull();
    // the second create finds no collision: section 0x9 is dev3's (-EEXIST ignored), the other 7 are hot-added
    const ns = m.createNamespace({ map: 'dev', align: '4K' });
    expect(ns.altmap).toMatchObject({ basePfn: 0x48000, reserve: 2, free: 4096, alloc: 3584 });
    const n = m.dmesg().length;
    m.unbind(dev3);
    // free_pagetable's to_vmem_altmap finds pfn0.0 for dev3's block: pfn0.0 loses 512, dev3 keeps its 512
    expect(m.toVmemAltmap(m.pfnToPage(0x48000 + 0x8000))!.toJSON().alloc).toBe(3072);
    expect(newLines(m.dmesg(), n)).toContain('altmap_test dev3: devm_memremap_pages_release: failed to free all reserved pages');
    const r = m.checkInvariants(); // the kernel's accounting is corrupt, not the model's: nothing else is flagged
    expect(r.problems).toEqual([]);
  });

  it('T15 an altmap without CONFIG_SPARSEMEM_VMEMMAP: dev_err and -ENXIO before any devres allocation', async () => {
    const m = await t10Machine(backend, { sparsememVmemmap: false });
    const dev = m.createDevice('pfn0.0');
    const before = m.snapshot();
    await expectKernelError(() => m.devmMemremapPages(dev, P16_RES, P16_ALTMAP), 'ENXIO');
    expect(m.dmesg().at(-1)).toContain('altmap_test pfn0.0: devm_memremap_pages: altmap requires CONFIG_SPARSEMEM_VMEMMAP=y');
    expect(m.snapshot()).toEqual(before);
    expect(m.devmMemremapPages(dev, P16_RES)).toBe(0xffff880400000000n);
  });

  it('T16 CONFIG_ZONE_DEVICE=n: WARN_ON_ONCE and -ENXIO for any call', async () => {
    const m = await t10Machine(backend, { zoneDevice: false });
    const dev = m.createDevice('pfn0.0');
    const before = m.snapshot();
    await expectKernelError(() => m.devmMemremapPages(dev, P16_RES), 'ENXIO');
    expect(m.dmesg().join('\n')).toContain('WARNING: CPU: 0 PID: 1 at include/linux/memremap.h');
    const n = m.dmesg().length;
    await expectKernelError(() => m.devmMemremapPages(dev, P16_RES, P16_ALTMAP), 'ENXIO');
    expect(m.dmesg().length).toBe(n);
    expect(m.snapshot()).toEqual(before);
  });

  it('T19 lookup keys are sections: 0x40FFFFFFF finds section 129\'s pgmap, 0x800000000 finds none', async () => {
    const m = await t10Machine(backend);
    m.devmMemremapPages(m.createDevice('pfn0.0'), P16_RES);
    expect(m.findDevPagemap(0x40fffffffn)).toMatchObject({ dev: 'pfn0.0', res: { start: 0x400000000n, end: 0x7ffffffffn } });
    expect(m.findDevPagemap(0x800000000n)).toBeNull();
  });

  it('T20 to_vmem_altmap works from struct page addresses, including the backing pages of section 129\'s memmap', async () => {
    const m = await t10Machine(backend);
    m.devmMemremapPages(m.createDevice('pfn0.0'), P16_RES, P16_ALTMAP);
    const a = m.toVmemAltmap(0xffffea0010300000n)!;
    expect(m.pageToPfn(0xffffea0010300000n)).toBe(0x40c000);
    expect(a.toJSON()).toMatchObject({ basePfn: 0x400000, reserve: 2, free: 66046 });
    // section 129's block is backed at pfn 0x400400, in section 128: free_pagetable must find the altmap there too
    expect(m.walk(m.pfnToPage(0x408000))!.phys >> 12n).toBe(0x400400n);
    expect(m.toVmemAltmap(m.pfnToPage(0x400400))!.basePfn).toBe(0x400000);
    const blockSection = (k: number) => Number((m.walk(m.pfnToPage(0x400000 + k * S))!.phys >> 12n) / BigInt(S));
    expect([0, 62, 63, 126, 127].map(blockSection)).toEqual([128, 128, 129, 129, 130]);
  });

  it('T21 P16 full run: block k at 0x400200 + 0x200k, alloc 65536 align 510 nr_free 0, pgmap set from 0x410200', async () => {
    const m = await t10Machine(backend);
    const dramBefore = m.stats().dram;
    expect(m.devmMemremapPages(m.createDevice('pfn0.0'), P16_RES, P16_ALTMAP)).toBe(0xffff880400000000n);
    for (const k of [0, 1, 64, 127]) {
      const w = m.walk(m.pfnToPage(0x400000 + k * S))!;
      expect(w.pageSize).toBe(2 * 1024 * 1024);
      expect(w.phys >> 12n).toBe(BigInt(0x400200 + 0x200 * k));
      expect(w.levels.map((l) => l.level)).toEqual(['pgd', 'pud', 'pmd']);
      expect(w.levels[2].entry).toBe(((BigInt(0x400200 + 0x200 * k) << 12n) | 0x1e3n | (1n << 63n)));
    }
    const a = m.toVmemAltmap(m.pfnToPage(0x400000))!;
    expect(a.toJSON()).toMatchObject({ alloc: 65536, align: 510, nrFree: 0 });
    expect(m.page(0x4101ff)!.pgmap).toBeNull();
    const pgmap = m.page(0x410200)!.pgmap;
    expect(pgmap).not.toBeNull();
    expect(m.page(0x7fffff)!.pgmap).toBe(pgmap);
    expect(m.page(0x410200)!.zone).toBe('Device');
    // no DRAM went to the memmap
    expect(m.stats().dram.memmapPages).toBe(dramBefore.memmapPages);
  });

  it('T22 an altmap larger than the range: "invalid altmap" once, -EINVAL, and the direct map stays behind', async () => {
    const m = await t10Machine(backend);
    const dev = m.createDevice('pfn0.0');
    const before = m.snapshot();
    const n = m.dmesg().length;
    const res = { start: 0x400000000n, end: 0x407ffffffn };
    expect(m.walk(VA(0x400000000n))).toBeNull();
    await expectKernelError(() => m.devmMemremapPages(dev, res, { basePfn: 0x400000, reserve: 2, free: 32767 }), 'EINVAL');
    const lines = newLines(m.dmesg(), n);
    expect(lines).toContain('memory add fail, invalid altmap');
    expect(lines.some((l) => l.startsWith('WARNING: CPU: 0 PID: 1 at arch/x86/mm/init_64.c') && l.includes('arch_add_memory'))).toBe(true);
    expect(m.walk(VA(0x400000000n))!.pageSize).toBe(2 * 1024 * 1024);
    const after = m.snapshot();
    expect({ ...after, pageTables: before.pageTables, dram: before.dram }).toEqual(before);
    const n2 = m.dmesg().length;
    await expectKernelError(() => m.devmMemremapPages(dev, res, { basePfn: 0x400000, reserve: 2, free: 32767 }), 'EINVAL');
    expect(m.dmesg().length).toBe(n2);
  });

  it('T23 __add_pages resets alloc but not align: alloc 100 align 7 -> first block still 0x400200, align 510', async () => {
    const m = await t10Machine(backend);
    m.devmMemremapPages(m.createDevice('pfn0.0'), P16_RES, { ...P16_ALTMAP, alloc: 100, align: 7 });
    expect(m.walk(m.pfnToPage(0x400000))!.phys >> 12n).toBe(0x400200n);
    expect(m.toVmemAltmap(m.pfnToPage(0x400000))!.toJSON()).toMatchObject({ alloc: 65536, align: 510, nrFree: 0 });
  });

  it('T28 no PSE: with an altmap "no cpu support" once and -ENOMEM; without, 4 KiB vmemmap pages from DRAM', async () => {
    const m = await t10Machine(backend, { pse: false });
    const dev = m.createDevice('pfn0.0');
    const res = { start: 0x400000000n, end: 0x407ffffffn };
    await expectKernelError(() => m.devmMemremapPages(dev, res, { basePfn: 0x400000, reserve: 2, free: 1022 }), 'ENOMEM');
    expect(m.dmesg().filter((l) => l.endsWith('vmemmap_populate: no cpu support for altmap allocations'))).toHaveLength(1);
    const m2 = await t10Machine(backend, { pse: false });
    const before = m2.stats().dram;
    m2.devmMemremapPages(m2.createDevice('pfn0.0'), res);
    const w = m2.walk(m2.pfnToPage(0x400000))!;
    expect(w.pageSize).toBe(4096);
    expect(w.levels.map((l) => l.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    const after = m2.stats().dram;
    expect(after.memmapPages - before.memmapPages).toBe(512);
    expect(after.pageTablePages - before.pageTablePages).toBe(1);
  });

  it('T30 P16 needs no new page-table pages: the boot vmemmap already covers its 1 GiB slot', async () => {
    const m = await t10Machine(backend);
    const before = m.stats().dram;
    m.devmMemremapPages(m.createDevice('pfn0.0'), P16_RES, P16_ALTMAP);
    const after = m.stats().dram;
    expect(after.pageTablePages).toBe(before.pageTablePages);
    expect(after.memmapPages).toBe(before.memmapPages);
  });

  it('T31 memmap_init_zone: as shipped all 32768 pages of the first section are initialised; as intended the 2 reserve pfns are not', async () => {
    const shipped = await t10Machine(backend);
    shipped.devmMemremapPages(shipped.createDevice('pfn0.0'), P16_RES, P16_ALTMAP);
    expect(shipped.page(0x400000)!.initialised).toBe(true);
    expect(shipped.page(0x400001)!.initialised).toBe(true);
    const intended = await t10Machine(backend, { memmapInit: 'as-intended' });
    intended.devmMemremapPages(intended.createDevice('pfn0.0'), P16_RES, P16_ALTMAP);
    expect(intended.page(0x400000)!.initialised).toBe(false);
    expect(intended.page(0x400001)!.initialised).toBe(false);
    expect(intended.page(0x400002)).toMatchObject({ initialised: true, zone: 'Device', reserved: true, refcount: 1 });
    expect(intended.page(0x407fff)!.initialised).toBe(true);
    expect(intended.page(0x408000)!.initialised).toBe(true);
  });

  it('T32 (v4.5) teardown of P16: every block returns to the altmap (alloc 0, align 510), no WARN, machine as before', async () => {
    const m = await t10Machine(backend);
    const before = m.snapshot();
    const dev = m.createDevice('pfn0.0');
    m.devmMemremapPages(dev, P16_RES, P16_ALTMAP);
    const a = m.toVmemAltmap(m.pfnToPage(0x400000))!;
    m.unbind(dev);
    expect(m.isLive(a)).toBe(false);
    expect(a.toJSON()).toMatchObject({ alloc: 0, align: 510 });
    expect(m.dmesg().join('\n')).not.toContain('failed to free all reserved pages');
    expect(m.snapshot()).toEqual(before);
    expect(m.walk(VA(0x400000000n))).toBeNull();
    expect(m.walk(m.pfnToPage(0x400000))).toBeNull();
  });

  it('T33 (v4.5-rc1) teardown of P16 deletes the lookup first: pmem blocks reach the page allocator, a kernel BUG, a poisoned machine', async () => {
    const m = await t10Machine(backend, { kernel: 'v4.5-rc1' });
    const dev = m.createDevice('pfn0.0');
    m.devmMemremapPages(dev, P16_RES, P16_ALTMAP);
    m.unbind(dev);
    const log = m.dmesg().join('\n');
    expect(log).toContain('BUG: unable to handle kernel NULL pointer dereference at (null)');
    expect(log).toContain('get_pfnblock_flags_mask');
    expect(log).toContain('free_pagetable');
    expect(m.poisoned).toMatch(/BUG/);
    await expectKernelError(() => m.createDevice('x'), 'EFAULT');
    // inspection still works, like reading a crash dump
    expect(m.stats().dram.totalPages).toBeGreaterThan(0);
  });

  it('T35-like: a leaked block makes the release WARN fire once per boot', async () => {
    const m = await t10Machine(backend);
    const res = { start: 0x400000000n, end: 0x407ffffffn };
    const dev = m.createDevice('pfn0.0');
    m.devmMemremapPages(dev, res, { basePfn: 0x400000, reserve: 2, free: 1022 });
    // an extra allocation the teardown knows nothing about
    const a = m.toVmemAltmap(m.pfnToPage(0x400000))!;
    m.vmemAltmapFree(a, 1);
    m.unbind(dev);
    expect(m.dmesg().filter((l) => l.endsWith('altmap_test pfn0.0: devm_memremap_pages_release: failed to free all reserved pages'))).toHaveLength(1);
  });

  it('T36 release size mismatch: [0x404000000, +128 MiB) hot-adds sections 128 and 129, teardown removes only 128', async () => {
    const m = await t10Machine(backend);
    const dev = m.createDevice('pfn0.0');
    m.devmMemremapPages(dev, { start: 0x404000000n, end: 0x40bffffffn });
    expect(m.presentSections()).toContainEqual([128, 129]);
    m.unbind(dev);
    const present = m.presentSections();
    expect(present).toContainEqual([129, 129]);
    expect(present.some(([a, b]) => a <= 128 && 128 <= b)).toBe(false);
    // the stale lookup entry of section 129 still points at the freed page_map
    expect(m.findDevPagemap(0x408000000n)).toMatchObject({ dev: 'pfn0.0', freed: true });
    expect(m.findDevPagemap(0x400000000n)).toBeNull();
  });
});
