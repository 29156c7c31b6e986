/**
 * NUMA nodes (mm/numa.c, arch/x86/mm/numa.c, drivers/base/node.c): the SRAT's proximity domains as the
 * e820 entries name them (E820Range.node), the node masks /sys/devices/system/node prints (possible,
 * online, has_cpu, has_memory, has_normal_memory, has_generic_initiator), nodeN with its meminfo and
 * its memoryM links (register_mem_block_under_node_*: daxctl reaches a block's state through them), and
 * the page allocator's zonelists: which node's DRAM an allocation for node N takes (build_zonelists).
 * The one CPU is node 0's; there is no SLIT, so distances are LOCAL_DISTANCE (10) and REMOTE_DISTANCE (20).
 */
import { MAX_NUMNODES, Purpose, type DramStats } from '../core/core.ts';
import type { E820Range } from './e820.ts';
import type { Kernel } from './kernel.ts';
import { memoryBlockDir, memoryBlocks } from './memory.ts';
import { dir, file, type VfsDir, type VfsNode } from './vfs.ts';

export { MAX_NUMNODES };

const LOCAL_DISTANCE = 10;
const REMOTE_DISTANCE = 20;
/** find_next_best_node's PENALTY_FOR_NODE_WITH_CPUS */
const PENALTY_FOR_NODE_WITH_CPUS = 1;

/** The machine's nodes: what the SRAT said at boot, and what hot-add brought online since. */
export class Numa {
  /** SRAT memory affinity: [start, end) byte ranges and their node, from the e820 entries (System RAM, pmem, Soft Reserved). */
  private affinity: Array<{ start: bigint; end: bigint; node: number }> = [];
  /** node_possible_map: every node the SRAT names, and node 0 (the CPU's). */
  possible: number[] = [0];
  /** node_online_map: nodes with boot RAM and node 0; a node whose memory kmem hot-adds joins it (__try_online_node). */
  readonly online = new Set<number>([0]);
  /** The nodes online at boot, when the firmware's devices get their numa_node (regions, hmem platform devices). */
  private bootOnline: number[] = [0];
  /** Node of each of Kernel.ramRanges (the core's ramNodes). */
  ramNodes: number[] = [];
  /** Pages of each node the boot kept (memblock's share: never part of the node's MemTotal). */
  private bootUsed: number[] = [];
  /** The node allocations are for now (the CPU's, 0, unless onNode says otherwise). */
  private current = 0;
  /** The zonelist the core walks now, as set (setZonelist is skipped when it would not change). */
  private coreZonelist = '';
  /** Node ids the core has records for (the highest RAM node + 1). */
  private coreNodes = 1;

  constructor(private readonly k: Kernel) {}

  /** numa_init from the boot memory map: the nodes of the ranges, which are online (have RAM), the core's zonelist. */
  setup(e820: readonly E820Range[]): void {
    this.affinity = e820.filter((e) => e.type !== 'Reserved').map((e) => ({ start: e.start, end: e.start + e.size, node: e.node ?? 0 }));
    this.possible = [...new Set([0, ...this.affinity.map((a) => a.node)])].sort((a, b) => a - b);
    this.ramNodes = e820.filter((e) => e.type === 'System RAM').map((e) => e.node ?? 0);
    for (const n of this.ramNodes) this.online.add(n);
    this.bootOnline = [...this.online].sort((a, b) => a - b);
    this.coreNodes = this.k.pageAlloc.stats().byNode.length;
    this.useZonelist(0);
  }

  /** __try_online_node (add_memory_resource): hot-adding memory on a node not yet online brings it online (its pgdat, its nodeN). */
  tryOnlineNode(nid: number): void {
    this.online.add(nid);
  }

  /** The first address after phys, up to limit, where {@link targetNode} may change (an SRAT entry starts or ends there). */
  targetNodeEnd(phys: bigint, limit: bigint): bigint {
    let end = limit;
    for (const a of this.affinity) {
      if (a.start > phys && a.start < end) end = a.start;
      if (a.end > phys && a.end < end) end = a.end;
    }
    return end;
  }

  /** The SRAT node of a physical address (phys_to_target_node); 0 where no entry covers it. */
  targetNode(phys: bigint): number {
    return this.affinity.find((a) => phys >= a.start && phys < a.end)?.node ?? 0;
  }

  /**
   * numa_map_to_online_node(target_node) as it was when the device was registered at boot (acpi_nfit's
   * regions, hmem's platform devices: a node kmem brings online later does not change it): the node itself
   * when online, else the nearest online one (the lowest id at equal distance).
   */
  numaNode(phys: bigint): number {
    const t = this.targetNode(phys);
    if (this.bootOnline.includes(t)) return t;
    let best = 0;
    let bestDist = Infinity;
    for (const n of this.bootOnline) {
      if (this.distance(t, n) < bestDist) {
        bestDist = this.distance(t, n);
        best = n;
      }
    }
    return best;
  }

