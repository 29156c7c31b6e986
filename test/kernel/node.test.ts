/**
 * /sys/devices/system/node (drivers/base/node.c) against Debian's 6.12 on the oracle's standard guest
 * (fixture kmem-offline-online: 2 GiB of RAM, a 32 GiB NVDIMM at 4 GiB; one node, one CPU).
 */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError } from '../../src/index.ts';
import { BACKENDS, expectKernelError, realStep } from '../fixtures.ts';
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

// ---- several nodes (issue 14 item 1): the oracle's NUMA2 guest, fixtures numa-boot and numa-kmem
// (2 GiB of RAM as two 1 GiB nodes, the CPU on node 0, an 8 GiB NVDIMM whose NFIT range is node 1's)

/** numa-boot's layout as the oracle's model reads it: "ACPI: SRAT: Node 0 PXM 0 [mem 0x00100000-0x3fffffff]", ... */
const NUMA_E820 = [
  { start: 0x1000n, size: 0x9e000n, type: 'System RAM' as const, node: 0 },
  { start: 0x100000n, size: 0x40000000n - 0x100000n, type: 'System RAM' as const, node: 0 },
  { start: 0x40000000n, size: 0x7ffdf000n - 0x40000000n, type: 'System RAM' as const, node: 1 },
  { start: 0x100000000n, size: 8587837440n, type: 'Persistent Memory' as const, node: 1 },
];
const total = (text: string, nid: number) => Number(new RegExp(`Node ${nid} MemTotal:\\s+(\\d+) kB`).exec(text)![1]);
const links = (m: { listDir(p: string): string[] }, nid: number) => m.listDir(`${NODE}/node${nid}`).filter((x) => /^memory\d+$/.test(x));

