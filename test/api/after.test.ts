/** kernel.md §4.2, T43, T44, T46: what came after the altmap, on the v6 profile, and the capacity planner. */
import { describe, expect, it } from 'vitest';
import { createMachine, planCapacity, planConfigs } from '../../src/index.ts';
import { vmemmapCanOptimize } from '../../src/kernel/vmemmap.ts';
import { memmapOnMemoryPages, mhpSupportsMemmapOnMemory } from '../../src/dax/kmem.ts';
import { BACKENDS, newLines } from '../fixtures.ts';

const GiB = 1n << 30n;
const PMEM_PFN = 0x1040000; // the default machine's Persistent Memory starts at 65 GiB

describe('vmemmap_can_optimize and memmap_on_memory arithmetic', () => {
  it('T43 shift 9 without an altmap optimises; with an altmap it does not; shift 1 (no vmemmap page to save) does not', () => {
    expect(vmemmapCanOptimize(false, 9)).toBe(true);
    expect(vmemmapCanOptimize(true, 9)).toBe(false);
    expect(vmemmapCanOptimize(false, 1)).toBe(false);
    expect(vmemmapCanOptimize(false, 18)).toBe(true);
  });

  it('T46 a 128 MiB block needs 512 memmap pages (one pageblock, whole PMDs); a 2 GiB block 8192', () => {
    expect(memmapOnMemoryPages(128n << 20n, true)).toBe(512);
    expect(mhpSupportsMemmapOnMemory(128n << 20n, true)).toBe(true);
    expect(memmapOnMemoryPages(2n * GiB, true)).toBe(8192);
    expect(mhpSupportsMemmapOnMemory(2n * GiB, true)).toBe(true);
    expect(mhpSupportsMemmapOnMemory(128n << 20n, false)).toBe(false);
  });
});

