/**
 * build_all_zonelists on hotplug (src/kernel/zonelist.ts) against the real kernels' messages: once when
 * online_pages populates a zone, once when offline_pages empties it; policy_zone never goes down and
 * ignores ZONE_MOVABLE. Fixture kmem-system-ram-mem-1G (6.1.192: blocks onlined to ZONE_MOVABLE by
 * daxctl; 6.12.117: the kernel onlines them to ZONE_NORMAL itself).
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type KernelName } from '../../src/index.ts';
import { dmesgMessages } from '../../src/oracle/compare.ts';
import { BACKENDS, realStep } from '../fixtures.ts';

const GiB = 1n << 30n;
const std = (backend: 'wasm' | 'ts', kernel: KernelName) =>
  createMachine({ backend, kernel, e820: [{ start: 0x100000n, size: 2n * GiB - 0x121000n, type: 'System RAM' }, { start: 4n * GiB, size: 32n * GiB - (2n << 20n), type: 'Persistent Memory' }] });

/** The zonelist lines of a log, normalised as the oracle compares them. */
const zonelistLines = (log: string) => dmesgMessages(log).split('\n').filter((l) => /^(Fallback order|Built \d+ zonelists|Policy zone)/.test(l));

describe.each(BACKENDS)('zonelists [%s]', (backend) => {
  it.each([['6.1.192', 'v6.1'], ['6.12.117', 'v6']] as const)('%s kmem-system-ram-mem-1G steps 5 and 7: a rebuild when the hot-plugged zone fills and when it empties', async (kernel, profile) => {
    const m = await std(backend, profile);
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    let n = m.dmesg().length;
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    expect(zonelistLines(m.dmesg().slice(n).join('\n'))).toEqual(zonelistLines(realStep(kernel, 'kmem-system-ram-mem-1G', 5).dmesg));
    expect(zonelistLines(m.dmesg().slice(n).join('\n'))).toHaveLength(3);
    if (kernel === '6.1.192') {
      // 6.1: all of it comes back (6.12's first block holds unmovable pages: the real step 7 fails there)
      n = m.dmesg().length;
      m.reconfigureDevice('dax0.0', { mode: 'devdax' });
      expect(zonelistLines(m.dmesg().slice(n).join('\n'))).toEqual(zonelistLines(realStep(kernel, 'kmem-system-ram-mem-1G', 7).dmesg));
    }
  });
});

describe.each(BACKENDS)('zonelists of several nodes [%s]', (backend) => {
  // numa4-kmem: four 512 MiB nodes (the CPU on node 0), an 8 GiB NVDIMM on node 3 (the oracle's NUMA4 guest)
  const MiB = 1n << 20n;
  const e820 = [
    { start: 0x1000n, size: 0x9e000n, type: 'System RAM' as const, node: 0 },
    { start: 0x100000n, size: 512n * MiB - 0x100000n, type: 'System RAM' as const, node: 0 },
    { start: 512n * MiB, size: 512n * MiB, type: 'System RAM' as const, node: 1 },
    { start: 1024n * MiB, size: 512n * MiB, type: 'System RAM' as const, node: 2 },
    { start: 1536n * MiB, size: 0x7ffdf000n - 1536n * MiB, type: 'System RAM' as const, node: 3 },
    { start: 4n * GiB, size: 8587837440n, type: 'Persistent Memory' as const, node: 3 },
  ];
  it.each([['6.1.192', 'v6.1'], ['6.12.117', 'v6']] as const)('%s numa4-kmem step 5: find_next_best_node orders 0 1 2 3, 1 2 3 0, 2 3 1 0, 3 1 2 0 (node_load round-robin, the CPU node last)', async (kernel, profile) => {
    const m = await createMachine({ backend, kernel: profile, e820 });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    const n = m.dmesg().length;
    const memmap = m.stats().nodes.map((x) => x.memmapPages);
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const real = zonelistLines(realStep(kernel, 'numa4-kmem', 5).dmesg).filter((l) => !l.startsWith('Policy'));
    expect(real.slice(0, 4)).toEqual(['Fallback order for Node 0: 0 1 2 3', 'Fallback order for Node 1: 1 2 3 0', 'Fallback order for Node 2: 2 3 1 0', 'Fallback order for Node 3: 3 1 2 0']);
    const model = zonelistLines(m.dmesg().slice(n).join('\n')).filter((l) => !l.startsWith('Policy'));
    expect(model.slice(0, 4)).toEqual(real.slice(0, 4));
    expect(model[4]).toMatch(/^Built 4 zonelists, mobility grouping on\./);
    // kmem's memmap went to node 3 (the device's target_node), from node 3's DRAM: 7 blocks, 2 MiB each
    // (the real 6.12 log: " [ffffea0004200000-ffffea0004ffffff] PMD -> [ffff88007a...] on node 3")
    const after = m.stats().nodes.map((x) => x.memmapPages);
    expect(after.slice(0, 3)).toEqual(memmap.slice(0, 3));
    expect(m.stats().systemRam['dax0.0'].dramMemmapPages).toBe(7 * 512);
    // less what device_dax's map=mem memmap gave back to node 3 on the way (memunmap_pages)
    expect(after[3]).toBeGreaterThan(memmap[3]);
    expect(m.stats().systemRam['dax0.0'].blocks).toBe(7);
  });
});