describe.each(BACKENDS)('NUMA nodes [%s]', (backend) => {
  for (const [kernel, release] of [['v6', '6.12.117'], ['v6.1', '6.1.192']] as const) {
    it(`numa-boot step 00 (${release}): the masks read 0-1 (has_cpu 0), as the real kernel's bitmap lists`, async () => {
      const m = await createMachine({ backend, kernel, e820: NUMA_E820 });
      const masks = realStep(release, 'numa-boot', 0).state.node.split('\n').filter((l) => l && !l.includes('/meminfo:'));
      expect(masks).toContain('/sys/devices/system/node/has_memory:0-1');
      for (const l of masks) {
        const path = l.slice(0, l.indexOf(':'));
        expect(`${path}:${m.readFile(path).replace(/\n$/, '')}`).toBe(l);
      }
      expect(m.listDir(NODE).filter((x) => x.startsWith('node'))).toEqual(['node0', 'node1']);
    });

    it(`numa-boot step 04 (${release}): region0 and namespace0.0 are node 1's (ndctl list -RNDiv numa_node 1, target_node 1)`, async () => {
      const m = await createMachine({ backend, kernel, e820: NUMA_E820 });
      const real = JSON.parse(realStep(release, 'numa-boot', 4).stdout);
      expect(real.regions[0].numa_node).toBe(1);
      expect(m.listRegions()[0]).toMatchObject({ numaNode: real.regions[0].numa_node, targetNode: real.regions[0].target_node });
      expect(m.readFile('/sys/bus/nd/devices/namespace0.0/numa_node')).toBe('1\n');
      expect(m.readFile('/sys/bus/nd/devices/region0/target_node')).toBe('1\n');
    });
  }

  it('numa-boot: each node holds its own RAM and its boot memmap; the nodes MemTotal add up to /proc/meminfo', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: NUMA_E820 });
    const s = m.stats();
    expect(s.nodes.map((n) => n.totalPages)).toEqual([0x9e + 0x40000 - 0x100, 0x7ffdf - 0x40000]);
    // sparse_init_nid: 8 sections a node, 2 MiB of struct pages each, from the node's own DRAM
    expect(s.nodes.map((n) => n.memmapPages)).toEqual([8 * 512, 8 * 512]);
    expect(s.nodes[0].memmapPages + s.nodes[1].memmapPages).toBe(s.dram.memmapPages);
    const n0 = total(m.readFile(`${NODE}/node0/meminfo`), 0);
    const n1 = total(m.readFile(`${NODE}/node1/meminfo`), 1);
    expect(n0 + n1).toBe(procTotal(m.readFile('/proc/meminfo')));
    const real = realStep('6.12.117', 'numa-boot', 0);
    expect(total(real.state.node, 0) + total(real.state.node, 1)).toBe(procTotal(real.state.meminfo));
    // 1 GiB of blocks each: memory0..7 under node0, memory8..15 under node1
    expect(links(m, 0)).toHaveLength(8);
    expect(links(m, 1)).toEqual(['memory10', 'memory11', 'memory12', 'memory13', 'memory14', 'memory15', 'memory8', 'memory9']);
  });

  it('numa-devdax-mem: a map=mem devdax namespace on node 1 takes its memmap and tables from node 1; dax0.0 target_node 1', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: NUMA_E820 });
    const before = m.stats().nodes;
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    const after = m.stats().nodes;
    const dev = m.stats().devices['dax0.0'];
    expect(dev.dramMemmapPages).toBeGreaterThan(0);
    expect(after[1].memmapPages - before[1].memmapPages).toBe(dev.dramMemmapPages);
    expect(after[0].memmapPages).toBe(before[0].memmapPages);
    expect(after[1].pageTablePages).toBeGreaterThan(before[1].pageTablePages);
    const real = JSON.parse(realStep('6.12.117', 'numa-devdax-mem', 6).stdout);
    expect(real[0].devices[0].target_node).toBe(1);
    expect(m.readFile('/sys/bus/dax/devices/dax0.0/target_node')).toBe(`${real[0].devices[0].target_node}\n`);
  });

  it('numa-devdax-mem: the compound pages of a 2M devdax namespace on node 1 record node 1 in head, first tail and tails (__init_zone_device_page with the pgmap nid)', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: NUMA_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem', align: '2M' });
    expect(m.stats().devices['dax0.0'].vmemmapPagesSaved).toBeGreaterThan(0);
    // map=mem: the range starts at the namespace, and the first compound page at the next 2 MiB
    const first = Number((m.stats().devices['dax0.0'].start + 0x1fffffn) >> 21n) * 512;
    for (const pfn of [first, first + 1, first + 2, first + 511, first + 512 + 3]) {
      const p = m.page(pfn)!;
      expect([pfn, p.zone, p.node]).toEqual([pfn, 'Device', 1]);
    }
  });

  it('numa-boot: HugeTLB pages from one node (__GFP_THISNODE) are that node\'s, in its meminfo alone; the CPU\'s zonelist takes node 0 first', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: NUMA_E820 });
    const hp = (nid: number) => Number(new RegExp(`Node ${nid} HugePages_Total:\\s+(\\d+)`).exec(m.readFile(`${NODE}/node${nid}/meminfo`))![1]);
    const free1 = m.stats().nodes[1].freePages;
    let n = 0;
    let last: unknown = null;
    while (last === null && n < 1000) {
      try {
        expect(m.hugetlbAlloc('2M', { node: 1 }).node).toBe(1);
        n++;
      } catch (e) {
        last = e;
      }
    }
    expect(last).toBeInstanceOf(KernelError);
    expect(String(last)).toMatch(/ENOMEM: no free 2M block of memory on node 1 for a HugeTLB page/);
    // each 2 MiB page less the 7 vmemmap pages HVO gives back, until no aligned 2 MiB is free on node 1
    expect(n).toBeGreaterThan(0);
    expect(n * 512).toBeLessThanOrEqual(free1 + n * 7);
    expect([hp(0), hp(1)]).toEqual([0, n]);
    expect(m.hugetlbAlloc('2M').node).toBe(0);
    expect([hp(0), hp(1)]).toEqual([1, n]);
    for (const node of [2, -1, 0.5, '1']) expect(() => m.hugetlbAlloc('2M', { node } as never)).toThrow(/has no System RAM/);
  });

  it('numa-kmem step 05 (6.12.117): kmem onlines 15 blocks on node 1 (the dax device target_node): node1 MemTotal and links grow, node0 not', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: NUMA_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    const t = [0, 1].map((n) => total(m.readFile(`${NODE}/node${n}/meminfo`), n));
    const mark = m.dmesg().length;
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const real = (i: number, n: number) => total(realStep('6.12.117', 'numa-kmem', i).state.node, n);
    expect(total(m.readFile(`${NODE}/node1/meminfo`), 1) - t[1]).toBe(real(5, 1) - real(4, 1));
    expect(real(5, 1) - real(4, 1)).toBe(15 * 128 * 1024);
    expect(total(m.readFile(`${NODE}/node0/meminfo`), 0)).toBe(t[0]);
    expect(links(m, 1)).toHaveLength(8 + 15);
    expect(links(m, 0)).toHaveLength(8);
    // build_all_zonelists when node 1's ZONE_NORMAL comes up: find_next_best_node's order, both nodes
    const log = m.dmesg().slice(mark).map((l) => l.replace(/^\[[ \d.]+\] /, ''));
    const realLog = realStep('6.12.117', 'numa-kmem', 5).dmesg.split('\n').map((l) => l.replace(/^<\d>\[[ \d.]+\] /, ''));
    for (const l of ['Fallback order for Node 0: 0 1 ', 'Fallback order for Node 1: 1 0 ']) {
      expect(realLog).toContain(l);
      expect(log).toContain(l);
    }
    expect(log.some((l) => l.startsWith('Built 2 zonelists'))).toBe(true);
  });

  it('a node with Persistent Memory and no DRAM: its region is numa_node 0 (the nearest online node), target_node 2; memmaps fall back', async () => {
    const e820 = [...NUMA_E820.slice(0, 3), { ...NUMA_E820[3], node: 2 }];
    const m = await createMachine({ backend, kernel: 'v6', e820 });
    expect(m.readFile(`${NODE}/possible`)).toBe('0-2\n');
    expect(m.readFile(`${NODE}/online`)).toBe('0-1\n');
    expect(m.listRegions()[0]).toMatchObject({ numaNode: 0, targetNode: 2 });
    const before = m.stats().nodes;
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    const after = m.stats().nodes;
    // memremap_pages(nid = dev_to_node = 0): node 0's DRAM
    expect(after[0].memmapPages - before[0].memmapPages).toBe(m.stats().devices['dax0.0'].dramMemmapPages);
    expect(after[1].memmapPages).toBe(before[1].memmapPages);
    expect(m.readFile('/sys/bus/dax/devices/dax0.0/target_node')).toBe('2\n');
    // kmem hot-adds on node 2 (__try_online_node): node2 comes online with the blocks; node 2 has no DRAM, so
    // its zonelist's next node pays their memmap: find_next_best_node prefers node 1 (no CPU: no penalty) to node 0
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    expect(m.readFile(`${NODE}/online`)).toBe('0-2\n');
    expect(m.readFile(`${NODE}/has_memory`)).toBe('0-2\n');
    expect(links(m, 2)).toHaveLength(15);
    const kmem = m.stats().systemRam['dax0.0'].dramMemmapPages;
    expect(kmem).toBe(15 * 512);
    expect(m.stats().nodes[1].memmapPages).toBe(before[1].memmapPages + kmem);
    expect(m.stats().nodes[0].memmapPages).toBe(before[0].memmapPages);
    expect(m.dmesg().some((l) => l.endsWith('Fallback order for Node 2: 2 1 0 '))).toBe(true);
  });

  it('Soft Reserved on a node without RAM: dax0.0 target_node 1, numa_node 0 (numa_map_to_online_node at boot); 6.12 kmem brings node 1 online, 6.1 not', async () => {
    const e820 = [
      { start: 0x100000n, size: 0x140000000n - 0x100000n, type: 'System RAM' as const, node: 0 },
      { start: 0x140000000n, size: 0x80000000n, type: 'Soft Reserved' as const, node: 1 },
    ];
    for (const kernel of ['v6', 'v6.1'] as const) {
      const m = await createMachine({ backend, kernel, e820 });
      expect(m.readFile('/sys/bus/dax/devices/dax0.0/target_node')).toBe('1\n');
      expect(m.readFile('/sys/bus/dax/devices/dax0.0/numa_node')).toBe('0\n');
      expect(m.readFile(`${NODE}/possible`)).toBe('0-1\n');
      // 6.12 binds kmem at boot: the 16 blocks join node 1, which comes online with them (__try_online_node)
      expect(m.readFile(`${NODE}/online`)).toBe(kernel === 'v6' ? '0-1\n' : '0\n');
      if (kernel === 'v6') expect(links(m, 1)).toHaveLength(16);
    }
  });

  it('e820 node: an integer below MAX_NUMNODES (1024, Debian CONFIG_NODES_SHIFT=10), else EINVAL naming the entry', async () => {
    for (const node of [-1, 1024, 1.5, '1', null]) {
      const e = await expectKernelError(() => createMachine({ backend, kernel: 'v6', e820: [{ ...NUMA_E820[0] }, { ...NUMA_E820[2], node: node as number }] }), 'EINVAL');
      expect(e.message).toContain('e820[1].node');
    }
    const m = await createMachine({ backend, kernel: 'v6', e820: [{ ...NUMA_E820[1], node: 1023 }] });
    expect(m.readFile(`${NODE}/online`)).toBe('0,1023\n');
    expect(m.stats().nodes).toHaveLength(1024);
  });
});
