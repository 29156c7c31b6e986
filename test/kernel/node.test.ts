/**
 * /sys/devices/system/node (drivers/base/node.c) against Debian's 6.12 on the oracle's standard guest
 * (fixture kmem-offline-online: 2 GiB of RAM, a 32 GiB NVDIMM at 4 GiB; one node, one CPU).
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import { BACKENDS, realStep } from '../fixtures.ts';
import { GUEST_E820 } from '../dax/guest.ts';

const C = 'kmem-offline-online';
const NODE = '/sys/devices/system/node';
const nodeTotal = (text: string) => Number(/Node 0 MemTotal:\s+(\d+) kB/.exec(text)![1]);
const procTotal = (text: string) => Number(/^MemTotal:\s+(\d+) kB/m.exec(text)![1]);

describe.each(BACKENDS)('NUMA node sysfs [%s]', (backend) => {
  it(`${C} step 00: possible, online, has_cpu, has_memory, has_normal_memory as the real kernel prints them`, async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    const masks = realStep('6.12.117', C, 0).state.node.split('\n').filter((l) => l && !l.includes('/meminfo:'));
    expect(masks.length).toBe(5);
    for (const l of masks) {
      const path = l.slice(0, l.indexOf(':'));
      expect(`${path}:${m.readFile(path).replace(/\n$/, '')}`).toBe(l);
    }
  });

  it(`${C} step 00: node0/meminfo's MemTotal is /proc/meminfo's (one node), and the file has node_read_meminfo's lines`, async () => {
    const boot = realStep('6.12.117', C, 0);
    expect(nodeTotal(boot.state.node)).toBe(procTotal(boot.state.meminfo));
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    const text = m.readFile(`${NODE}/node0/meminfo`);
    expect(nodeTotal(text)).toBe(procTotal(m.readFile('/proc/meminfo')));
    // every line "Node 0 <label>" with the value right-aligned to the same column, as the kernel's format strings put it
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Node 0 MemTotal: {7}[ \d]{8} kB$/);
    expect(lines.map((l) => l.split(':')[0]!.slice(7))).toEqual([
      'MemTotal', 'MemFree', 'MemUsed', 'SwapCached', 'Active', 'Inactive', 'Active(anon)', 'Inactive(anon)', 'Active(file)', 'Inactive(file)', 'Unevictable', 'Mlocked',
      'Dirty', 'Writeback', 'FilePages', 'Mapped', 'AnonPages', 'Shmem', 'KernelStack', 'PageTables', 'SecPageTables', 'NFS_Unstable', 'Bounce', 'WritebackTmp', 'KReclaimable', 'Slab', 'SReclaimable', 'SUnreclaim',
      'AnonHugePages', 'ShmemHugePages', 'ShmemPmdMapped', 'FileHugePages', 'FilePmdMapped', 'Unaccepted', 'HugePages_Total', 'HugePages_Free', 'HugePages_Surp',
    ]);
  });

  it(`${C} steps 05 and 06: node0's MemTotal grows by the 15 kmem blocks and drops by the 7 that offline`, async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    const t4 = nodeTotal(m.readFile(`${NODE}/node0/meminfo`));
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
    const t5 = nodeTotal(m.readFile(`${NODE}/node0/meminfo`));
    const real = (i: number) => nodeTotal(realStep('6.12.117', C, i).state.node);
    expect(t5 - t4).toBe(real(5) - real(4));
    // daxctl's path to the blocks: node0/memoryN
    for (const id of [40, 39, 47, 37, 45, 35, 43]) m.writeFile(`${NODE}/node0/memory${id}/state`, 'offline');
    expect(nodeTotal(m.readFile(`${NODE}/node0/meminfo`)) - t5).toBe(real(6) - real(5));
  });
});