describe.each(BACKENDS)('v6 after the altmap [%s]', (backend) => {
  it('T44 16 GiB device-dax, 2 MiB compound pages, no altmap: 64 MiB of unique vmemmap instead of 256 MiB, 128 struct pages set up per compound page', async () => {
    const m = await createMachine({ backend, kernel: 'v6', debug: true });
    const before = m.stats();
    const n = m.dmesg().length;
    m.createNamespace({ size: '16G', mode: 'devdax', map: 'mem', align: '2M' });
    const after = m.stats();
    const dev = after.devices['dax0.0'];
    expect(dev.vmemmapShift).toBe(9);
    expect(dev.dramMemmapPages).toBe(8192 * 2); // 64 MiB
    expect(dev.vmemmapPagesSaved).toBe(65536 - 16384);
    // one PTE table per 2 MiB of vmemmap: 128 tables (512 KiB)
    expect(after.dram.pageTablePages - before.dram.pageTablePages).toBe(128);
    // memmap_init_zone_device sets up 8192 x 128 struct pages, while its message counts the whole range
    expect(after.memmapInitPages - before.memmapInitPages).toBe(8192 * 128);
    expect(newLines(m.dmesg(), n).some((l) => l.startsWith('memmap_init_zone_device initialised 4194304 pages in '))).toBe(true);
    // the walks show the sharing: struct pages 64..127 and 128.. of a compound page come from one page
    const tail = m.walk(m.pfnToPage(PMEM_PFN + 64))!.phys;
    expect(m.walk(m.pfnToPage(PMEM_PFN + 128))!.phys).toBe(tail);
    expect(m.walk(m.pfnToPage(PMEM_PFN + 511))!.phys - 0xfc0n).toBe(tail);
    expect(m.walk(m.pfnToPage(PMEM_PFN))!.phys).not.toBe(tail);
    expect(m.walk(m.pfnToPage(PMEM_PFN + 512 + 64))!.phys).not.toBe(tail);
    m.checkInvariants();
    m.destroyNamespace('namespace0.0');
    expect(m.stats().dram).toEqual(before.dram);
  });

  it('T44 1 GiB compound pages: two unique vmemmap pages per compound page, later sections reuse the tail', async () => {
    const m = await createMachine({ backend, kernel: 'v6' });
    const before = m.stats().dram;
    m.createNamespace({ size: '16G', mode: 'devdax', map: 'mem', align: '1G' });
    const dev = m.stats().devices['dax0.0'];
    expect(dev.vmemmapShift).toBe(18);
    expect(dev.dramMemmapPages).toBe(16 * 2);
    const tail = m.walk(m.pfnToPage(PMEM_PFN + 64))!.phys;
    expect(m.walk(m.pfnToPage(PMEM_PFN + 5 * 32768 + 64))!.phys).toBe(tail);
    m.destroyNamespace('namespace0.0');
    expect(m.stats().dram).toEqual(before);
  });

  it('T45 HVO: a 2 MiB HugeTLB page frees 7 of its 8 vmemmap pages (28 KiB), a 1 GiB page 4095 of 4096; freeing restores them', async () => {
    const m = await createMachine({ backend, kernel: 'v6' });
    const boot = m.stats().dram;
    const h = m.hugetlbAlloc('2M');
    expect(h.vmemmapPagesFreed).toBe(7);
    let s = m.stats();
    expect(s.dram.hugetlbPages).toBe(512);
    expect(s.dram.memmapPages).toBe(boot.memmapPages - 7);
    expect(s.dram.pageTablePages).toBe(boot.pageTablePages + 1); // the 2 MiB vmemmap PMD split into a PTE table
    const head = m.walk(m.pfnToPage(h.pfn))!;
    const tail = m.walk(m.pfnToPage(h.pfn + 64))!;
    expect(tail.phys).toBe(head.phys);
    expect(tail.pageSize).toBe(4096);
    expect(tail.levels[3].entry & 2n).toBe(0n); // read-only
    expect(m.page(h.pfn + 448)!.pfn).toBe(h.pfn + 448);
    m.checkInvariants();
    const g = m.hugetlbAlloc('1G');
    expect(g.vmemmapPagesFreed).toBe(4095); // 16 MiB - 4 KiB
    expect(m.stats().hugetlb).toEqual({ pages2M: 1, pages1G: 1, vmemmapPagesFreed: 4102 });
    m.checkInvariants();
    m.hugetlbFree(h.pfn);
    m.hugetlbFree(g.pfn);
    s = m.stats();
    expect(s.dram.memmapPages).toBe(boot.memmapPages);
    expect(s.dram.hugetlbPages).toBe(0);
    expect(s.dram.freePages).toBe(boot.freePages - (s.dram.pageTablePages - boot.pageTablePages)); // the split tables stay
    m.checkInvariants();
    // before v5.14 there is no HVO
    const old = await createMachine({ backend, kernel: 'v4.18' });
    expect(old.hugetlbAlloc('2M').vmemmapPagesFreed).toBe(0);
  });

  it('T43 through the API: device-dax with an altmap (map=dev) keeps a full memmap on the device', async () => {
    const m = await createMachine({ backend, kernel: 'v6' });
    m.createNamespace({ size: '16G', mode: 'devdax', map: 'dev', align: '2M' });
    const dev = m.stats().devices['dax0.0'];
    expect(dev.vmemmapShift).toBe(9);
    expect(dev.vmemmapPagesSaved).toBe(0);
    expect(dev.altmapPages).toBe(65536);
  });

  it('T46 memmap_on_memory: each 128 MiB block holds its own 512-page memmap, 32256 pages go online; off, the memmap comes from DRAM', async () => {
    for (const mom of [true, false]) {
      // T46 has daxctl online the blocks (to ZONE_MOVABLE): the policy that leaves them offline, as 6.1 boots
      // (Debian's 6.12 onlines them itself, to ZONE_NORMAL: fixture kmem-system-ram-mem-1G)
      const m = await createMachine({ backend, kernel: 'v6', cmdline: 'memhp_default_state=offline' });
      const fresh = m.snapshot();
      m.createNamespace({ size: '16G', mode: 'devdax', map: 'mem' });
      const before = m.stats().dram;
      const r = m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: mom });
      const blocks = r.online_memblocks as number;
      expect(blocks).toBe(127); // 16 GiB less the 2 MiB info area, trimmed to 128 MiB blocks
      expect(r.online_pages).toBe(blocks * (mom ? 32256 : 32768));
      expect(r.memmap_on_memory_pages).toBe(mom ? blocks * 512 : 0);
      const dramMemmap = m.stats().dram.memmapPages - before.memmapPages;
      // device_dax's compound memmap went away, the kmem blocks' memmap is on the blocks or in DRAM
      expect(dramMemmap).toBe((mom ? 0 : blocks * 512) - 8192 * 2);
      const block = PMEM_PFN + 32768; // the first whole block
      if (mom) {
        expect(m.walk(m.pfnToPage(block))!.phys >> 12n).toBe(BigInt(block));
        expect(m.page(block)!.zone).toBe('Normal');
        expect(m.page(block + 512)!.zone).toBe('Movable');
      } else expect(m.walk(m.pfnToPage(block))!.phys).toBeLessThan(64n * GiB);
      m.checkInvariants();
      m.reconfigureDevice('dax0.0', { mode: 'devdax' });
      m.destroyNamespace('namespace0.0');
      expect(m.snapshot()).toEqual(fresh);
    }
  });

  it('T46 with 2 GiB memory blocks: 8192 vmemmap pages per block, 516096 online', async () => {
    const m = await createMachine({ backend, kernel: 'v6', memoryBlockSize: '2G' });
    m.createNamespace({ size: '16G', mode: 'devdax', map: 'mem' });
    const r = m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true });
    expect(r.online_pages).toBe((r.online_memblocks as number) * 516096);
    expect(r.memmap_on_memory_pages).toBe((r.online_memblocks as number) * 8192);
  });
});