  /** node_distance: no SLIT, so local or remote. */
  distance(a: number, b: number): number {
    return a === b ? LOCAL_DISTANCE : REMOTE_DISTANCE;
  }

  /** N_MEMORY: nodes with boot RAM, and those kmem onlined memory on. */
  hasMemory(): number[] {
    const nodes = new Set(this.ramNodes);
    for (const kd of this.k.kmem.devices.values()) if (this.k.kmem.summary(kd).onlinePages > 0) nodes.add(this.targetNode(kd.res.start));
    return [...nodes].sort((a, b) => a - b);
  }

  /** N_NORMAL_MEMORY: nodes with memory in a zone up to ZONE_NORMAL (boot RAM, or kmem blocks onlined to ZONE_NORMAL). */
  hasNormalMemory(): number[] {
    const nodes = new Set(this.ramNodes);
    for (const kd of this.k.kmem.devices.values()) if (kd.runs.some((r) => r.zone === 'Normal')) nodes.add(this.targetNode(kd.res.start));
    return [...nodes].sort((a, b) => a - b);
  }

  /**
   * build_zonelists(local): the local node, then find_next_best_node's picks among N_MEMORY nodes: the
   * nearest, "nodes under us" (a lower id) penalised, nodes with CPUs penalised, then the least loaded;
   * the first node of each new distance group gets a load (node_load, shared by one build of all nodes).
   */
  zonelistOf(local: number, nodeLoad: Map<number, number> = new Map()): number[] {
    const memory = this.hasMemory();
    const used = new Set<number>([local]);
    const order = [local];
    let prev = local;
    for (;;) {
      let best = -1;
      let min = Infinity;
      for (const n of memory) {
        if (used.has(n)) continue;
        let val = this.distance(local, n) + (n < local ? 1 : 0) + (n === 0 ? PENALTY_FOR_NODE_WITH_CPUS : 0);
        val = val * MAX_NUMNODES + (nodeLoad.get(n) ?? 0);
        if (val < min) {
          min = val;
          best = n;
        }
      }
      if (best < 0) return order;
      used.add(best);
      if (this.distance(local, best) !== this.distance(local, prev)) nodeLoad.set(best, (nodeLoad.get(best) ?? 0) + 1);
      order.push(best);
      prev = best;
    }
  }

  /** The nodes __build_all_zonelists builds for: every possible node on 6.12 (pgdats preallocated), the online ones before. */
  zonelistNodes(): number[] {
    return this.k.profile.release.startsWith('6.1.') ? [...this.online].sort((a, b) => a - b) : this.possible;
  }

  /** Point the core's DRAM allocator at node nid's zonelist (the nodes the core has RAM records for). */
  private useZonelist(nid: number): void {
    this.current = nid;
    // one node: nothing to choose (the default machine never changes the core's zonelist)
    if (this.coreNodes === 1 && this.coreZonelist === '0') return;
    const zl = this.zonelistOf(nid).filter((n) => n < this.coreNodes);
    const key = (zl.length ? zl : [0]).join(',');
    if (key === this.coreZonelist) return;
    this.k.pageAlloc.setZonelist(key.split(',').map(Number));
    this.coreZonelist = key;
  }

  /** Do allocations for node nid walk the zonelist the CPU's node walks now (one node: always)? */
  sameZonelist(nid: number): boolean {
    if (this.coreNodes === 1) return true;
    const key = (zl: number[]) => zl.filter((n) => n < this.coreNodes).join(',') || '0';
    return key(this.zonelistOf(nid)) === key(this.zonelistOf(this.current));
  }

  /** Run f with DRAM allocations for node nid (alloc_pages_node(nid, ...): vmemmap_alloc_block(node)), then back to the CPU's. */
  onNode<T>(nid: number, f: () => T): T {
    const was = this.current;
    this.useZonelist(nid);
    this.k.vmemmap.node = nid;
    try {
      return f();
    } finally {
      this.useZonelist(was);
      this.k.vmemmap.node = was;
    }
  }

  /**
   * Run f with DRAM allocations from node nid alone (alloc_pages_node(nid, __GFP_THISNODE): a node's own
   * nr_hugepages), then back to the CPU's zonelist. nid must have a record in the page allocator.
   */
  thisNode<T>(nid: number, f: () => T): T {
    const was = this.coreZonelist;
    this.k.pageAlloc.setZonelist([nid]);
    this.coreZonelist = String(nid);
    try {
      return f();
    } finally {
      this.k.pageAlloc.setZonelist(was.split(',').map(Number));
      this.coreZonelist = was;
    }
  }

  /** Node ids the page allocator has a record for (0 up to the highest node with System RAM). */
  allocNodes(): number {
    return this.coreNodes;
  }

