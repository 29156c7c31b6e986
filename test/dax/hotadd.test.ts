/**
 * The DRAM check of a dax kmem hot-add (issue 14, item 4): without memmap_on_memory, add_memory_resource's
 * arch_add_memory takes the whole range's memmap (2 MiB per 128 MiB block) from free DRAM before any block
 * is online. A 12 GiB map=dev devdax namespace (94 whole blocks, 188 MiB of struct pages) on a machine with
 * 160 MiB of RAM does not get it: the hot-add fails as the kernel fails it, with the message shapes of
 * refuse-map-mem-enomem step 04 (vmemmap alloc failure, add_pages' WARN, the failed probe), -ENOMEM, and
 * the sections it added left behind with their memmap. With memmap_on_memory (6.12) it succeeds.
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import { hotAddDram } from '../../src/planner.ts';
import { BACKENDS, kernelErrorOf, realStep } from '../fixtures.ts';
import { GUEST_E820 } from './guest.ts';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const SMALL_E820 = [
  { start: 0x100000n, size: 160n * MiB - 0x100000n, type: 'System RAM' as const },
  { start: 4n * GiB, size: 16n * GiB, type: 'Persistent Memory' as const },
];
const RELEASE = { v6: '6.12.117', 'v6.1': '6.1.192' } as const;
const MEM = '/sys/devices/system/memory';

/** A recorded dmesg's text without the level and timestamp. */
const bare = (dmesg: string) => dmesg.split('\n').map((l) => l.replace(/^(<\d>)?\[\s*[\d.]+\] /, ''));

async function smallMachine(backend: (typeof BACKENDS)[number], kernel: 'v6' | 'v6.1', mom: boolean) {
  const m = await createMachine({ backend, kernel, e820: SMALL_E820, ...(mom ? { cmdline: 'memory_hotplug.memmap_on_memory=1' } : {}) });
  m.createNamespace({ size: '12G', mode: 'devdax', map: 'dev' });
  if (mom) m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1\n');
  return m;
}

