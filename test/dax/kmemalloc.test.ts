/**
 * Issue 14 item 4: the pages kmem onlines join the page allocator (generic_online_page -> __free_pages_core),
 * on the dax device's target_node, in the zone they were onlined to. On the oracle's standard guest (2 GiB of
 * RAM, a 32 GiB NVDIMM at 4 GiB) against the 6.12 fixture kmem-offline-online, whose 2 GiB devdax namespace
 * onlines 15 blocks of 128 MiB (0x108000000-0x17fffffff).
 */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, type Machine } from '../../src/index.ts';
import { BACKENDS, kernelErrorOf, realStep } from '../fixtures.ts';
import { GUEST_E820 } from './guest.ts';

const C = 'kmem-offline-online';
const MEM = '/sys/devices/system/memory';
const KMEM = { startPfn: 0x108000, endPfn: 0x180000 };
const memTotal = (text: string) => Number(/^MemTotal:\s+(\d+) kB/m.exec(text)![1]);
const memFree = (text: string) => Number(/^MemFree:\s+(\d+) kB/m.exec(text)![1]);
const inKmem = (pfn: number) => pfn >= KMEM.startPfn && pfn < KMEM.endPfn;

/** 2 GiB devdax map=mem to system-ram (kmem-offline-online steps 04-05): online (ZONE_NORMAL, the kernel's policy) or movable (auto-online off, then daxctl). */
async function kmemGuest(backend: (typeof BACKENDS)[number], zone: 'normal' | 'movable'): Promise<Machine> {
  const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
  m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
  if (zone === 'movable') m.writeFile(`${MEM}/auto_online_blocks`, 'offline');
  m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: zone === 'movable', movable: true });
  return m;
}

/** HugeTLB pages of `size` until the allocator has none: their pfns. */
function drain(m: Machine, size: '2M' | '1G'): number[] {
  const pfns: number[] = [];
  for (;;) {
    try {
      pfns.push(m.hugetlbAlloc(size).pfn);
    } catch (e) {
      if (!(e instanceof KernelError) || e.code !== 'ENOMEM') throw e;
      return pfns;
    }
  }
}

