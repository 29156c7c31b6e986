/**
 * The two-socket example machine (examples/two-socket.json, issue 14 "Done means"): two NUMA nodes with
 * 384 GiB of DRAM each, two 3-way interleaved regions of 1.5 TiB per socket, and a 1 TiB CXL expander as
 * Soft Reserved on node 2 (no CPU, no DRAM). Namespaces are created on every region, listed, and their
 * memmaps charged to the node of their region: map=mem memmaps as 64 bytes per 4 KiB page
 * (spec/kernel.md's struct page), compound devdax ones as a quarter of that (2 of each 8 vmemmap pages).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMachine, validateScenario } from '../../src/index.ts';
import { BACKENDS } from '../fixtures.ts';

const GiB = 1n << 30n;
const EXAMPLE = JSON.parse(readFileSync(new URL('../../examples/two-socket.json', import.meta.url), 'utf8'));
const memmapPages = (bytes: bigint) => Number((bytes / 4096n) * 64n / 4096n);

describe.each(BACKENDS)('examples/two-socket.json [%s]', (backend) => {
  it('boots 3 nodes (0-2 with memory, CPU on 0), 4 regions of 3 DIMMs with default_align() 48 MiB, each region on its socket\'s node', async () => {
    const m = await createMachine({ ...validateScenario({ machine: EXAMPLE.machine, steps: [] }).machine, backend });
    expect(m.readFile('/sys/devices/system/node/has_memory')).toBe('0-2\n');
    expect(m.readFile('/sys/devices/system/node/online')).toBe('0-2\n');
    expect(m.listRegions().map((r) => [r.dev, r.numaNode, r.targetNode, r.align, r.size])).toEqual([
      ['region0', 0, 0, 48n << 20n, 1536n * GiB],
      ['region1', 0, 0, 48n << 20n, 1536n * GiB],
      ['region2', 1, 1, 48n << 20n, 1536n * GiB],
      ['region3', 1, 1, 48n << 20n, 1536n * GiB],
    ]);
    expect(m.listDimms()).toHaveLength(12);
    // the boot memmap of each node's own DRAM on that node; the CXL range onlined by kmem at boot has no DRAM of its own
    const [n0, n1] = m.stats().nodes;
    expect(n0!.memmapPages).toBe(memmapPages(384n * GiB));
    expect(n1!.memmapPages).toBe(memmapPages(384n * GiB) + memmapPages(1024n * GiB));
    expect(m.readFile('/sys/devices/system/node/node2/meminfo').split('\n')[0]).toBe('Node 2 MemTotal:       1073741824 kB');
    m.dispose();
  });

  it('one namespace per region (the example\'s steps): listed with its region; map=dev costs no DRAM memmap, map=mem 12 GiB (fsdax) or 3 GiB (compound devdax) on node 1, none on node 0', async () => {
    const m = await createMachine({ ...validateScenario({ machine: EXAMPLE.machine, steps: [] }).machine, backend });
    const before = m.stats().nodes.map((n) => n.memmapPages);
    for (const { op, ...o } of EXAMPLE.steps.filter((s: { op: string }) => s.op === 'createNamespace')) m.createNamespace(o);
    const after = m.stats().nodes.map((n) => n.memmapPages);
    expect(after[0]! - before[0]!).toBe(0);
    expect(after[1]! - before[1]!).toBe(memmapPages(768n * GiB) + memmapPages(768n * GiB) / 4);
    const listed = m.listNamespaces().map((n) => [n.dev, n.mode, n.map, n.align]);
    expect(listed).toEqual([
      ['namespace0.0', 'fsdax', 'dev', 2097152],
      ['namespace1.0', 'devdax', 'dev', 1073741824],
      ['namespace2.0', 'fsdax', 'mem', 2097152],
      ['namespace3.0', 'devdax', 'mem', 2097152],
    ]);
    // ndctl list -v: numa_node and target_node of each namespace follow its region
    expect(m.readFile('/sys/bus/nd/devices/namespace2.0/numa_node')).toBe('1\n');
    expect(m.readFile('/sys/bus/nd/devices/namespace0.0/numa_node')).toBe('0\n');
    m.dispose();
  });
});