describe.each(BACKENDS)('the DRAM check of a kmem hot-add [%s]', (backend) => {
  it.each(['v6', 'v6.1'] as const)('refuse-map-mem-enomem step 04 shapes (%s): 12 GiB to system-ram with 160 MiB of RAM fails ENOMEM, "memory add failed", sections left added, device left unbound', async (kernel) => {
    const m = await smallMachine(backend, kernel, false);
    const before = m.stats();
    const memTotal = m.readFile('/proc/meminfo').split('\n')[0];
    const blocks = m.listDir(MEM).filter((d) => /^memory\d+$/.test(d));
    const logged = m.dmesg().length;
    const e = kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }));
    expect(e.code).toBe('ENOMEM');
    expect(e.errno).toBe(-12);
    expect(e.message).toContain('dax0.0: mapping0: 0x110000000-0x3ffffffff memory add failed');
    const log = m.dmesg().slice(logged).map((l) => l.replace(/^\[\s*[\d.]+\] /, ''));
    const real = bare(realStep(RELEASE[kernel], 'refuse-map-mem-enomem', 4).dmesg);
    // warn_alloc's line as the real one, with daxctl's comm where the fixture's create-namespace had ndctl's
    const warn = real.find((l) => /^ndctl: vmemmap alloc failure: order:9,/.test(l))!;
    expect(log).toContain(warn.replace(/^ndctl:/, 'daxctl:'));
    // add_pages' WARN_ON_ONCE at the site the Debian build has
    const site = (lines: string[]) => lines.map((l) => / at (arch\/x86\/mm\/init_64\.c:\d+ add_pages\+\S+)$/.exec(l)?.[1]).find(Boolean);
    expect(site(log)).toBe(site(real));
    expect(site(log)).toBe(kernel === 'v6' ? 'arch/x86/mm/init_64.c:986 add_pages+0x90/0xa0' : 'arch/x86/mm/init_64.c:978 add_pages+0x8c/0x90');
    // dev_dax_kmem_probe's dev_warn, then the driver core's line in the era's shape (nd_pmem's in the fixture)
    const probeLine = real.find((l) => /probe.* failed with error -12$/.test(l))!.replace(/nd_pmem/g, 'kmem').replace('pfn0.0', 'dax0.0');
    expect(log.slice(-2)).toEqual(['kmem dax0.0: mapping0: 0x110000000-0x3ffffffff memory add failed', probeLine]);
    // what the kernel leaves: no System RAM, no memory block, MemTotal as it was; the sections arch_add_memory
    // added keep their DRAM memmap (add_memory_resource has no arch_remove_memory for it)
    const after = m.stats();
    expect(after.systemRam).toEqual({});
    expect(m.readFile('/proc/meminfo').split('\n')[0]).toBe(memTotal);
    expect(m.listDir(MEM).filter((d) => /^memory\d+$/.test(d))).toEqual(blocks);
    expect(m.readFile('/proc/iomem')).not.toContain('System RAM (kmem)');
    const kept = after.dram.memmapPages - before.dram.memmapPages;
    expect(kept % 512).toBe(0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(94 * 512);
    // nothing binds device_dax again: no memremap of the device
    expect(Object.keys(after.devices)).toEqual([]);
  });

  it('refuse-map-mem-enomem step 04 on two nodes (v6): warn_alloc prints the root cpuset\'s mems_allowed, N_MEMORY as a bitmap list (0-1)', async () => {
    const e820 = [
      { start: 0x100000n, size: 80n * MiB - 0x100000n, type: 'System RAM' as const, node: 0 },
      { start: 80n * MiB, size: 80n * MiB, type: 'System RAM' as const, node: 1 },
      { start: 4n * GiB, size: 16n * GiB, type: 'Persistent Memory' as const, node: 1 },
    ];
    const m = await createMachine({ backend, kernel: 'v6', e820 });
    m.createNamespace({ size: '12G', mode: 'devdax', map: 'dev' });
    const logged = m.dmesg().length;
    expect(kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'system-ram' })).code).toBe('ENOMEM');
    const real = bare(realStep('6.12.117', 'refuse-map-mem-enomem', 4).dmesg).find((l) => /^ndctl: vmemmap alloc failure: order:9,/.test(l))!;
    expect(real).toMatch(/mems_allowed=0$/);
    const log = m.dmesg().slice(logged).map((l) => l.replace(/^\[\s*[\d.]+\] /, ''));
    expect(log).toContain(real.replace(/^ndctl:/, 'daxctl:').replace(/mems_allowed=0$/, 'mems_allowed=0-1'));
  });

  it('after the failed hot-add (v6): the sections left behind make device_dax (devdax mode) and a second hot-add meet -EEXIST; the namespace destroys, and a new one over the range meets -EEXIST too', async () => {
    const m = await smallMachine(backend, 'v6', false);
    expect(kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'system-ram' })).code).toBe('ENOMEM');
    expect(kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'devdax' })).code).toBe('EEXIST');
    const again = kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }));
    expect([again.code, again.message]).toEqual(['EEXIST', 'EEXIST: dax0.0: mapping0: 0x110000000-0x3ffffffff memory add failed']);
    expect(m.dmesg().at(-1)).toMatch(/\] kmem dax0\.0: probe with driver kmem failed with error -17$/);
    m.destroyNamespace('namespace0.0');
    expect(kernelErrorOf(() => m.createNamespace({ size: '12G', mode: 'devdax', map: 'dev' })).code).toBe('EEXIST');
  });

  it('v6 (6.12): with memory_hotplug.memmap_on_memory=1 and the device\'s memmap_on_memory, the same hot-add succeeds: 94 blocks, each holding its 2 MiB memmap, no DRAM memmap', async () => {
    const m = await smallMachine(backend, 'v6', true);
    const before = m.stats();
    const r = m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    expect(r).toMatchObject({ total_memblocks: 94, online_memblocks: 94, memmap_on_memory: true, memmap_on_memory_pages: 94 * 512, memmap_dram_pages: 0 });
    expect(m.stats().dram.memmapPages).toBe(before.dram.memmapPages);
    expect(m.readFile('/proc/iomem')).toContain('    110000000-3ffffffff : System RAM (kmem)');
  });

  it('v6 (6.12) memmap_on_memory, a block\'s altmap allocation failing (injectFault altmap 3): create_altmaps_and_memory_blocks removes the blocks it added, nothing is onlined, devdax binds again', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820, cmdline: 'memory_hotplug.memmap_on_memory=1' });
    m.createNamespace({ size: '12G', mode: 'devdax', map: 'dev' });
    m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1\n');
    const blocks = m.listDir(MEM).filter((d) => /^memory\d+$/.test(d));
    const memTotal = m.readFile('/proc/meminfo').split('\n')[0];
    m.injectFault('altmap', 3);
    const e = kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }));
    expect(e.message).toBe('ENOMEM: dax0.0: mapping0: 0x110000000-0x3ffffffff memory add failed');
    expect(m.listDir(MEM).filter((d) => /^memory\d+$/.test(d))).toEqual(blocks);
    expect(m.readFile('/proc/meminfo').split('\n')[0]).toBe(memTotal);
    expect(m.stats().systemRam).toEqual({});
    expect(m.reconfigureDevice('dax0.0', { mode: 'devdax' })).toMatchObject({ mode: 'devdax' });
  });

  it('hotAddDram: the 12 GiB map=dev device needs 188 MiB of free DRAM without memmap_on_memory, what the hot-add takes on the 2 GiB guest; none with it', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '12G', mode: 'devdax', map: 'dev' });
    const start = BigInt(m.readFile('/sys/bus/dax/devices/dax0.0/resource').trim());
    const size = BigInt(m.readFile('/sys/bus/dax/devices/dax0.0/size').trim());
    const need = hotAddDram({ kernel: 'v6', start, size });
    expect(need).toEqual({ kernel: 'v6', blocks: 94, blockSize: 128 * 2 ** 20, withoutMemmapOnMemory: 188 * 2 ** 20, withMemmapOnMemory: 0, memmapOnMemoryGivenUp: 188 * 2 ** 20 });
    const r = m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    expect((r.memmap_dram_pages as number) * 4096).toBe(need.withoutMemmapOnMemory);
  });
});