describe('the capacity planner', () => {
  it('1 TiB on v6: the compound rows cut the memmap from 16 GiB to 4 GiB (2 MiB) and to tens of MiB (1 GiB); rows match separate runs', async () => {
    const plan = await planCapacity({ size: '1T', kernel: 'v6', backend: 'wasm' });
    const row = (label: string) => plan.rows.find((r) => r.label.startsWith(label))!;
    expect(plan.rows.map((r) => r.label)).toEqual(planConfigs('v6').map((c) => c.label));
    expect(row('fsdax, map=mem').memmapDram).toBe(16 * 2 ** 30);
    expect(row('devdax 2M, map=mem').memmapDram).toBe(4 * 2 ** 30);
    expect(row('devdax 1G, map=mem').memmapDram).toBe(8 * 2 ** 20);
    expect(row('devdax 1G, map=mem').dram).toBeLessThan(64 * 2 ** 20);
    expect(row('fsdax, map=dev').usable).toBe(1082329661440);
    expect(row('fsdax, map=dev').best).toContain('dram');
    // a row against its own run
    const m = await createMachine({ kernel: 'v6', e820: [
      { start: 0x100000n, size: 64n * GiB, type: 'System RAM' },
      { start: 65n * GiB, size: 1024n * GiB, type: 'Persistent Memory' },
    ] });
    const before = m.stats().dram;
    const ns = m.createNamespace({ size: '1T', mode: 'devdax', map: 'mem', align: '2M' });
    expect(row('devdax 2M, map=mem').usable).toBe(ns.size);
    expect(row('devdax 2M, map=mem').memmapDram).toBe((m.stats().dram.memmapPages - before.memmapPages) * 4096);
  }, 120_000);

  it('v4.5 offers fsdax rows only', () => {
    expect(planConfigs('v4.5').map((c) => c.label)).toEqual(['fsdax, map=dev', 'fsdax, map=mem']);
  });
});
