/**
 * NUMA nodes as /sys/devices/system/node shows them (drivers/base/node.c): the node masks
 * (possible, online, has_cpu, has_memory, has_normal_memory, has_generic_initiator) and nodeN with its
 * meminfo and its memoryM links (register_mem_block_under_node_*: daxctl reaches a block's state
 * through them). The model's machines are one node, node 0, with the one CPU and all the memory.
 */
import type { Kernel } from './kernel.ts';
import { memoryBlockDir, memoryBlocks } from './memory.ts';
import { dir, file, type VfsDir, type VfsNode } from './vfs.ts';

/** print_nodes_state: the mask as a bitmap list ("%*pbl"); an empty mask is just the newline. */
function printNodesState(nodes: number[]): string {
  return `${nodes.join(',')}\n`;
}

/** si_meminfo_node: the node's managed pages (what /proc/meminfo's MemTotal sums) and free pages. */
export function siMeminfoNode(k: Kernel, bootUsedPages: number): { totalram: number; freeram: number } {
  const d = k.pageAlloc.stats();
  let online = 0;
  for (const kd of k.kmem.devices.values()) online += k.kmem.summary(kd).onlinePages;
  // kmem's onlined pages go to the buddy allocator free (the model keeps them out of its DRAM pool)
  return { totalram: d.totalPages - bootUsedPages + online, freeram: d.freePages + online };
}

/**
 * node_read_meminfo (6.12, x86-64 without HIGHMEM, with THP and CONFIG_UNACCEPTED_MEMORY as Debian
 * builds it): MemTotal, MemFree, MemUsed and the HugeTLB pool from the model; the model has no page
 * cache, anonymous memory, slab accounting or user page tables, so those lines read 0.
 */
export function nodeReadMeminfo(k: Kernel, nid: number, bootUsedPages: number): string {
  const i = siMeminfoNode(k, bootUsedPages);
  const K = (pages: number) => pages * 4;
  // "Node %d <label>%8lu kB": the labels carry their own padding, as the kernel's format strings do
  const kb = (label: string, v: number) => `Node ${nid} ${label}${String(v).padStart(8)} kB\n`;
  const zero = (label: string) => kb(label, 0);
  const hp = k.hugetlb.summary();
  return [
    kb('MemTotal:       ', K(i.totalram)),
    kb('MemFree:        ', K(i.freeram)),
    kb('MemUsed:        ', K(i.totalram - i.freeram)),
    ...['SwapCached:     ', 'Active:         ', 'Inactive:       ', 'Active(anon):   ', 'Inactive(anon): ', 'Active(file):   ', 'Inactive(file): ', 'Unevictable:    ', 'Mlocked:        '].map(zero),
    ...['Dirty:          ', 'Writeback:      ', 'FilePages:      ', 'Mapped:         ', 'AnonPages:      ', 'Shmem:          ', 'KernelStack:    ', 'PageTables:     ', 'SecPageTables:  ', 'NFS_Unstable:   ', 'Bounce:         ', 'WritebackTmp:   ', 'KReclaimable:   ', 'Slab:           ', 'SReclaimable:   ', 'SUnreclaim:     '].map(zero),
    // the kernel's own format has one space after FileHugePages: and FilePmdMapped:
    ...['AnonHugePages:  ', 'ShmemHugePages: ', 'ShmemPmdMapped: ', 'FileHugePages: ', 'FilePmdMapped: ', 'Unaccepted:     '].map(zero),
    // hugetlb_report_node_meminfo: the default (2 MiB) hstate
    `Node ${nid} HugePages_Total: ${String(hp.pages2M).padStart(5)}\n`,
    `Node ${nid} HugePages_Free:  ${String(hp.pages2M).padStart(5)}\n`,
    `Node ${nid} HugePages_Surp:  ${String(0).padStart(5)}\n`,
  ].join('');
}

/** /sys/devices/system/node/nodeN: its attributes and a memoryM link per memory block of the node. */
function nodeDevDir(k: Kernel, nid: number, bootUsedPages: number): VfsDir {
  return dir(() => {
    const entries: Record<string, () => VfsNode> = {
      cpulist: () => file(() => '0\n'),
      distance: () => file(() => '10\n'),
    };
    // the lines are 6.12's (SecPageTables 6.0+, Unaccepted 6.5+): the older profiles have no meminfo here
    if (k.profile.pfnEra === 'v6') entries.meminfo = () => file(() => nodeReadMeminfo(k, nid, bootUsedPages));
    for (const b of memoryBlocks(k)) entries[`memory${b.id}`] = () => memoryBlockDir(k, b);
    return entries;
  });
}

/** /sys/devices/system/node */
export function nodeDir(k: Kernel, bootUsedPages: number): VfsDir {
  return dir(() => ({
    // node_states: one node, with the CPU, memory and ZONE_NORMAL memory; no generic initiators
    possible: () => file(() => printNodesState([0])),
    online: () => file(() => printNodesState([0])),
    has_cpu: () => file(() => printNodesState([0])),
    has_memory: () => file(() => printNodesState([0])),
    has_normal_memory: () => file(() => printNodesState([0])),
    has_generic_initiator: () => file(() => printNodesState([])),
    node0: () => nodeDevDir(k, 0, bootUsedPages),
  }));
}