describe('hotAddDram arithmetic', () => {
  it('issue 14: 12 GiB block-aligned is 96 blocks, 192 MiB; 2 GiB blocks take 32 MiB each; bad input is EINVAL', () => {
    expect(hotAddDram({ size: '12G' })).toMatchObject({ blocks: 96, withoutMemmapOnMemory: 192 * 2 ** 20, withMemmapOnMemory: 0 });
    expect(hotAddDram({ size: '12G', blockSize: '2G' })).toMatchObject({ blocks: 6, withoutMemmapOnMemory: 6 * 32 * 2 ** 20 });
    // the 8G - 2M device of kmem-8G-block-trim: 63 blocks
    expect(hotAddDram({ size: 8n * GiB - 2n * MiB, start: 0x100200000n }).blocks).toBe(63);
    expect(kernelErrorOf(() => hotAddDram({ size: '12G', kernel: 'v4.5' })).code).toBe('EINVAL');
    expect(kernelErrorOf(() => hotAddDram({ size: '12G', blockSize: '64M' })).code).toBe('EINVAL');
    expect(kernelErrorOf(() => hotAddDram({ size: 0 })).code).toBe('EINVAL');
  });
});

describe('the planner marks what a hot-add needs free', () => {
  it('planCapacity 12G system-ram (v6): the kmem row needs 190 MiB free (95 blocks of map=mem data), the memmap_on_memory row none', async () => {
    const { planCapacity } = await import('../../src/planner.ts');
    const plan = await planCapacity({ size: '12G', mode: 'system-ram', kernel: 'v6', backend: BACKENDS[0] });
    expect(plan.rows.map((r) => [r.label, r.ok, r.hotAddFreeDram])).toEqual([
      ['system-ram (kmem)', true, 95 * 2 * 2 ** 20],
      ['system-ram, memmap_on_memory', true, 0],
    ]);
    expect(plan.rows[0]!.hotAddFreeDram).toBe(hotAddDram({ size: 12n * GiB - 2n * MiB, start: 0x100000000n + 2n * MiB }).withoutMemmapOnMemory);
  });
});

describe.each(BACKENDS)('a failed kmem probe leaves the device driverless (drivers/dax/kmem.c, daxctl v76.1 reconfig_mode_system_ram) [%s]', (backend) => {
  it.each(['v6', 'v6.1'] as const)('%s: a 96 MiB device has no whole 128 MiB block: the three lines the kernel prints, -EINVAL, no daxX.Y in /proc/iomem until devdax binds again', async (kernel) => {
    const m = await createMachine({ backend, kernel, e820: GUEST_E820 });
    m.createNamespace({ size: '96M', mode: 'devdax', map: 'mem' });
    const iomem = m.readFile('/proc/iomem');
    expect(iomem).toMatch(/ : dax0\.0$/m);
    expect(m.listDir('/sys/bus/dax/devices/dax0.0')).toContain('driver');
    expect(m.readLink('/sys/bus/dax/devices/dax0.0/driver')).toBe('../../../../../../../../bus/dax/drivers/device_dax');
    const logged = m.dmesg().length;
    const e = kernelErrorOf(() => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }));
    expect([e.code, e.errno]).toEqual(['EINVAL', -22]);
    const log = m.dmesg().slice(logged).map((l) => l.replace(/^\[\s*[\d.]+\] /, ''));
    const range = /^ {2}([0-9a-f]+)-([0-9a-f]+) : dax0\.0$/m.exec(iomem)!;
    expect(log).toEqual([
      `kmem dax0.0: mapping0: 0x${range[1]}-0x${range[2]} too small after alignment`,
      'kmem dax0.0: rejecting DAX region without any memory after alignment',
      kernel === 'v6' ? 'kmem dax0.0: probe with driver kmem failed with error -22' : 'kmem: probe of dax0.0 failed with error -22',
    ]);
    // device_dax's devm region went when it unbound; kmem never requested its own
    expect(m.readFile('/proc/iomem')).not.toMatch(/ : dax0\.0$/m);
    expect(m.listDir('/sys/bus/dax/devices/dax0.0')).not.toContain('driver');
    expect(m.stats().devices).toEqual({});
    m.reconfigureDevice('dax0.0', { mode: 'devdax' });
    expect(m.readFile('/proc/iomem')).toBe(iomem);
    m.dispose();
  });
});