describe.each(BACKENDS)('kmem-onlined memory in the page allocator [%s]', (backend) => {
  it(`${C} step 05: the 15 onlined blocks are the allocator's pages: DRAM total and free grow by 15 x 32768 pages, and MemTotal/MemFree are its counts (MemTotal as the real kernel's grows)`, async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    const before = m.stats().dram;
    const info = m.readFile('/proc/meminfo');
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const after = m.stats().dram;
    expect(after.totalPages - before.totalPages).toBe(15 * 32768);
    const realGrowth = memTotal(realStep('6.12.117', C, 5).state.meminfo) - memTotal(realStep('6.12.117', C, 4).state.meminfo);
    expect(memTotal(m.readFile('/proc/meminfo')) - memTotal(info)).toBe(realGrowth);
    expect(memFree(m.readFile('/proc/meminfo'))).toBe(after.freePages * 4);
  });

  it(`${C} (ZONE_NORMAL): later allocations come from the onlined blocks once DRAM runs out: 2 MiB HugeTLB pages fill all 960 of their 2 MiB`, async () => {
    const m = await kmemGuest(backend, 'normal');
    const pfns = drain(m, '2M');
    // DRAM first (lowest address), then every 2 MiB of the 15 blocks
    expect(pfns.filter(inKmem)).toHaveLength((15 * 128) / 2);
    expect(pfns.findIndex(inKmem)).toBe(pfns.filter((p) => !inKmem(p)).length);
  });

  it(`${C} with memmap_on_memory: 2 MiB HugeTLB pages from the blocks keep their vmemmap (self-hosted: PageVmemmapSelfHosted, no HVO), those from DRAM lose 7 pages each; all of them free again`, async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true });
    const before = m.stats().dram;
    const got: Array<{ pfn: number; vmemmapPagesFreed: number }> = [];
    for (;;) {
      try {
        got.push(m.hugetlbAlloc('2M'));
      } catch (e) {
        if (!(e instanceof KernelError) || e.code !== 'ENOMEM') throw e;
        break;
      }
    }
    const fromKmem = got.filter((g) => inKmem(g.pfn));
    // each 128 MiB block gives 63 pages: its first 2 MiB is its own memmap
    expect(fromKmem).toHaveLength(15 * 63);
    expect(fromKmem.every((g) => g.vmemmapPagesFreed === 0)).toBe(true);
    expect(got.filter((g) => !inKmem(g.pfn)).every((g) => g.vmemmapPagesFreed === 7)).toBe(true);
    for (const g of got) m.hugetlbFree(g.pfn);
    // all back, less the PTE tables HVO's splits of the DRAM memmap's PMD leaves left behind (they stay split)
    const after = m.stats().dram;
    expect(after.freePages + (after.pageTablePages - before.pageTablePages)).toBe(before.freePages);
    expect(after.hugetlbPages).toBe(0);
    m.checkInvariants();
  });

  it(`${C} step 06 shape: a block holding an allocation does not offline (EBUSY, "failure to isolate range") and MemTotal stays; freed, it offlines and MemTotal drops one block (the real step's 7 blocks: 917504 kB)`, async () => {
    const m = await kmemGuest(backend, 'normal');
    const pfns = drain(m, '2M');
    const total = memTotal(m.readFile('/proc/meminfo'));
    // memory35: pfns 0x118000-0x11ffff
    const e = kernelErrorOf(() => m.writeFile(`${MEM}/memory35/state`, 'offline'));
    expect([e.code, e.message]).toEqual(['EBUSY', expect.stringContaining('memory offlining [mem 0x118000000-0x11fffffff] failed due to failure to isolate range')]);
    expect(m.readFile(`${MEM}/memory35/state`)).toBe('online\n');
    expect(memTotal(m.readFile('/proc/meminfo'))).toBe(total);
    for (const p of pfns) if (p >= 0x118000 && p < 0x120000) m.hugetlbFree(p);
    m.writeFile(`${MEM}/memory35/state`, 'offline');
    const realDrop = memTotal(realStep('6.12.117', C, 5).state.meminfo) - memTotal(realStep('6.12.117', C, 6).state.meminfo);
    expect((total - memTotal(m.readFile('/proc/meminfo'))) * 7).toBe(realDrop);
    // its pages are gone from the allocator: the pool cannot grow into it
    expect(drain(m, '2M').filter((p) => p >= 0x118000 && p < 0x120000)).toEqual([]);
    // and daxctl's round trip to devdax refuses while the other blocks hold pages, changing nothing
    expect(kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'devdax' })).code).toBe('EBUSY');
    expect(m.stats().systemRam['dax0.0']).toBeDefined();
  });

  it(`${C} (ZONE_MOVABLE, daxctl online-memory's default): 2 MiB HugeTLB pages may use it, 1 GiB pages and the kernel's own allocations (a map=mem memmap) may not`, async () => {
    const normal = await kmemGuest(backend, 'normal');
    const movable = await kmemGuest(backend, 'movable');
    expect(movable.readFile(`${MEM}/memory35/valid_zones`)).toBe('Movable\n');
    expect(kernelErrorOf(() => movable.hugetlbAlloc('1G')).code).toBe('ENOMEM');
    for (const m of [normal, movable]) {
      // fill everything with 2 MiB pages, then give back those in the kmem blocks: only they are free
      for (const p of drain(m, '2M')) if (inKmem(p)) m.hugetlbFree(p);
      expect(m.stats().dram.freePages).toBeGreaterThanOrEqual(15 * 32768);
    }
    // a second namespace's map=mem memmap (128 MiB for 8 GiB; DRAM has only scraps left): ZONE_NORMAL kmem
    // memory takes it, ZONE_MOVABLE cannot (GFP_KERNEL)
    const ns = { size: '8G', mode: 'fsdax', map: 'mem' } as const;
    const free = normal.stats().dram.freePages;
    normal.createNamespace(ns);
    expect(free - normal.stats().dram.freePages).toBeGreaterThanOrEqual(32768);
    const e = kernelErrorOf(() => movable.createNamespace(ns));
    expect(e.code).toBe('ENOMEM');
    expect(movable.stats().dram.freePages).toBeGreaterThanOrEqual(15 * 32768);
  });

  it('numa-kmem step 05 (6.12.117): the 15 blocks join node 1, the dax device\'s target_node: node 1\'s allocator pages grow, and node 1\'s HugeTLB pages come from them once its DRAM is used', async () => {
    const e820 = [
      { start: 0x1000n, size: 0x9e000n, type: 'System RAM' as const, node: 0 },
      { start: 0x100000n, size: 0x40000000n - 0x100000n, type: 'System RAM' as const, node: 0 },
      { start: 0x40000000n, size: 0x7ffdf000n - 0x40000000n, type: 'System RAM' as const, node: 1 },
      { start: 0x100000000n, size: 8587837440n, type: 'Persistent Memory' as const, node: 1 },
    ];
    const m = await createMachine({ backend, kernel: 'v6', e820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    expect(m.readFile('/sys/bus/dax/devices/dax0.0/target_node')).toBe('1\n');
    const before = m.stats().nodes.map((n) => n.totalPages);
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const after = m.stats().nodes.map((n) => n.totalPages);
    const real = (i: number) => Number(/Node 1 MemTotal:\s+(\d+) kB/.exec(realStep('6.12.117', 'numa-kmem', i).state.node)![1]);
    expect([after[0] - before[0], (after[1] - before[1]) * 4]).toEqual([0, real(5) - real(4)]);
    const pfns: number[] = [];
    for (;;) {
      try {
        pfns.push(m.hugetlbAlloc('2M', { node: 1 }).pfn);
      } catch (e) {
        expect(String(e)).toMatch(/ENOMEM/);
        break;
      }
    }
    // node 1's DRAM first, then every 2 MiB of its 15 kmem blocks
    expect(pfns.filter(inKmem)).toHaveLength(960);
    expect(pfns.every((p) => p >= 0x40000)).toBe(true);
  });
});
