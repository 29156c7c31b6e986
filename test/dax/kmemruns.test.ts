/**
 * kmem keeps a device's memory blocks as runs (a 2 PiB device is a million 2 GiB blocks) and hands a run to
 * the page allocator as one record; with kmemBlockByBlock it goes one block at a time, each its own
 * allocator range, as the kernel's walk_memory_blocks does. Both paths must leave the same machine: each
 * step of the fixture cases' shape runs on both twins and everything the kernel shows is compared, on
 * both backends.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/index.ts';
import { BACKENDS } from '../fixtures.ts';
import { GUEST_E820 } from './guest.ts';
import { block, MEM, twins } from './twins.ts';

describe.each(BACKENDS)('kmem runs and the per-block path agree [%s]', (backend) => {
  it.each(['v6', 'v6.1'] as const)('kmem-offline-online shape (%s): 15 blocks onlined (6.12: ZONE_NORMAL, the first pinned; 6.1: daxctl\'s ZONE_MOVABLE), memory35 in the middle offline and online_movable again, memory33 offline, back to devdax', async (kernel) => {
    const last = await twins(backend, (m) => void m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' }), [
      ['reconfigure system-ram', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: kernel === 'v6.1' })],
      ['offline memory35', (m) => block(m, 35, 'offline')],
      ['offline memory36', (m) => block(m, 36, 'offline')],
      ['online_movable memory35', (m) => block(m, 35, 'online_movable')],
      ['offline memory33 (pinned)', (m) => block(m, 33, 'offline')],
      ['online memory36', (m) => block(m, 36, 'online')],
      ['back to devdax', (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' })],
    ], { kernel, e820: GUEST_E820 });
    expect(last.blocks.length).toBe(16);
  });

  it('kmem-sysfs-state shape (v6): auto_online_blocks offline, daxctl onlines all 15 to ZONE_MOVABLE; one offline in the middle, a HugeTLB page in another keeps the device from devdax (EBUSY), freed it goes', async () => {
    let huge = 0;
    await twins(backend, (m) => {
      m.writeFile(`${MEM}/auto_online_blocks`, 'offline\n');
      m.createNamespace({ size: '2G', mode: 'devdax', map: 'dev' });
    }, [
      ['reconfigure system-ram (movable)', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram' })],
      ['offline memory40', (m) => block(m, 40, 'offline')],
      ['a 2 MiB HugeTLB page', (m) => (huge = m.hugetlbAlloc('2M').pfn)],
      ['a second one', (m) => m.hugetlbAlloc('2M')],
      ['devdax while in use', (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' })],
      ['free the first', (m) => m.hugetlbFree(huge)],
      ['online memory40 (kernel)', (m) => block(m, 40, 'online_kernel')],
    ]);
  });

  it.each([false, true])('planner shape (v6, 4 GiB DRAM, 128 MiB blocks): an 8 GiB map=dev device as system-ram (memmap_on_memory %s), 63 blocks in one run (ZONE_MOVABLE); blocks in the middle offline and back; without it a HugeTLB page in the first keeps it from devdax (EBUSY)', async (mom) => {
    const GiB = 1n << 30n;
    const config = { kernel: 'v6' as const, e820: [{ start: 0x100000n, size: 4n * GiB, type: 'System RAM' as const }, { start: 5n * GiB, size: 8n * GiB, type: 'Persistent Memory' as const }] };
    const last = await twins(backend, (m) => {
      // daxctl onlines them to ZONE_MOVABLE, where the HugeTLB page goes first
      m.writeFile(`${MEM}/auto_online_blocks`, 'offline\n');
      m.createNamespace({ size: '8G', mode: 'devdax', map: 'dev', align: '2M' });
    }, [
      ['reconfigure system-ram', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: mom })],
      ['offline memory60', (m) => block(m, 60, 'offline')],
      ['offline memory61', (m) => block(m, 61, 'offline')],
      ['online_movable memory60', (m) => block(m, 60, 'online_movable')],
      ['online memory61', (m) => block(m, 61, 'online')],
      // (a HugeTLB page in a memmap_on_memory block poisons the model, on the per-block path too: not here)
      ...(mom ? [] : ([
        ['a 2 MiB HugeTLB page', (m) => m.hugetlbAlloc('2M')],
        ['devdax while in use', (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' })],
      ] as Array<[string, (m: Machine) => unknown]>)),
    ], config);
    // the 33 boot blocks and all the device's are online (the page kept it from devdax)
    expect(last.blocks.length).toBeGreaterThan(33 + 60);
    expect(last.blocks.filter((b) => !/^memory\d+ online\n/.test(b)).map((b) => b.split(" ")[0])).toEqual([]);
  });

  it.each([false, true])('planner shape (v6, 4 GiB DRAM): 63 blocks of an 8 GiB device onlined, two offline in the middle, back to devdax and to system-ram again (memmap_on_memory %s)', async (mom) => {
    const GiB = 1n << 30n;
    const config = { kernel: 'v6' as const, e820: [{ start: 0x100000n, size: 4n * GiB, type: 'System RAM' as const }, { start: 5n * GiB, size: 8n * GiB, type: 'Persistent Memory' as const }] };
    await twins(backend, (m) => void m.createNamespace({ size: '8G', mode: 'devdax', map: 'dev', align: '2M' }), [
      ['reconfigure system-ram', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: mom })],
      ['offline memory50', (m) => block(m, 50, 'offline')],
      ['offline memory52', (m) => block(m, 52, 'offline')],
      ['back to devdax', (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' })],
      ['system-ram again', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: mom, online: false })],
    ], config);
  });
});