  /** The boot's share of each node (after boot's allocations: never part of its MemTotal). */
  recordBoot(d: DramStats): void {
    this.bootUsed = d.byNode.map((n) => n.totalPages - n.freePages - n.byPurpose[Purpose.Slab]);
  }

  /** si_meminfo_node: node nid's managed pages and free pages (kmem's onlined blocks are the node of their device's target_node). */
  meminfo(nid: number): { totalram: number; freeram: number } {
    const d = this.k.pageAlloc.stats().byNode[nid] ?? { totalPages: 0, freePages: 0 };
    return { totalram: d.totalPages - (this.bootUsed[nid] ?? 0), freeram: d.freePages };
  }

  /**
   * Memory of node nid joined the page allocator (kmem's online_pages): a node it brought gets its place
   * in the zonelist allocations walk (build_all_zonelists). Nothing to do for a node it had already.
   */
  memoryAdded(nid: number): void {
    if (nid < this.coreNodes) return;
    this.coreNodes = this.k.pageAlloc.stats().byNode.length;
    this.coreZonelist = '';
    this.useZonelist(this.current);
  }
}

/** print_nodes_state: the mask as a bitmap list ("%*pbl": runs as a-b); an empty mask is just the newline. */
export function printNodesState(nodes: readonly number[]): string {
  const parts: string[] = [];
  const s = [...nodes].sort((a, b) => a - b);
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return `${parts.join(',')}
`;
}

/** si_meminfo_node of node nid. */
export function siMeminfoNode(k: Kernel, nid: number): { totalram: number; freeram: number } {
  return k.numa.meminfo(nid);
}

/**
 * node_read_meminfo (6.12, x86-64 without HIGHMEM, with THP and CONFIG_UNACCEPTED_MEMORY as Debian
 * builds it): MemTotal, MemFree, MemUsed and the HugeTLB pool from the model; the model has no page
 * cache, anonymous memory, slab accounting or user page tables, so those lines read 0.
 */
export function nodeReadMeminfo(k: Kernel, nid: number): string {
  const i = siMeminfoNode(k, nid);
  const K = (pages: number) => pages * 4;
  // "Node %d <label>%8lu kB": the labels carry their own padding, as the kernel's format strings do
  const kb = (label: string, v: number) => `Node ${nid} ${label}${String(v).padStart(8)} kB\n`;
  const zero = (label: string) => kb(label, 0);
  const hp = k.hugetlb.summary(nid);
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
function nodeDevDir(k: Kernel, nid: number): VfsDir {
  return dir(() => {
    const online = [...k.numa.online].sort((a, b) => a - b);
    const entries: Record<string, () => VfsNode> = {
      cpulist: () => file(() => (nid === 0 ? '0\n' : '\n')),
      // node_read_distance: the distance to each online node
      distance: () => file(() => `${online.map((n) => k.numa.distance(nid, n)).join(' ')}\n`),
    };
    // the lines are 6.12's (SecPageTables 6.0+, Unaccepted 6.5+): the older profiles have no meminfo here
    if (k.profile.pfnEra === 'v6') entries.meminfo = () => file(() => nodeReadMeminfo(k, nid));
    const blockBytes = k.cfg.memoryBlockSize;
    for (const b of memoryBlocks(k)) if (k.numa.targetNode(BigInt(b.id) * blockBytes + (b.kmem ? 0n : firstRamOffset(k, b.id))) === nid) entries[`memory${b.id}`] = () => memoryBlockDir(k, b);
    return entries;
  });
}

/** Where block id's first boot RAM byte sits in it (block 0 starts with the page the kernel keeps). */
function firstRamOffset(k: Kernel, id: number): bigint {
  const pages = Number(k.cfg.memoryBlockSize >> 12n);
  const r = k.ramRanges.find(([s, e]) => e > id * pages && s < (id + 1) * pages);
  return r ? BigInt(Math.max(r[0], id * pages) - id * pages) << 12n : 0n;
}

/** /sys/devices/system/node: the masks, and nodeN for each online node. */
export function nodeDir(k: Kernel): VfsDir {
  return dir(() => {
    const entries: Record<string, () => VfsNode> = {
      possible: () => file(() => printNodesState(k.numa.possible)),
      online: () => file(() => printNodesState([...k.numa.online])),
      // the one CPU is node 0's; no generic initiators
      has_cpu: () => file(() => printNodesState([0])),
      has_memory: () => file(() => printNodesState(k.numa.hasMemory())),
      has_normal_memory: () => file(() => printNodesState(k.numa.hasNormalMemory())),
      has_generic_initiator: () => file(() => printNodesState([])),
    };
    for (const n of [...k.numa.online].sort((a, b) => a - b)) entries[`node${n}`] = () => nodeDevDir(k, n);
    return entries;
  });
}
