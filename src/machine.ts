/**
 * createMachine(config): a simulated x86-64 machine with its e820 map, booted onto one Core.
 * Every public method validates its input first (KernelError EINVAL, nothing changed), then
 * runs the modelled kernel; a modelled kernel BUG poisons the machine for further changes.
 */
import { parseInteger, U64_MAX } from './args.ts';
import { ALTMAP_FIELDS, CoreTrap, INSPECT_NONE, INSPECT_NOT_CANONICAL, INSPECT_NOT_VMEMMAP, WALK_RES_ENTRIES, WALK_RES_LEVELS, WALK_RES_ROOT, WALK_RES_SIZE, type Core, type CoreWalk, type WalkLevel } from './core/core.ts';
import { loadCore, type Backend } from './core/load.ts';
import { decodeStructPage, type StructPage } from './core/structPage.ts';
import { daxctlDeviceJson, kmemFigures } from './dax/daxctl.ts';
import { altmapCounters, vmemAltmapNextPfn, vmemAltmapNrFree, vmemAltmapOffset, type AltmapCounters, type AltmapFields, type VmemAltmap } from './kernel/altmap.ts';
import type { Device } from './kernel/devres.ts';
import { E820_TYPES, applyMemmap, e820TypeOf, ramNodes, ramRanges, startKernel, type E820Range, type E820Type } from './kernel/e820.ts';
import { HostMemoryError, KernelError, MachinePoisonedError, invalid, show } from './kernel/errno.ts';
import type { TraceObserver } from './kernel/ftrace.ts';
import { checkInvariants, type InvariantReport } from './kernel/invariants.ts';
import { Kernel, type KernelLayout } from './kernel/kernel.ts';
import type { PageMap } from './kernel/memremap.ts';
import { Purpose } from './kernel/pagealloc.ts';
import { hex } from './kernel/printk.ts';
import { KERNELS, layoutFor, profileFor, type KernelName, type Profile } from './kernel/profile.ts';
import type { RegionResult } from './kernel/resource.ts';
import { Pmem, type CreateNamespaceOptions, type NamespaceDetail } from './nvdimm/pmem.ts';
import { bootUsedPages, procDir } from './kernel/procfs.ts';
import { memoryDir, memoryHotplugParams, probeMemoryBlockSize } from './kernel/memory.ts';
import { parseCmdline } from './kernel/cmdline.ts';
import { daxBusDevices } from './dax/sysfs.ts';
import { daxHmemProbe, hmemRegisterDevice } from './dax/hmem.ts';
import { dir, listDir, readFile, readLink, writeFile, type VfsDir } from './kernel/vfs.ts';
import { MAX_NUMNODES, nodeDir } from './kernel/node.ts';
import { ndBusDevices, regionDimms, regionMappings, regionSetCookie } from './nvdimm/sysfs.ts';
import type { DimmInfo, MappingInfo } from './nvdimm/ndctl.ts';
import { formatSizeHuman, parseSize } from './nvdimm/units.ts';
import { checkInterleaveWays, regionCapacity } from './nvdimm/region.ts';

export type { AltmapCounters } from './kernel/altmap.ts';
export type { E820Type } from './kernel/e820.ts';
export type SizeInput = bigint | number | string;

/** One entry of the firmware memory map (struct e820_entry) as createMachine takes it: page-aligned, disjoint. */
export interface E820Entry {
  /** Physical start address, in bytes (a bigint, a safe integer, or a size string such as "4G"). */
  start: SizeInput;
  /** Length in bytes; positive. */
  size: SizeInput;
  /** E820_RAM, E820_PMEM or E820_RESERVED, by e820_print_type's name. */
  type: E820Type;
  /**
   * The NUMA node the SRAT gives the range (its proximity domain's node), an integer below MAX_NUMNODES
   * (1024: Debian's CONFIG_NODES_SHIFT=10); default 0. A System RAM range's DRAM is that node's; a
   * Persistent Memory or Soft Reserved range's region and dax devices get it as target_node (and as
   * numa_node when the node has RAM, else the nearest node that has).
   */
  node?: number;
}

/** createMachine's options (the kernel's build configuration, boot parameters and the simulator's own); createMachine and checkMachineConfig throw KernelError EINVAL for an unknown key or a bad value. */
export interface MachineConfig {
  /** The firmware memory map (e820__memory_setup); default {@link defaultE820}(): 64 GiB of System RAM, 1 TiB of Persistent Memory. Needs one System RAM entry. */
  e820?: E820Entry[];
  /** X86_FEATURE_PSE: 2 MiB pages for the direct map and the vmemmap (default true). */
  pse?: boolean;
  /** X86_FEATURE_GBPAGES: 1 GiB direct-map pages (default true). */
  gbpages?: boolean;
  /** CONFIG_SPARSEMEM_VMEMMAP (default true); without it devm_memremap_pages has no vmemmap to put an altmap in. */
  sparsememVmemmap?: boolean;
  /** CONFIG_ZONE_DEVICE (default true); without it devm_memremap_pages fails. */
  zoneDevice?: boolean;
  /** The kernel modelled (default 'v4.5'). */
  kernel?: KernelName;
  /** The simulator's host-memory budget for backing pages, in bytes: 1 MiB to 3 GiB (default 2 GiB). */
  hostMemoryLimit?: bigint | number;
  /** The core the machine runs on (default 'wasm'). */
  backend?: Backend;
  /** memmap_init_zone as v4.5 shipped it ('as-shipped', the default) or as its altmap fix intended. */
  memmapInit?: 'as-shipped' | 'as-intended';
  /** Log pr_debug lines (altmap_alloc_block_buf, the vmemmap PMD runs). */
  debug?: boolean;
  /** Write struct pages out at once instead of as fill patterns. */
  eagerMemmap?: boolean;
  /**
   * The model's own: dax kmem takes memory blocks one at a time (each its own page-allocator range), not as
   * runs of alike adjacent blocks. Same results, slower; the reference the runs are tested against.
   */
  kmemBlockByBlock?: boolean;
  /** x86-64 paging levels: 4 (46-bit physical, 64 TiB) or 5 (LA57, 52-bit physical, 4 PiB; v6 only). */
  paging?: 4 | 5;
  /** ndctl's region align attribute in bytes (v6 default 16 MiB; none before v5.7); null for none. */
  regionAlign?: bigint | number | string | null;
  /** Regions (by index, in address order) whose NVDIMM has no labels: one raw namespaceN.0 over the whole region (nd_namespace_io). */
  labelLessRegions?: number[];
  /** The DIMMs interleaved in each Persistent Memory region (by index, in address order), default 1: nmemN per DIMM, the region's align from default_align(); each a positive integer up to 32 that splits its region into whole pages. */
  interleaveWays?: number[];
  /** memory_block_size_bytes() for dax kmem hot-plug; default probe_memory_block_size()'s rule of the era: 128 MiB below 64 GiB of boot RAM, up to 2 GiB above. */
  memoryBlockSize?: bigint | number | string;
  /** X86_FEATURE_HYPERVISOR: the kernel runs in a VM (default true, as the recorded QEMU guests); on bare metal 64 GiB of RAM or more gets 2 GiB memory blocks. */
  hypervisor?: boolean;
  /** hugetlb_optimize_vmemmap: HVO for HugeTLB pages (v6; default on). */
  hugetlbVmemmapOptimize?: boolean;
  /** The kernel command line: memory_hotplug.memmap_on_memory=, memhp_default_state= and memmap= (nn!ss legacy pmem, nn%ss+0xefffffff Soft Reserved, nn$ss, nn@ss) are honoured, the rest passed on as the kernel passes it. */
  cmdline?: string;
}

/** The fields of a struct vmem_altmap as devm_memremap_pages and createAltmap take them, in pages (pfns); each below 2^52. */
export interface AltmapInput {
  /** base_pfn: the first pfn of the range the altmap serves. */
  basePfn: number | bigint;
  /** reserve: pfns kept for the driver from base_pfn (the info block). */
  reserve: number | bigint;
  /** free: pages after the reserve set aside for memmap storage. */
  free: number | bigint;
  /** align: pool pages already skipped for alignment (default 0). */
  align?: number | bigint;
  /** alloc: pool pages already consumed (default 0). */
  alloc?: number | bigint;
}

/** A physical address range as struct resource holds it (the `res` of devm_memremap_pages), in bytes. */
export interface PhysRange {
  /** First byte; page-aligned. */
  start: bigint | number;
  /** Inclusive, as in struct resource. */
  end: bigint | number;
}

/** A page-table walk that reached a present leaf (what crash's vtop shows): the physical address and every level read. */
export interface WalkResult {
  /** The physical address the virtual address maps to. */
  phys: bigint;
  /** Bytes the leaf maps: 4096, 2 MiB (PMD) or 1 GiB (PUD). */
  pageSize: number;
  /** The levels read, root first. */
  levels: WalkLevel[];
}

const LEVELS_4 = ['pgd', 'pud', 'pmd', 'pte'] as const;
const LEVELS_5 = ['pgd', 'p4d', 'pud', 'pmd', 'pte'] as const;
const PTE_PFN_MASK = 0x000ffffffffff000n;

/**
 * machine.walk's result: phys and pageSize at once, the levels drawn on first read from what the walk read
 * (the entries, kept as numbers), so that a walk costs one crossing into the core and no level objects
 * nobody reads. JSON.stringify and util.inspect show the levels too.
 */
class Walk implements WalkResult {
  readonly phys: bigint;
  readonly pageSize: number;
  readonly #va: bigint;
  readonly #five: boolean;
  /** The root table's phys, then each level's entry as bits 51..0 and bits 63..52 (core.ts WALK_RES_*). */
  readonly #raw: number[];
  #levels: WalkLevel[] | null = null;

  constructor(va: bigint, phys: bigint, r: Float64Array, five: boolean) {
    this.phys = phys;
    this.pageSize = r[WALK_RES_SIZE];
    this.#va = va;
    this.#five = five;
    const e = WALK_RES_ENTRIES;
    const root = r[WALK_RES_ROOT];
    // one array literal per depth: the common walks (2 MiB vmemmap leaves, 4 KiB pages) copy without a loop
    switch (r[WALK_RES_LEVELS]) {
      case 3:
        this.#raw = [root, r[e], r[e + 1], r[e + 2], r[e + 3], r[e + 4], r[e + 5]];
        break;
      case 4:
        this.#raw = [root, r[e], r[e + 1], r[e + 2], r[e + 3], r[e + 4], r[e + 5], r[e + 6], r[e + 7]];
        break;
      default:
        this.#raw = [root, ...r.subarray(e, e + 2 * r[WALK_RES_LEVELS])];
    }
  }

  /** The levels read, root first (as walkVerbose reports them). */
  get levels(): WalkLevel[] {
    if (this.#levels === null) {
      const raw = this.#raw;
      const names = this.#five ? LEVELS_5 : LEVELS_4;
      const top = this.#five ? 48 : 39;
      const levels: WalkLevel[] = [];
      let table = BigInt(raw[0]);
      for (let i = 0; 2 * i + 1 < raw.length; i++) {
        const entry = BigInt(raw[2 * i + 1]) | (BigInt(raw[2 * i + 2]) << 52n);
        levels.push({ level: names[i], index: Number((this.#va >> BigInt(top - 9 * i)) & 511n), entry, table });
        table = entry & PTE_PFN_MASK;
      }
      this.#levels = levels;
    }
    return this.#levels;
  }

  toJSON(): { phys: bigint; pageSize: number; levels: WalkLevel[] } {
    return { phys: this.phys, pageSize: this.pageSize, levels: this.levels };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): object {
    return this.toJSON();
  }
}

/** machine.pagesMany's result: the struct pages of [startPfn, startPfn + count), as the core stores them. */
export interface StructPages {
  /** The first pfn. */
  startPfn: number;
  /** Pages read. */
  count: number;
  /** The 8 raw words of each struct page: page i at [8i, 8i + 8) (zero where not mapped); page(pfn).words of each. */
  words: BigUint64Array;
  /** 1 where the page's vmemmap is mapped (page(pfn) is not null), else 0. */
  mapped: Uint8Array;
}

/** DRAM use by purpose, in 4 KiB pages (the page allocator's counts). */
export interface DramUsage {
  /** System RAM pages the page allocator manages: boot RAM, and the memory blocks kmem has onlined (they joined it). */
  totalPages: number;
  /** Pages free for allocation. */
  freePages: number;
  /** Page-table pages other than the direct map's: the root PGD, vmemmap tables. */
  pageTablePages: number;
  /** DRAM holding struct pages: the boot memmap, map=mem memmaps, base-page fallbacks. */
  memmapPages: number;
  /** Page-table pages of the direct map. */
  directMapPages: number;
  /** Small kernel objects (devres payloads such as the page_map). */
  slabPages: number;
  /** HugeTLB pages (the memory itself, not its memmap). */
  hugetlbPages: number;
}

/** A digest of the page tables, for comparing two machines or two moments. */
export interface PageTableDigest {
  /** Page-table pages reachable from the root. */
  tables: number;
  /** 32-bit FNV-1a over their bytes in walk order, as 8 hex digits. */
  digest: string;
}

/** One memremap'd device's memmap (a dev_pagemap), in 4 KiB pages. */
export interface DeviceMemmapStats {
  /** Pages holding the device's struct pages: altmapPages + dramMemmapPages. */
  memmapPages: number;
  /** Of those, pages in DRAM. */
  dramMemmapPages: number;
  /** Of those, pages from the altmap (the device's own memory): its alloc. */
  altmapPages: number;
  /** Memory sections (128 MiB) hot-added for the range. */
  sections: number;
  /** First physical byte of the range. */
  start: bigint;
  /** Last physical byte of the range (inclusive). */
  end: bigint;
  /** pgmap->vmemmap_shift (compound devmaps), 0 for none. */
  vmemmapShift: number;
  /** vmemmap pages a compound devmap did not need (shared tail pages), vs one per 64 struct pages. */
  vmemmapPagesSaved: number;
}

/** Machine.stats(): the memory accounting of the modelled kernel (like /proc/meminfo and /proc/vmstat), in pages unless named otherwise. */
export interface MachineStats {
  /** DRAM use by purpose. */
  dram: DramUsage;
  /**
   * The same per NUMA node, indexed by node id up to the highest node with System RAM (a node id
   * without RAM reads all 0): each node's DRAM, and what the kernel charged to it (a map=mem memmap and
   * its tables go to the device's node, or the nearest with DRAM).
   */
  nodes: DramUsage[];
  /** HugeTLB pages and the vmemmap pages HVO freed for them. */
  hugetlb: {
    /** 2 MiB HugeTLB pages allocated. */
    pages2M: number;
    /** 1 GiB HugeTLB pages allocated. */
    pages1G: number;
    /** vmemmap pages HVO (hugetlb_vmemmap_optimize) gave back to the allocator. */
    vmemmapPagesFreed: number;
  };
  /** Each live dev_pagemap's memmap, by device name. */
  devices: Record<string, DeviceMemmapStats>;
  /** The simulator's host memory. */
  host: {
    /** Host bytes backing the machine's written pages (bounded by hostMemoryLimit). */
    backedBytes: number;
    /** The machine's hostMemoryLimit: past it an operation fails with HostMemoryError. */
    limitBytes: number;
  };
  /** Struct pages memmap init has set up since boot. */
  memmapInitPages: number;
  /** dax kmem devices in system-ram mode. */
  systemRam: Record<
    string,
    {
      /** Memory blocks (memory_block_size_bytes each) add_memory_driver_managed hot-added. */
      blocks: number;
      /** Of those, blocks online (memory block state "online"). */
      onlineBlocks: number;
      /** Pages of the online blocks in the page allocator (less the blocks' own memmap). */
      onlinePages: number;
      /** Pages of the blocks holding their own memmap (memmap_on_memory). */
      memmapOnMemoryPages: number;
      /** Pages of their memmap in DRAM. */
      dramMemmapPages: number;
      /** daxctl_memory_is_movable: every block online in ZONE_MOVABLE (true), in ZONE_NORMAL (false), else null. */
      movable: boolean | null;
      /** The capacity lost to block alignment: bytes of the device range before its first and after its last whole memory block (dax_kmem_range). */
      trimmedBytes: {
        /** From the device's start up to the first block boundary. */
        head: bigint;
        /** From the last block boundary to the device's end. */
        tail: bigint;
      };
    }
  >;
}

/** What an address is, as drgn's identify_address answers it: which memmap, pool, namespace or map it falls in. */
export interface AddressIdentity {
  /** The address asked about. */
  addr: bigint;
  /** Kernel-half canonical addresses are virtual; anything else is taken as physical. */
  space: 'virtual' | 'physical';
  /** What it falls in: a kernel mapping (vmemmap, direct map), an iomem resource, a namespace or memremap'd device, or nothing. */
  kind: 'vmemmap' | 'direct-map' | 'System RAM' | 'System RAM (kmem)' | 'namespace' | 'device' | 'Persistent Memory' | 'Persistent Memory (legacy)' | 'Soft Reserved' | 'Reserved' | 'none';
  /** The physical address: the address itself, or where a mapped virtual address lands. */
  phys: bigint | null;
  /** vmemmap: the pfn whose struct page this is. */
  pfn?: number;
  /** The namespace and the pfn/dax device (or the memremap'd device) the physical address belongs to. */
  namespace?: string;
  /** The pfn/dax device of the namespace (null for a raw one), or the memremap'd device. */
  device?: string | null;
  /** Inside a namespace: which part of its layout. */
  part?: 'left alone' | 'info block' | 'altmap pool' | 'padding' | 'data' | 'trimmed';
  /** For a virtual address: what the memory it maps is. */
  target?: AddressIdentity;
  /** One line, as a person would say it. */
  description: string;
}

/** Machine.snapshot(): the kernel-visible state, plain data to compare with deep equality. */
export interface MachineSnapshot {
  /** DRAM use by purpose, as stats().dram. */
  dram: DramUsage;
  /** Present sections as [first, last] section-number runs (presentSections()). */
  presentSections: Array<[number, number]>;
  /** The pgmap lookup (pgmap_radix / pgmap_array): [first pfn, last pfn, device name] per entry. */
  lookup: Array<[number, number, string]>;
  /** The iomem resource tree (/proc/iomem), as plain data. */
  iomem: unknown;
  /** Bound devices, by name. */
  devices: string[];
  /** Namespaces, by name ("namespace0.0"). */
  namespaces: string[];
  /** pageTableDigest(). */
  pageTables: PageTableDigest;
}

/** A region as `ndctl list -R` shows it (Machine.listRegions). */
export interface RegionListing {
  /** regionN */
  dev: string;
  /** N */
  id: number;
  /** The region's size, in bytes. */
  size: bigint;
  /** The region's align attribute (v5.7+), null when the kernel has none. */
  align: bigint | null;
  /** available_size (nd_region_available_dpa). */
  availableSize: bigint;
  /** max_available_extent (nd_region_allocatable_dpa). */
  maxAvailableExtent: bigint;
  /** numa_node */
  numaNode: number;
  /** target_node (v5.1+), null before. */
  targetNode: number | null;
  /** Its namespaces' names, in creation order. */
  namespaces: string[];
  /** Its idle seed namespaces' names (listed with -i). */
  idleSeeds: string[];
  /** set_cookie, for a region with an interleave set (label-backed); absent for a label-less one. */
  isetId?: bigint;
  /** Its mappingN: the DIMMs it maps. */
  mappings: MappingInfo[];
}

export const GiB = 1n << 30n;

/** pagesMany's most pages a call (64 MiB of struct page words). */
export const PAGES_MANY_MAX = 1 << 20;

/** walkMany's value for an address that is not mapped. */
export { UNMAPPED } from './core/core.ts';

/**
 * The default machine's e820, or one like it: System RAM from 1 MiB (64 GiB by default), and
 * Persistent Memory (1 TiB by default; none for 0) at `pmemStart` or the next 1 GiB boundary above RAM.
 */
export function defaultE820(o: { dramSize?: SizeInput; pmemSize?: SizeInput; pmemStart?: SizeInput } = {}): E820Range[] {
  const ramStart = 0x100000n;
  const ramSize = o.dramSize === undefined ? 64n * GiB : parseSize(o.dramSize, 'dramSize');
  const pmemSize = o.pmemSize === undefined ? 1024n * GiB : parseSize(o.pmemSize, 'pmemSize');
  const pmemStart = o.pmemStart === undefined ? ((ramStart + ramSize + GiB - 1n) / GiB) * GiB : parseSize(o.pmemStart, 'pmemStart');
  const e820: E820Range[] = [{ start: ramStart, size: ramSize, type: 'System RAM' }];
  if (pmemSize > 0n) e820.push({ start: pmemStart, size: pmemSize, type: 'Persistent Memory' });
  return e820;
}

/** A live view of a struct vmem_altmap held by the machine. */
export class Altmap {
  /** @internal */
  constructor(
    /** @internal the machine whose altmap this is */ readonly m: Machine,
    /** @internal */ readonly ref: VmemAltmap,
  ) {}

  private fields(): AltmapFields {
    return this.m._altmapFields(this);
  }
  /** The altmap's id on this machine (what toVmemAltmapMany reports): unique, never reused. */
  get id(): number {
    return this.ref.gen;
  }
  /** base_pfn: the first pfn of the range. Reads throw KernelError EINVAL once the machine is disposed. */
  get basePfn(): number {
    return Number(this.fields().basePfn);
  }
  /** reserve: pfns kept for the driver from base_pfn. */
  get reserve(): number {
    return Number(this.fields().reserve);
  }
  /** free: pages set aside for memmap storage. */
  get free(): number {
    return Number(this.fields().free);
  }
  /** align: pool pages skipped for alignment. */
  get align(): number {
    return Number(this.fields().align);
  }
  /** alloc: pool pages vmemmap_populate has consumed. */
  get alloc(): number {
    return Number(this.fields().alloc);
  }
  /** vmem_altmap_next_pfn */
  get nextPfn(): number {
    return vmemAltmapNextPfn(this.fields());
  }
  /** vmem_altmap_nr_free */
  get nrFree(): number {
    return vmemAltmapNrFree(this.fields());
  }
  /** Every counter at once, as plain numbers (JSON.stringify uses it). */
  toJSON(): AltmapCounters {
    return altmapCounters(this.fields());
  }
}

export class Machine {
  /** @internal */ readonly k: Kernel;
  /** The kernel modelled (MachineConfig.kernel). */
  readonly kernel: KernelName;
  /** The core it runs on (MachineConfig.backend). */
  readonly backend: Backend;
  /** The firmware memory map it booted with, validated and sorted by start. */
  readonly e820: ReadonlyArray<E820Range>;
  /** @internal */ readonly pmem: Pmem;
  /** x86-64 paging levels: 4, or 5 with LA57. */
  readonly paging: 4 | 5;
  /** MAX_PHYSMEM_BITS: 46 with 4-level paging, 52 with 5-level. */
  readonly physBits: number;
  /** The modelled kernel's release, as its banner prints it (utsname()->release). */
  readonly release: string;
  private disposed = false;
  /** The core, for the inspection calls (reads only; everything else goes through the kernel). */
  private readonly core: Core;
  /** 2^physBits as a bigint and the pfns below it: the inspection calls' range checks. */
  private readonly physEnd: bigint;
  private readonly pfnEnd: number;
  private readonly hostMemoryLimit: number;
  /** Altmap views by pgmap id (the core's lookup answers with those), and the ids toVmemAltmapMany reports. */
  private readonly pgmapAltmaps: Array<Altmap | null> = [];
  private readonly pgmapAltmapIds: number[] = [];

  /** @internal boots the kernel on the core: createMachine() is the way in. */
  constructor(core: Core, c: ResolvedConfig) {
    this.backend = c.backend;
    this.kernel = c.kernel;
    this.e820 = c.e820;
    this.paging = c.layout.paging;
    this.physBits = c.layout.physBits;
    this.hostMemoryLimit = Number(c.core.hostMemoryLimit);
    this.release = c.profile.release;
    this.core = core;
    this.physEnd = 1n << BigInt(c.layout.physBits);
    this.pfnEnd = 2 ** (c.layout.physBits - 12);
    this.k = new Kernel(core, c.profile, c.kernelConfig, c.layout, c.debug);
    this.pmem = new Pmem(this.k, c.regionAlign, c.labelLessRegions, c.interleaveWays, c.regionAlignGiven);
    const boot = startKernel(this.k, c.e820, c.cmdline, c.cmdlineMessages, c.firmwareE820);
    // the drivers' initcalls, in the order they number their memory regions (hmem first before 6.3)
    const hmemEarly = this.k.profile.hmemBootRegister ? boot.softReserved.map((r) => hmemRegisterDevice(this.k, r)) : [];
    for (const res of boot.pmem) this.pmem.addRegion(res);
    for (const res of boot.legacyPmem) this.pmem.addRegion(res, true);
    const bootUsed = bootUsedPages(this.k);
    this.k.numa.recordBoot(this.k.pageAlloc.stats());
    // dax_hmem (a module, loaded after boot's own allocations): its devices, and on 6.3+ kmem's System RAM
    const hmem = this.k.profile.hmemBootRegister ? hmemEarly : boot.softReserved.map((r) => hmemRegisterDevice(this.k, r));
    for (const h of hmem) daxHmemProbe(this.k, h);
    this.k.drainEvents();
    this.fs = dir(() => ({
      proc: () => procDir(this.k, bootUsed),
      sys: () =>
        dir(() => ({
          bus: () =>
            dir(() => ({
              dax: () => dir(() => ({ devices: () => daxBusDevices(this.k) })),
              nd: () => dir(() => ({ devices: () => ndBusDevices(this.pmem, this.k.numa) })),
            })),
          devices: () => dir(() => ({ system: () => dir(() => ({ memory: () => memoryDir(this.k), node: () => nodeDir(this.k) })) })),
          module: () => dir(() => ({ memory_hotplug: () => dir(() => ({ parameters: () => memoryHotplugParams(this.k) })) })),
          kernel: () => dir(() => ({ tracing: () => this.k.ftrace.tracefs() })),
        })),
    }));
  }

  /** The kernel's own files (/proc, /sys) as this kernel formats them. */
  private readonly fs: VfsDir;

  /** Read a file of the kernel's (`cat /proc/iomem`): KernelError ENOENT for a path it does not have. */
  readFile(path: string): string {
    this.live();
    return readFile(this.fs, path);
  }

  /** The entries of a directory (`ls /sys/bus/nd/devices`), sorted. */
  listDir(path: string): string[] {
    this.live();
    return listDir(this.fs, path);
  }

  /** readlink(2) of a sysfs bus entry (`readlink /sys/bus/dax/devices/dax0.0`): KernelError EINVAL for what is not a link. */
  readLink(path: string): string {
    this.live();
    return readLink(this.fs, path);
  }

  /** `echo text > path` (or `>>` with append): the attribute's store() runs, refusing with the kernel's errno. */
  writeFile(path: string, text: string, opts: { append?: boolean } = {}): void {
    this.mutable();
    if (typeof text !== 'string') invalid(`text ${show(text)} is not a string`);
    if (text.length > 4096) invalid(`a write of ${text.length} bytes is over PAGE_SIZE (sysfs takes at most 4096)`);
    const append = snapshotArgs(opts)?.append ?? false;
    if (typeof append !== 'boolean') invalid(`append ${show(append)} is not true or false`);
    this.run(() => writeFile(this.fs, path, text, append), 'sh');
  }

  /**
   * The function_graph trace of what `fn` makes the kernel do: tracing set up as the recorded real traces
   * were (current_tracer function_graph, options/funcgraph-tail 1, set_ftrace_filter = `filter`, or every
   * function the profile can trace), the buffer read after `fn` returns, the previous settings restored.
   * The DURATION column is blank (the model has no clock). `fn` throwing rethrows after the restore.
   * `opts.onCall` is told of each traced call's entry and return (and of a task switch) as it is written,
   * while the kernel runs: it may read the machine (stats(), findDevPagemap, readFile), not change it.
   * @throws KernelError EINVAL for a filter name that is not in available_filter_functions.
   */
  trace(fn: (m: Machine) => unknown, filter?: readonly string[], opts: { onCall?: TraceObserver } = {}): string {
    this.mutable();
    if (typeof fn !== 'function') invalid(`trace needs a function to run, not ${show(fn)}`);
    const onCall = snapshotArgs(opts)?.onCall;
    if (onCall !== undefined && typeof onCall !== 'function') invalid(`onCall ${show(onCall)} is not a function`);
    if (filter !== undefined && (!Array.isArray(filter) || filter.some((f) => typeof f !== 'string' || !/^[!A-Za-z0-9_.*]+$/.test(f)))) invalid(`filter ${show(filter)} is not a list of function names`);
    const ft = this.k.ftrace;
    const saved = ft.settings();
    try {
      ft.writeFilter((filter ?? []).join(' '), false);
      ft.setTail(true);
      ft.setMaxDepth(0);
      ft.setTracer('function_graph');
      ft.clear();
      ft.setTracingOn(true);
      ft.observer = onCall ?? null;
      fn(this);
      return ft.render();
    } finally {
      ft.observer = null;
      ft.restore(saved);
    }
  }

  // ---------------------------------------------------------------- guards

  private live(): void {
    if (this.disposed) throw new KernelError('EINVAL', 'machine has been disposed');
  }

  /** Checks before any change: alive and not poisoned. */
  private mutable(): void {
    this.live();
    if (this.k.poisoned) throw this.k.poisonError();
  }

  /** Run a mutating operation as task `comm` (current->comm: the tool whose system call it is); a core trap poisons the machine. */
  private run<T>(fn: () => T, comm = 'altmap'): T {
    this.mutable();
    this.k.comm = comm;
    try {
      return fn();
    } catch (e) {
      if (e instanceof CoreTrap) {
        this.k.poisoned = `internal error: ${e.message}`;
        this.k.log.printk('emerg', `altmap-sim: internal error in the ${this.backend} core: ${e.message}`);
        throw new MachinePoisonedError(this.k.poisoned);
      }
      throw e;
    } finally {
      this.k.drainEvents();
      this.k.ftrace.settle();
    }
  }

  // ---------------------------------------------------------------- devices, memremap

  /**
   * device_register of a test device (driver "altmap_test") to memremap against: returns its handle.
   * @throws KernelError EINVAL for a name not of 1 to 64 of [A-Za-z0-9_.:-]; EBUSY when a bound device has it.
   */
  createDevice(name: string): {
    /** The device name, as dev_name() gives it. */
    name: string;
  } {
    this.mutable();
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) invalid(`device name ${show(name)} is not a valid device name`);
    this.k.devices.create(name, 'altmap_test');
    return { name };
  }

  /** @internal */
  device(ref: { name: string } | string): Device {
    const name = typeof ref === 'string' ? ref : ref?.name;
    const dev = typeof name === 'string' ? this.k.devices.get(name) : undefined;
    if (!dev) throw new KernelError('ENODEV', `no device ${show(name)}`);
    if (!dev.bound) throw new KernelError('EINVAL', `device ${name} is already unbound`);
    return dev;
  }

  /** Driver detach: devres entries released in reverse order. */
  unbind(device: { name: string } | string): void {
    this.mutable();
    const dev = this.device(device);
    if (this.pmem.ownsDevice(dev.name)) invalid(`device ${dev.name} belongs to a namespace: use destroyNamespace`);
    this.run(() => this.k.devices.unbind(dev));
  }

  /** devm_memremap_pages(dev, res, altmap): returns __va(res.start). `end` is inclusive. */
  devmMemremapPages(device: { name: string } | string, res: PhysRange, altmap?: AltmapInput | null): bigint {
    this.mutable();
    // every argument is read (each getter once) before anything is looked up or changed
    const start = this.physArg(res?.start, 'res.start');
    const end = this.physArg(res?.end, 'res.end');
    const fields = altmap == null ? null : this.altmapArg(altmap);
    const dev = this.device(device);
    if (end < start) invalid(`res.end ${hex(end)} is below res.start ${hex(start)}`);
    if (start % 4096n !== 0n) invalid(`res.start ${hex(start)} is not page-aligned`);
    if ((end + 1n) % 4096n !== 0n) invalid(`res.end ${hex(end)} does not end a page (expected ...fff)`);
    this.mutable();
    return this.run(() => this.k.memremap.devmMemremapPages(dev, start, end, fields));
  }

  /** find_dev_pagemap */
  /**
   * find_dev_pagemap (get_dev_pagemap): the dev_pagemap whose range the pgmap lookup holds for `phys`, or null.
   * @throws KernelError EINVAL for an address beyond the physical address space.
   */
  findDevPagemap(phys: bigint | number): {
    /** Name of the device that memremap'd it. */
    dev: string;
    /** pgmap->res (range), in bytes; end inclusive. */
    res: {
      /** First byte. */
      start: bigint;
      /** Last byte (inclusive). */
      end: bigint;
    };
    /** pgmap->altmap, null without one. */
    altmap: Altmap | null;
    /** Released with its device (a stale lookup entry still points at it). */
    freed: boolean;
  } | null {
    if (this.disposed) this.live();
    // a safe integer or a bigint inside the physical address space passes without allocating
    let pfn: number;
    if (typeof phys === 'number' && phys >= 0 && phys < 2 ** this.physBits && Number.isInteger(phys)) pfn = Math.floor(phys / 4096);
    else if (typeof phys === 'bigint' && phys >= 0n && phys < this.physEnd) pfn = Math.floor(Number(phys) / 4096);
    else pfn = Number(this.physArg(phys, 'phys') >> 12n);
    const id = this.core.pgmapAt(pfn);
    return id < 0 ? null : this.pgmapView(this.pgmapById(id));
  }

  /** The host's pgmap for an id the core's lookup answered with (the registry names its device). */
  private pgmapById(id: number): PageMap {
    const pm = this.k.memremap.byId.get(id);
    if (!pm) throw new CoreTrap(`the core's pgmap lookup names pgmap ${id}, which the kernel does not hold`);
    return pm;
  }

  private pgmapView(pm: PageMap) {
    return {
      dev: pm.dev.name,
      res: { start: pm.start, end: pm.end },
      altmap: pm.altmap !== null ? this.altmapView(pm.altmap) : null,
      freed: pm.freed,
    };
  }

  /** The altmap view of a pgmap id (views are live, so one per altmap serves every caller). */
  private pgmapAltmap(id: number): Altmap | null {
    const have = this.pgmapAltmaps[id];
    if (have !== undefined) return have;
    const a = this.pgmapById(id).altmap;
    const view = a !== null ? this.altmapView(a) : null;
    this.pgmapAltmaps[id] = view;
    this.pgmapAltmapIds[id] = view !== null ? view.id : -1;
    return view;
  }

  private readonly altmapViews = new Map<number, Altmap>();
  private altmapView(ref: VmemAltmap): Altmap {
    let v = this.altmapViews.get(ref.gen);
    if (v === undefined) this.altmapViews.set(ref.gen, (v = new Altmap(this, ref)));
    return v;
  }

  /**
   * to_vmem_altmap(memmap_start): the altmap of the pgmap holding the struct page's pfn (page_to_pfn and
   * the pgmap lookup run in the core).
   * @throws KernelError EINVAL when the address is not the start of a struct page in the vmemmap.
   */
  toVmemAltmap(pageVaddr: bigint | number): Altmap | null {
    if (this.disposed) this.live();
    const va = typeof pageVaddr === 'bigint' && pageVaddr >= 0n && pageVaddr <= U64_MAX ? pageVaddr : this.u64Arg(pageVaddr, 'vaddr');
    const id = this.core.toVmemAltmap(va);
    if (id >= 0) return this.pgmapAltmap(id);
    return id === INSPECT_NONE ? null : this.notStructPage(va, id);
  }

  /**
   * to_vmem_altmap of each struct page address: the id (Altmap.id) of its pgmap's altmap, or -1 for none.
   * One crossing into the core for the whole batch.
   * @throws KernelError EINVAL for input that is not a BigUint64Array, or an address that is not the start of a struct page (named by index).
   */
  toVmemAltmapMany(vas: BigUint64Array): Int32Array {
    this.live();
    if (!(vas instanceof BigUint64Array)) invalid(`vas ${show(vas)} is not a BigUint64Array of struct page addresses`);
    const out = new Int32Array(vas.length);
    const bad = this.core.toVmemAltmapMany(vas, out);
    if (bad >= 0) invalid(`vas[${bad}]: ${this.structPageRefusal(vas[bad], out[bad])}`);
    const ids = this.pgmapAltmapIds;
    for (let i = 0; i < out.length; i++) {
      const p = out[i];
      if (p < 0) continue;
      let id = ids[p];
      if (id === undefined) {
        this.pgmapAltmap(p);
        id = ids[p];
      }
      out[i] = id;
    }
    return out;
  }

  /** A standalone struct vmem_altmap (for the allocator scenarios no device backs). */
  createAltmap(a: AltmapInput): Altmap {
    this.mutable();
    const f = this.altmapArg(a);
    const made = this.k.altmaps.create(f);
    // the core's altmap table grows with the model's memory: only the host can run out of room
    if (!made) throw new HostMemoryError();
    this.standaloneAltmaps.add(made.gen);
    return this.altmapView(made);
  }

  private readonly standaloneAltmaps = new Set<number>();

  /**
   * Release a standalone altmap made by {@link createAltmap} (the model's own: it backs no device). Its
   * last values stay readable; writes through it are EINVAL from here on.
   * @throws KernelError EINVAL for an altmap of another machine, one a device holds, or one already released.
   */
  releaseAltmap(altmap: Altmap): void {
    this.mutable();
    this._altmapFields(altmap, true);
    if (!this.standaloneAltmaps.has(altmap.ref.gen)) invalid('altmap belongs to a device (it goes with the device: unbind or destroy it)');
    this.standaloneAltmaps.delete(altmap.ref.gen);
    this.k.altmaps.release(altmap.ref);
  }

  /** vmem_altmap_offset */
  vmemAltmapOffset(altmap: Altmap): number {
    return vmemAltmapOffset(this._altmapFields(altmap));
  }

  /** vmem_altmap_free: alloc -= nrPfns (no checks, as in the kernel; unsigned wrap). */
  vmemAltmapFree(altmap: Altmap, nrPfns: number): void {
    this.mutable();
    this._altmapFields(altmap, true);
    this.countArg(nrPfns, 'nrPfns');
    this.run(() => this.k.altmaps.free(altmap.ref, nrPfns));
  }

  /** altmap_alloc_block_buf: __va of the block, or null. */
  altmapAllocBlockBuf(altmap: Altmap, bytes: number | bigint): bigint | null {
    this.mutable();
    this._altmapFields(altmap, true);
    const size = this.u64Arg(bytes, 'bytes');
    if (size > 1n << 52n) invalid(`bytes ${size} is beyond any allocation on a ${this.physBits}-bit machine`);
    return this.run(() => {
      if (size % 4096n !== 0n) {
        this.k.log.printOnce('altmap_alloc_block_buf:size', 'warn', `altmap_alloc_block_buf: allocations must be multiple of PAGE_SIZE (${size})`);
        return null;
      }
      const pfn = this.k.altmaps.alloc(altmap.ref, Number(size / 4096n));
      this.k.drainEvents();
      return pfn < 0 ? null : this.k.va(BigInt(pfn) << 12n);
    });
  }

  /** @internal */
  _altmapFields(a: Altmap, forWrite = false): AltmapFields {
    this.live();
    if (!(a instanceof Altmap)) invalid('not an altmap of this machine');
    if (a.m !== this) invalid('altmap belongs to another machine');
    if (this.k.altmaps.alive(a.ref)) return this.k.altmaps.read(a.ref);
    const last = this.k.altmaps.fields(a.ref);
    if (last && !forWrite) return last;
    throw new KernelError('EINVAL', 'altmap was freed with its device (its last values can be read, not changed)');
  }

  /** False once the altmap's page_map has been freed: reads then show its last values. */
  isLive(a: Altmap): boolean {
    return this.k.altmaps.alive(a.ref);
  }

  // ---------------------------------------------------------------- inspection

  /** pfn_to_page: the struct page's vmemmap address (the core's arithmetic). */
  pfnToPage(pfn: number): bigint {
    if (this.disposed) this.live();
    if (!(typeof pfn === 'number' && pfn >= 0 && pfn < this.pfnEnd && Number.isInteger(pfn))) this.pfnArg(pfn);
    return this.core.pfnToPage(pfn);
  }

  /** page_to_pfn (the core's arithmetic). @throws KernelError EINVAL for an address that is not the start of a struct page in the vmemmap. */
  pageToPfn(vaddr: bigint | number): number {
    if (this.disposed) this.live();
    const va = typeof vaddr === 'bigint' && vaddr >= 0n && vaddr <= U64_MAX ? vaddr : this.u64Arg(vaddr, 'vaddr');
    const pfn = this.core.pageToPfn(va);
    return pfn >= 0 ? pfn : this.notStructPage(va, pfn);
  }

  /** page_to_pfn's refusal, as a KernelError EINVAL. */
  private notStructPage(va: bigint, code: number): never {
    return invalid(this.structPageRefusal(va, code));
  }

  private structPageRefusal(va: bigint, code: number): string {
    if (code !== INSPECT_NOT_VMEMMAP) return `${hex(va)} is not the start of a 64-byte struct page`;
    const r = this.k.vmemmap.range();
    return `${hex(va)} is not a vmemmap address (struct pages live at ${hex(r.start)}..${hex(r.end)})`;
  }

  /** The struct page of pfn, decoded; null when its memmap is not mapped. */
  page(pfn: number): StructPage | null {
    if (this.disposed) this.live();
    if (!(typeof pfn === 'number' && pfn >= 0 && pfn < this.pfnEnd && Number.isInteger(pfn))) this.pfnArg(pfn);
    const w = this.k.memmap.readPage(pfn);
    return w ? decodeStructPage(pfn, this.core.pfnToPage(pfn), w, this.k.memmap.layout) : null;
  }

  /**
   * The struct pages of pfns [startPfn, startPfn + count) in typed arrays (their words, and which are
   * mapped), for scanning a memmap: what page() decodes, one crossing into the core per 16000 pages.
   * @throws KernelError EINVAL for a start or count that is not a non-negative integer, more than
   *   PAGES_MANY_MAX pages, or a range past the physical address space.
   */
  pagesMany(startPfn: number, count: number): StructPages {
    this.live();
    this.pfnArg(startPfn);
    this.countArg(count, 'count');
    if (count > PAGES_MANY_MAX) invalid(`count ${count} is over ${PAGES_MANY_MAX} pages a call (${PAGES_MANY_MAX * 64} bytes of struct pages)`);
    if (startPfn + count > this.pfnEnd) invalid(`pfns [${hex(BigInt(startPfn))}, +${count}) run past the ${this.physBits}-bit physical address space`);
    const words = new BigUint64Array(8 * count);
    const mapped = new Uint8Array(count);
    this.core.readPages(startPfn, count, words, mapped);
    // compound devmaps' pages are drawn by the kernel from their position (Memmap.readPage): those pages go through it
    for (const pm of this.k.memremap.live) {
      if (pm.vmemmapShift === 0) continue;
      const from = Math.max(startPfn, Number(pm.start >> 12n));
      const to = Math.min(startPfn + count, Number((pm.end + 1n) >> 12n));
      for (let pfn = from; pfn < to; pfn++) {
        const w = mapped[pfn - startPfn] ? this.k.memmap.readPage(pfn) : null;
        if (w) words.set(w, 8 * (pfn - startPfn));
      }
    }
    return { startPfn, count, words, mapped };
  }

  /**
   * The bytes at a physical address, as /dev/mem would read them (unwritten memory reads as zero).
   * @throws KernelError EINVAL for a length outside 0 to 16 MiB or a range past the physical address space.
   */
  readPhys(phys: bigint | number, length: number): Uint8Array {
    if (this.disposed) this.live();
    const p = typeof phys === 'bigint' && phys >= 0n && phys < this.physEnd ? phys : this.physArg(phys, 'phys');
    if (!(typeof length === 'number' && length >= 0 && length <= 1 << 24 && Number.isInteger(length))) invalid(`length ${show(length)} must be an integer from 0 to 16 MiB`);
    // the end check in numbers: both are below 2^53
    if (Number(p) + length > 2 ** this.physBits) invalid(`[${hex(p)}, +${length}) runs past the ${this.physBits}-bit physical address space`);
    return this.k.physmem.read(p, length);
  }

  /** The page-table walk of a canonical virtual address; null when not mapped. */
  walk(vaddr: bigint | number): WalkResult | null {
    if (this.disposed) this.live();
    const va = typeof vaddr === 'bigint' && vaddr >= 0n && vaddr <= U64_MAX ? vaddr : this.u64Arg(vaddr, 'vaddr');
    const phys = this.core.walkLeaf(va);
    if (phys >= 0n) return new Walk(va, phys, this.core.walkRes(), this.paging === 5);
    return phys === -1n ? null : this.notCanonical(va);
  }

  /**
   * The lean walk: just the physical address a canonical virtual address maps to, or null when not mapped.
   * @throws KernelError EINVAL for an address that is not canonical.
   */
  walkPhys(vaddr: bigint | number): bigint | null {
    if (this.disposed) this.live();
    const va = typeof vaddr === 'bigint' && vaddr >= 0n && vaddr <= U64_MAX ? vaddr : this.u64Arg(vaddr, 'vaddr');
    const phys = this.core.walkLeaf(va);
    if (phys >= 0n) return phys;
    return phys === -1n ? null : this.notCanonical(va);
  }

  /**
   * Walk many canonical virtual addresses in one crossing into the core: the physical address each maps
   * to, or UNMAPPED (0xffffffffffffffffn) where it is not mapped.
   * @throws KernelError EINVAL for input that is not a BigUint64Array, or an address that is not canonical (named by index).
   */
  walkMany(vas: BigUint64Array): BigUint64Array {
    this.live();
    if (!(vas instanceof BigUint64Array)) invalid(`vas ${show(vas)} is not a BigUint64Array of virtual addresses`);
    const out = new BigUint64Array(vas.length);
    const bad = this.core.walkMany(vas, out);
    if (bad >= 0) invalid(`vas[${bad}]: ${this.canonicalRefusal(vas[bad])}`);
    return out;
  }

  private notCanonical(va: bigint): never {
    return invalid(this.canonicalRefusal(va));
  }

  private canonicalRefusal(va: bigint): string {
    const bit = this.paging === 5 ? 56 : 47;
    return `${hex(va)} is not canonical (bits 63..${bit} must all equal bit ${bit} with ${this.paging}-level paging)`;
  }

  /**
   * Every level a walk visits, mapped or not (for vtop-style tables).
   * @throws KernelError EINVAL for an address that is not canonical.
   */
  walkVerbose(vaddr: bigint | number): CoreWalk {
    this.walkPhys(vaddr);
    return this.k.pgtable.walk(this.u64Arg(vaddr, 'vaddr'));
  }

  /**
   * identify_address, as drgn has it: what `addr` is. A kernel-half canonical address is virtual
   * (vmemmap: whose struct page; direct map: which physical page), anything else physical (which
   * namespace and which part of its layout, System RAM, kmem memory, a region's free space).
   */
  identifyAddress(addr: bigint | number): AddressIdentity {
    this.live();
    const a = this.u64Arg(addr, 'addr');
    if (a >> 63n) return this.identifyVirtual(a);
    if (a >= 1n << BigInt(this.physBits)) invalid(`${hex(a)} is neither a kernel virtual address nor inside the ${this.physBits}-bit physical address space`);
    return this.identifyPhysical(a);
  }

  private identifyVirtual(va: bigint): AddressIdentity {
    const { pageOffset } = this.k.layout;
    const vm = this.k.vmemmap.range();
    const w = this.k.pgtable.walk(va);
    const phys = w.mapped ? w.phys : null;
    const target = phys !== null && phys < 1n << BigInt(this.physBits) ? this.identifyPhysical(phys) : undefined;
    if (va >= vm.start && va <= vm.end) {
      const pfn = Number((va - vm.start) / 64n);
      const where = target ? `, in ${target.description}` : ', not mapped';
      return { addr: va, space: 'virtual', kind: 'vmemmap', phys, pfn, target, description: `struct page of pfn ${hex(pfn)}${where}` };
    }
    if (va >= pageOffset && va < pageOffset + (1n << BigInt(this.physBits))) {
      const p = va - pageOffset;
      return { addr: va, space: 'virtual', kind: 'direct-map', phys, target: this.identifyPhysical(p), description: `__va(${hex(p)}), the direct map${phys === null ? ' (not mapped)' : ''}` };
    }
    return { addr: va, space: 'virtual', kind: 'none', phys, target, description: 'a kernel address outside the direct map and the vmemmap' };
  }

  private identifyPhysical(p: bigint): AddressIdentity {
    const base = { addr: p, space: 'physical' as const, phys: p };
    for (const ns of this.pmem.namespaces()) {
      if (p < ns.start || p >= ns.start + ns.raw) continue;
      const d = this.pmem.info(ns);
      const off = p - ns.start;
      const pool = ns.layout?.altmap ? { from: BigInt(ns.layout.altmap.basePfn + ns.layout.altmap.reserve) << 12n, to: BigInt(ns.layout.altmap.basePfn + ns.layout.altmap.reserve + ns.layout.altmap.free) << 12n } : null;
      const dataStart = ns.start + d.startPad + d.offset;
      const part: AddressIdentity['part'] = !ns.layout
        ? 'data'
        : off < 4096n
          ? 'left alone'
          : off < 8192n
            ? 'info block'
            : pool && p >= pool.from && p < pool.to
              ? 'altmap pool'
              : p >= dataStart && p < dataStart + d.size
                ? 'data'
                : p >= dataStart + d.size
                  ? 'trimmed'
                  : 'padding';
      const kmem = d.device ? this.k.kmem.devices.get(d.device) : undefined;
      if (part === 'data' && kmem && this.k.kmem.covers(kmem, p)) {
        return { ...base, kind: 'System RAM (kmem)', namespace: ns.dev, device: d.device, part, description: `System RAM (kmem) of ${d.device} (${ns.dev})` };
      }
      const what = part === 'altmap pool' ? 'its altmap pool (the memmap on the device)' : part === 'info block' ? 'its pfn info block' : part;
      return { ...base, kind: 'namespace', namespace: ns.dev, device: d.device, part, description: `${ns.dev}${d.device ? ` (${d.device})` : ''}: ${what}` };
    }
    const pm = this.k.memremap.findDevPagemap(p);
    if (pm && !pm.freed && p >= pm.start && p <= pm.end) {
      const f = pm.altmap ? this.k.altmaps.fields(pm.altmap) : null;
      const inPool = f !== null && p >> 12n >= f.basePfn + f.reserve && p >> 12n < f.basePfn + f.reserve + f.free;
      return { ...base, kind: 'device', device: pm.dev.name, part: inPool ? 'altmap pool' : 'data', description: `${pm.dev.name}: ${inPool ? 'its altmap pool (the memmap on the device)' : 'device memory'}` };
    }
    // an hmem device's memory in system-ram mode (namespaces' were answered above)
    for (const kd of this.k.kmem.devices.values()) {
      if (this.k.kmem.covers(kd, p)) return { ...base, kind: 'System RAM (kmem)', device: kd.dev, description: `System RAM (kmem) of ${kd.dev}` };
    }
    const e = this.e820.find((x) => p >= x.start && p < x.start + x.size);
    if (!e) return { ...base, kind: 'none', description: `${hex(p)}: no memory the firmware described` };
    const kind = e.type;
    return { ...base, kind, description: kind.startsWith('Persistent Memory') ? `${kind} outside every namespace` : kind };
  }

  /**
   * region_intersects(start, size, flags, desc) against the iomem tree's top-level resources named `name` ("System RAM").
   * @throws KernelError EINVAL for a zero size, an empty name or a start beyond the physical address space.
   */
  regionIntersects(start: bigint | number, size: bigint | number, name: string): RegionResult {
    this.live();
    const s = this.physArg(start, 'start');
    const n = this.u64Arg(size, 'size');
    if (n === 0n) invalid('size must be positive');
    if (typeof name !== 'string' || name.length === 0) invalid('name must be a resource name such as "System RAM"');
    return this.k.iomem.regionIntersects(s, n, name);
  }

  /** The memory accounting: DRAM by purpose, HugeTLB, each memremap'd device's memmap, kmem System RAM, host backing. */
  stats(): MachineStats {
    this.live();
    const d = this.k.pageAlloc.stats();
    const devices: MachineStats['devices'] = {};
    for (const pm of this.k.memremap.live) {
      const altmapPages = pm.altmap !== null ? Number(this.k.altmaps.read(pm.altmap).alloc) : 0;
      devices[pm.dev.name] = {
        memmapPages: altmapPages + pm.dramMemmapPages,
        dramMemmapPages: pm.dramMemmapPages,
        altmapPages,
        sections: pm.sections,
        start: pm.start,
        end: pm.end,
        vmemmapShift: pm.vmemmapShift,
        vmemmapPagesSaved: pm.vmemmapShift > 0 && pm.altmap === null ? Math.max(0, Number((pm.end + 1n - pm.start) >> 12n) / 64 - pm.dramMemmapPages) : 0,
      };
    }
    const usage = (n: { totalPages: number; freePages: number; byPurpose: number[] }): DramUsage => ({
      totalPages: n.totalPages,
      freePages: n.freePages,
      pageTablePages: n.byPurpose[Purpose.PageTable],
      memmapPages: n.byPurpose[Purpose.Memmap],
      directMapPages: n.byPurpose[Purpose.DirectMap],
      slabPages: n.byPurpose[Purpose.Slab],
      hugetlbPages: n.byPurpose[Purpose.HugeTlb],
    });
    return {
      dram: usage(d),
      nodes: d.byNode.map(usage),
      hugetlb: this.k.hugetlb.summary(),
      devices,
      host: { backedBytes: this.k.physmem.backedBytes(), limitBytes: this.hostMemoryLimit },
      memmapInitPages: this.k.memmap.pagesInitialised,
      systemRam: Object.fromEntries([...this.k.kmem.devices.values()].map((kd) => [kd.dev, this.k.kmem.summary(kd)])),
    };
  }

  /** The kernel log (printk's ring buffer), one line per message, as `dmesg` prints it. */
  dmesg(): string[] {
    this.live();
    return this.k.log.render();
  }

  /** Set when a modelled kernel BUG (or a core trap) stopped the machine; null otherwise. */
  get poisoned(): string | null {
    return this.k.poisoned;
  }

  /** Present (hot-added or boot) sections, as [first, last] section-number runs. */
  presentSections(): Array<[number, number]> {
    this.live();
    return this.k.sparse.presentSections();
  }

  /**
   * The machine's kernel-visible state, for comparing before and after an operation: DRAM
   * accounting, present sections, the pgmap lookup, the iomem tree, bound devices and a digest of
   * every page-table page (the log and media contents are not part of it).
   */
  snapshot(): MachineSnapshot {
    this.live();
    const d = this.stats().dram;
    return {
      dram: d,
      presentSections: this.presentSections(),
      lookup: this.k.memremap.lookup.all().map((r) => [r.start, r.end - 1, r.value.dev.name]),
      iomem: this.k.iomem.snapshot(),
      devices: this.k.devices.bound().map((x) => x.name),
      namespaces: this.pmem.list(false).map((n) => n.dev as string),
      pageTables: this.pageTableDigest(),
    };
  }

  /**
   * The model's consistency checks: DRAM pages by use against what the page tables link, each live
   * altmap's alloc against the pool pages mapped, vmemmap and lookup entries against present sections.
   * Throws an Error listing every problem; returns the counts when all hold.
   */
  checkInvariants(): InvariantReport {
    this.live();
    const r = checkInvariants(this.k);
    if (r.problems.length) throw new Error(`machine invariants violated:\n  ${r.problems.join('\n  ')}`);
    return r;
  }

  /**
   * Fault injection, like the kernel's fail_page_alloc: the `nth` next allocation of `kind` fails
   * (1 = the very next); 0 disarms. Kinds: DRAM pages, altmap blocks, devres payloads, host backing.
   */
  injectFault(kind: 'dram' | 'altmap' | 'devres' | 'backing', nth: number): void {
    this.live();
    if (!Number.isSafeInteger(nth) || nth < 0) invalid(`nth ${show(nth)} must be a non-negative integer`);
    if (kind !== 'dram' && kind !== 'altmap' && kind !== 'devres' && kind !== 'backing') invalid(`fault kind ${show(kind)} is not dram, altmap, devres or backing`);
    this.k.injectFault(kind, nth);
  }

  /** FNV-1a over every page-table page reachable from the root, in walk order; and their count. */
  pageTableDigest(): PageTableDigest {
    this.live();
    return this.k.pgtable.digest();
  }

  // ---------------------------------------------------------------- namespaces

  /**
   * `ndctl create-namespace`: a namespace in a region's free space, with its pfn or dax device (the info
   * block and, with map=dev, the altmap) probed. Returns ndctl's namespace JSON.
   * @throws NdctlError (a KernelError with ndctl's stderr) with ndctl's errno: EINVAL for bad options,
   *   ENOSPC when no region has room, ENXIO when the pfn device cannot be probed; EBUSY, ENODEV as the kernel returns them.
   */
  createNamespace(opts: CreateNamespaceOptions): Record<string, unknown> {
    this.mutable();
    const plan = this.pmem.plan(snapshotArgs(opts));
    return this.run(() => this.pmem.create(plan), 'ndctl');
  }

  /**
   * `daxctl reconfigure-device --mode=system-ram|devdax`: hand a device-dax namespace's memory to the page
   * allocator as System RAM (dax kmem, v5.1+), with `memmapOnMemory` (v5.13+; 'force' v6.6+) putting each
   * memory block's memmap in the block itself. Returns daxctl's device JSON. To devdax, every block is
   * offlined and removed, the one holding the kernel's unmovable pages too: the library's round trip.
   * daxctl's own path, block by block through memoryN/state (writeFile), meets the kernel's EBUSY there.
   */
  reconfigureDevice(dev: string, options: { mode: 'system-ram' | 'devdax'; memmapOnMemory?: boolean | 'force'; movable?: boolean; online?: boolean }): Record<string, unknown> {
    this.mutable();
    if (typeof options !== 'object' || options === null) invalid('reconfigureDevice needs { mode }');
    const opts = snapshotArgs(options);
    const mode = opts.mode;
    if (mode !== 'system-ram' && mode !== 'devdax') invalid(`mode ${show(mode)} is not system-ram or devdax`);
    const given = opts.memmapOnMemory;
    if (given !== undefined && given !== true && given !== false && given !== 'force') invalid(`memmapOnMemory ${show(given)} is not true, false or "force"`);
    const movable = opts.movable ?? true;
    if (movable !== true && movable !== false) invalid(`movable ${show(movable)} is not true or false`);
    if (!this.k.profile.memmapOnMemory) invalid(`dax kmem and memmap_on_memory are modelled for the v6 profile, not ${this.kernel}`);
    const d = typeof dev === 'string' ? this.k.dax.get(dev) : undefined;
    if (!d) throw new KernelError('ENODEV', `no device-dax device ${show(dev)}`);
    // without the option, what the kernel would do: the device's memmap_on_memory file (6.8+) under the module parameter
    const param = this.k.cfg.memmapOnMemoryParam;
    const mom = given ?? (d.memmapOnMemory && param ? param : false);
    const online = opts.online ?? true;
    if (online !== true && online !== false) invalid(`online ${show(online)} is not true or false`);
    return this.run(() => {
      this.k.dax.reconfigure(d, mode, mom);
      // daxctl then onlines what the kernel's policy left offline (ZONE_MOVABLE unless --no-movable)
      const kd = this.k.kmem.devices.get(d.name);
      if (mode === 'system-ram' && kd && online) this.k.kmem.online(kd, movable);
      return { ...daxctlDeviceJson(this.k, d), ...kmemFigures(this.k, d) };
    }, 'daxctl');
  }

  /**
   * A HugeTLB page from DRAM (alloc_fresh_hugetlb_folio); on v6 its vmemmap is optimised (HVO: 7 of 8, or
   * 4095 of 4096, vmemmap pages freed). `opts.node`: from that node alone, as a write of
   * /sys/devices/system/node/nodeN/hugepages/.../nr_hugepages allocates (__GFP_THISNODE); else the CPU's
   * zonelist. ENOMEM when no free block is left there.
   */
  hugetlbAlloc(size: '2M' | '1G', opts: { node?: number } = {}): {
    /** The head page's pfn. */
    pfn: number;
    /** The HugeTLB page size. */
    size: '2M' | '1G';
    /** vmemmap pages HVO freed for it (0 without hugetlb_optimize_vmemmap). */
    vmemmapPagesFreed: number;
    /** The node its memory is on. */
    node: number;
  } {
    this.mutable();
    if (size !== '2M' && size !== '1G') invalid(`HugeTLB page size ${show(size)} is not 2M or 1G`);
    if (opts === null || typeof opts !== 'object') invalid(`HugeTLB options ${show(opts)} are not an object`);
    const nid = opts.node;
    if (nid !== undefined && !(Number.isInteger(nid) && nid >= 0 && nid < this.k.numa.allocNodes() && this.k.pageAlloc.stats().byNode[nid]!.totalPages > 0)) {
      invalid(`node ${show(nid)} has no System RAM (nodes with memory: ${this.k.numa.hasMemory().join(', ')})`);
    }
    return this.run(() => this.k.hugetlb.alloc(size, nid));
  }

  /** Give a HugeTLB page back; its vmemmap is restored first (hugetlb_vmemmap_restore_folio). */
  hugetlbFree(pfn: number): void {
    this.mutable();
    this.pfnArg(pfn);
    this.run(() => this.k.hugetlb.free(pfn));
  }

  /** What createNamespace would do (ndctl's checks and the era's arithmetic), changing nothing. */
  planNamespace(opts: CreateNamespaceOptions): {
    /** The region (regionN) it would be placed in. */
    region: number;
    /** Physical start of the namespace, in bytes. */
    start: bigint;
    /** The namespace's raw size, in bytes (what `ndctl list` shows as raw_size). */
    raw: bigint;
    /** Usable size after the info block and the memmap, in bytes (raw for a raw namespace). */
    size: bigint;
    /** Data offset from the namespace's start (nd_pfn_sb dataoff), in bytes; 0 for raw. */
    offset: bigint;
    /** The vmem_altmap the pfn device would get (map=dev), in pfns; null otherwise. */
    altmap: {
      /** base_pfn */
      basePfn: number;
      /** reserve: the pfns before the pool. */
      reserve: number;
      /** free: the pool pages for the memmap. */
      free: number;
    } | null;
  } {
    this.live();
    const p = this.pmem.plan(opts);
    return { region: p.region.id, start: p.start, raw: p.size, size: p.layout ? p.layout.size : p.size, offset: p.layout ? p.layout.offset : 0n, altmap: p.layout?.altmap ?? null };
  }

  /** A namespace's placement and info-block numbers. */
  namespaceInfo(dev: string | { dev: string }): NamespaceDetail {
    this.live();
    return this.pmem.info(this.pmem.find(typeof dev === 'string' ? dev : dev?.dev));
  }

  /** __va: the direct-map address of a physical address. */
  va(phys: bigint | number): bigint {
    this.live();
    return this.k.va(this.physArg(phys, 'phys'));
  }

  /** PAGE_OFFSET and VMEMMAP_START of this machine's kernel and paging mode. */
  get layout(): {
    /** PAGE_OFFSET: where the direct map starts. */
    pageOffset: bigint;
    /** VMEMMAP_START: where struct page of pfn 0 is. */
    vmemmapStart: bigint;
    /** MAX_PHYSMEM_BITS. */
    physBits: number;
    /** Paging levels. */
    paging: 4 | 5;
  } {
    return { ...this.k.layout };
  }

  /**
   * `ndctl destroy-namespace --force`: the pfn/dax device released (its pages unmapped, the altmap freed) and the space returned to the region.
   * An idle seed namespace (size 0) is left as it is, as ndctl's destroy of it does.
   * @throws KernelError ENODEV for no such namespace; EBUSY while a memory block of its dax device is online (System RAM).
   */
  destroyNamespace(dev: string | { dev: string }): void {
    this.mutable();
    const name = typeof dev === 'string' ? dev : dev?.dev;
    // an idle seed has no configuration to destroy: ndctl's zeroing probe fails and the machine stays as it is
    if (this.pmem.isIdleSeed(name)) return this.run(() => this.pmem.probeIdleSeed());
    const ns = this.pmem.find(name);
    this.run(() => this.pmem.destroy(ns));
  }

  /** `ndctl list -N` (`daxRegion`: the devdax form create-namespace prints, with UTIL_JSON_DAX). */
  listNamespaces(opts: { human?: boolean; daxRegion?: boolean; idle?: boolean } = {}): Array<Record<string, unknown>> {
    this.live();
    return this.pmem.list(!!opts?.human, !!opts?.daxRegion, !!opts?.idle);
  }

  /**
   * The nvdimm buses (`ndctl list -B`): the "Persistent Memory" (E820_TYPE_PMEM) ranges are the ones an ACPI NFIT
   * describes, so their regions sit on the bus acpi_nfit_init() registers, provider "ACPI.NFIT" (no ARS: no scrub_state).
   */
  listBuses(): Array<{ provider: string; dev: string }> {
    this.live();
    // memmap=nn!ss ranges ("Persistent Memory (legacy)") sit on the e820 bus instead (drivers/nvdimm/e820.c)
    if (this.pmem.regions.length === 0) return [];
    return [{ provider: this.pmem.regions.every((r) => r.legacy) ? 'e820' : 'ACPI.NFIT', dev: 'ndbus0' }];
  }

  /** The nvdimm DIMMs (`ndctl list -D`): each NFIT region's interleave set, region by region, as /sys/bus/nd/devices/nmemN shows them. */
  listDimms(): DimmInfo[] {
    this.live();
    return this.pmem.regions.flatMap((r) => regionDimms(r));
  }

  /** What `ndctl list -R` reads of each region's attributes (region_to_json), region by region. */
  listRegions(): RegionListing[] {
    this.live();
    const v6 = this.k.profile.pfnEra === 'v6'; // 6.1 and 6.12
    return this.pmem.regions.map((r) => {
      const size = r.res.end + 1n - r.res.start;
      const busy = r.namespaces.map((ns) => ({ start: ns.start - r.res.start, size: ns.raw }));
      return {
        dev: `region${r.id}`,
        id: r.id,
        size,
        align: this.pmem.alignOf(r),
        ...regionCapacity(size, busy, this.pmem.alignOf(r), r.ways),
        numaNode: this.k.numa.numaNode(r.res.start),
        targetNode: v6 ? this.k.numa.targetNode(r.res.start) : null,
        namespaces: r.namespaces.map((ns) => ns.dev),
        idleSeeds: r.seeds.idleNamespaces.map((id) => `namespace${r.id}.${id}`),
        // ndctl_region_get_interleave_set: a region handing out label-backed pmem namespaces has one
        ...(r.io ? {} : { isetId: regionSetCookie(r) }),
        mappings: regionMappings(r),
      };
    });
  }

  /** Free the core's memory; afterwards every method throws KernelError EINVAL. Calling it again does nothing. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.k.dispose();
  }

  // ---------------------------------------------------------------- argument checks

  /** @internal */
  u64Arg(x: unknown, what: string): bigint {
    if (x === undefined || x === null) invalid(`${what} is missing or not a number (got ${x === null ? 'null' : 'undefined'})`);
    const n = parseInteger(x);
    return typeof n === 'string' ? invalid(`${what} ${n}`) : n;
  }

  /** @internal */
  physArg(x: unknown, what: string): bigint {
    const p = this.u64Arg(x, what);
    if (p >= 1n << BigInt(this.physBits)) invalid(`${what} ${hex(p)} is beyond the ${this.physBits}-bit physical address space`);
    return p;
  }

  private pfnArg(pfn: unknown): number {
    if (typeof pfn !== 'number' || !Number.isSafeInteger(pfn) || pfn < 0) invalid(`pfn ${show(pfn)} is not a non-negative integer`);
    if (pfn >= 2 ** (this.physBits - 12)) invalid(`pfn ${hex(BigInt(pfn))} is beyond the ${this.physBits}-bit physical address space`);
    return pfn;
  }

  private countArg(n: unknown, what: string): number {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) invalid(`${what} ${show(n)} is not a non-negative integer`);
    return n;
  }

  private altmapArg(a: AltmapInput): AltmapFields {
    if (typeof a !== 'object' || a === null) invalid('altmap must be an object { basePfn, reserve, free, align?, alloc? }');
    const out = {} as AltmapFields;
    for (const f of ALTMAP_FIELDS) {
      const v = (a as unknown as Record<string, unknown>)[f];
      if (v === undefined && (f === 'align' || f === 'alloc')) {
        out[f] = 0n;
        continue;
      }
      const b = this.u64Arg(v, `altmap.${f}`);
      if (b >= 1n << 52n) invalid(`altmap.${f} ${b} is beyond any pfn count of a ${this.physBits}-bit machine`);
      out[f] = b;
    }
    return out;
  }
}

/** A plain copy of an options object, each getter read once (what the call then acts on cannot change under it). */
function snapshotArgs<T>(o: T): T {
  return typeof o === 'object' && o !== null ? ({ ...o } as T) : o;
}

/** Parse and check an e820 map: page-aligned, positive, disjoint, inside the physical address space. */
function parseE820(entries: E820Entry[] | undefined, physBits: number): E820Range[] {
  if (entries === undefined) return defaultE820();
  if (!Array.isArray(entries) || entries.length === 0) invalid('e820 must be a non-empty list of { start, size, type }');
  // Array.from visits the holes of a sparse array, which map would skip
  const out = Array.from(entries, (e, i) => {
    if (typeof e !== 'object' || e === null) invalid(`e820[${i}] is not an object`);
    if (!E820_TYPES.includes(e.type)) invalid(`e820[${i}].type ${show(e.type)} is not one of ${E820_TYPES.map((t) => `"${t}"`).join(', ')}`);
    const start = parseSize(e.start, `e820[${i}].start`);
    const size = parseSize(e.size, `e820[${i}].size`);
    if (size === 0n) invalid(`e820[${i}].size must be positive`);
    if (start % 4096n || size % 4096n) invalid(`e820[${i}] [${hex(start)}, +${hex(size)}) is not page-aligned`);
    if (start + size > 1n << BigInt(physBits)) invalid(`e820[${i}] ends beyond the ${physBits}-bit physical address space (${physBits === 46 ? '64 TiB with 4-level paging' : '4 PiB with 5-level paging'})`);
    if (e.node === undefined) return { start, size, type: e.type };
    if (!Number.isInteger(e.node) || e.node < 0 || e.node >= MAX_NUMNODES) invalid(`e820[${i}].node ${show(e.node)} is not a node id (an integer from 0 to ${MAX_NUMNODES - 1}: MAX_NUMNODES of CONFIG_NODES_SHIFT=10)`);
    return { start, size, type: e.type, node: e.node };
  });
  out.sort((a, b) => (a.start < b.start ? -1 : 1));
  for (let i = 1; i < out.length; i++) {
    if (out[i].start < out[i - 1].start + out[i - 1].size) invalid(`e820 entries overlap at ${hex(out[i].start)}`);
  }
  if (!out.some((e) => e.type === 'System RAM')) invalid('e820 needs at least one System RAM entry');
  return out;
}

/** Adjacent entries of one type as one (e820__update_table's merge). */
function mergeLike(e820: E820Range[]): E820Range[] {
  const out: E820Range[] = [];
  for (const e of e820) {
    const last = out.at(-1);
    if (last && last.type === e.type && (last.node ?? 0) === (e.node ?? 0) && last.start + last.size === e.start) last.size += e.size;
    else out.push({ ...e });
  }
  return out;
}

/** A machine's configuration with every default applied, once. */
interface ResolvedConfig {
  kernel: KernelName;
  profile: Profile;
  backend: Backend;
  e820: E820Range[];
  layout: KernelLayout;
  debug: boolean;
  regionAlign: bigint | null;
  labelLessRegions: number[];
  interleaveWays: number[];
  regionAlignGiven: boolean;
  kernelConfig: Kernel['cfg'];
  core: { pse: boolean; gbpages: boolean; hostMemoryLimit: bigint; eagerMemmap: boolean };
  cmdline: string | undefined;
  cmdlineMessages: string[];
  /** The e820 as the firmware gave it, before the command line's memmap= (the same object when it has none). */
  firmwareE820: E820Range[];
}

const OPTIONS: ReadonlyArray<keyof MachineConfig> = ['hypervisor', 'cmdline', 'hugetlbVmemmapOptimize', 'memoryBlockSize', 'e820', 'pse', 'gbpages', 'sparsememVmemmap', 'zoneDevice', 'kernel', 'hostMemoryLimit', 'backend', 'memmapInit', 'debug', 'eagerMemmap', 'paging', 'regionAlign', 'labelLessRegions', 'interleaveWays', 'kmemBlockByBlock'];
const BOOLEANS = ['hypervisor', 'pse', 'gbpages', 'sparsememVmemmap', 'zoneDevice', 'debug', 'eagerMemmap', 'hugetlbVmemmapOptimize', 'kmemBlockByBlock'] as const;

/** Validate a MachineConfig and apply its defaults (each written here, once). */
function resolveConfig(config: MachineConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null) invalid('config must be an object');
  for (const key of Object.keys(config)) if (!(OPTIONS as readonly string[]).includes(key)) invalid(`unknown machine option ${show(key)}`);
  const kernel = config.kernel ?? 'v4.5';
  if (!(KERNELS as readonly string[]).includes(kernel)) invalid(`kernel ${show(kernel)} is not one of ${KERNELS.join(', ')}`);
  const backend = config.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'ts') invalid(`backend ${show(backend)} is not "wasm" or "ts"`);
  const memmapInit = config.memmapInit ?? 'as-shipped';
  if (memmapInit !== 'as-shipped' && memmapInit !== 'as-intended') invalid(`memmapInit ${show(memmapInit)} is not "as-shipped" or "as-intended"`);
  for (const b of BOOLEANS) if (config[b] !== undefined && typeof config[b] !== 'boolean') invalid(`${b} must be true or false`);
  const profile = profileFor(kernel);
  const paging = config.paging ?? 4;
  if (paging !== 4 && paging !== 5) invalid(`paging ${show(paging)} is not 4 or 5`);
  if (paging === 5 && !profile.la57) invalid(`paging: 5 (LA57) is modelled for the v6 profile only, not ${kernel}`);
  const limit = config.hostMemoryLimit === undefined ? 2n << 30n : parseSize(config.hostMemoryLimit, 'hostMemoryLimit');
  if (limit < 1n << 20n || limit > 3n << 30n) invalid(`hostMemoryLimit ${limit} must be between 1 MiB and 3 GiB`);
  let regionAlign = profile.regionAlign;
  if (config.regionAlign !== undefined) {
    regionAlign = config.regionAlign === null ? null : parseSize(config.regionAlign, 'regionAlign');
    // checked with the regions' interleave ways below (checkInterleaveWays)
  }
  const labelLessRegions = config.labelLessRegions ?? [];
  if (!Array.isArray(labelLessRegions) || !labelLessRegions.every((r) => Number.isInteger(r) && r >= 0)) invalid(`labelLessRegions ${show(config.labelLessRegions)} is not a list of region indexes`);
  const given = config.memoryBlockSize === undefined ? undefined : parseSize(config.memoryBlockSize, 'memoryBlockSize');
  if (given !== undefined && (given < 128n << 20n || (given & (given - 1n)) !== 0n)) invalid(`memoryBlockSize ${given} is not a power of two of at least 128 MiB`);
  const layout = { ...layoutFor(profile, paging), paging };
  if (config.cmdline !== undefined && typeof config.cmdline !== 'string') invalid(`cmdline ${show(config.cmdline)} is not a string`);
  if (config.cmdline !== undefined && config.cmdline.length > 2048) invalid(`cmdline of ${config.cmdline.length} characters is over COMMAND_LINE_SIZE (2048)`);
  const cmdline = parseCmdline(config.cmdline ?? '', { memmapOnMemoryForce: profile.memmapOnMemoryForce });
  if (cmdline.unmodelled.length) invalid(`cmdline: ${cmdline.unmodelled.join(' ')} is not modelled (memmap= takes nn!ss, nn%ss-old+new, nn$ss, nn@ss)`);
  for (const o of cmdline.memmap) {
    const t = o.op === 'add' ? o.type : o.newType;
    if (!e820TypeOf(t)) invalid(`cmdline: memmap= to e820 type ${t} is not modelled (1 RAM, 2 reserved, 7 and 12 persistent, 0xefffffff soft reserved)`);
    if (o.start % 4096n || o.size % 4096n) invalid(`cmdline: memmap= range [${hex(o.start)}, +${hex(o.size)}) is not page-aligned`);
    if (o.start + o.size > 1n << BigInt(layout.physBits)) invalid(`cmdline: memmap= range [${hex(o.start)}, +${hex(o.size)}) ends beyond the ${layout.physBits}-bit physical address space`);
  }
  const given820 = parseE820(config.e820, layout.physBits);
  // efi=nosoftreserve: the EFI memory map's EFI_MEMORY_SP ranges (the e820's Soft Reserved) are conventional memory
  const firmwareE820 = cmdline.efiNoSoftReserve ? mergeLike(given820.map((e) => (e.type === 'Soft Reserved' ? { ...e, type: 'System RAM' as const } : e))) : given820;
  const e820 = cmdline.memmap.length ? applyMemmap(firmwareE820, cmdline.memmap) : firmwareE820;
  const interleaveWays = checkInterleaveWays(config.interleaveWays ?? [], e820.filter((e) => e.type === 'Persistent Memory').map((e) => e.size), config.regionAlign === undefined ? undefined : regionAlign);
  if (!e820.some((e) => e.type === 'System RAM')) invalid('cmdline: memmap= leaves no System RAM');
  // max_pfn: the end of the last System RAM
  const bootMemEnd = e820.filter((e) => e.type === 'System RAM').reduce((m, e) => (e.start + e.size > m ? e.start + e.size : m), 0n);
  const memoryBlockSize = given ?? probeMemoryBlockSize(bootMemEnd, config.hypervisor ?? true, profile.memoryBlockProbe);
  return {
    firmwareE820,
    cmdline: config.cmdline,
    cmdlineMessages: cmdline.messages,
    kernel,
    profile,
    backend,
    e820,
    layout,
    debug: config.debug ?? false,
    regionAlign,
    labelLessRegions,
    interleaveWays,
    regionAlignGiven: config.regionAlign !== undefined,
    kernelConfig: {
      zoneDevice: config.zoneDevice ?? true,
      sparsememVmemmap: config.sparsememVmemmap ?? true,
      memmapInit,
      // the option, else the command line's hugetlb_free_vmemmap=, else on (Debian's HUGETLB_PAGE_OPTIMIZE_VMEMMAP_DEFAULT_ON)
      hugetlbVmemmapOptimize: config.hugetlbVmemmapOptimize ?? cmdline.hugetlbFreeVmemmap ?? true,
      memoryBlockSize,
      memmapOnMemoryParam: cmdline.memmapOnMemory ?? false,
      autoOnlineBlocks: cmdline.memhpDefaultState ?? profile.autoOnlineBlocks,
      kmemBlockByBlock: config.kmemBlockByBlock ?? false,
    },
    core: { pse: config.pse ?? true, gbpages: config.gbpages ?? true, hostMemoryLimit: limit, eagerMemmap: config.eagerMemmap ?? false },
  };
}

/** Check a machine configuration as createMachine would (KernelError EINVAL naming the problem), booting nothing. */
export function checkMachineConfig(config: MachineConfig): void {
  resolveConfig(config);
}

/** Build and boot a machine. */
export async function createMachine(config: MachineConfig = {}): Promise<Machine> {
  const c = resolveConfig(config);
  const core = await loadCore(c.backend);
  const r = core.init({
    ramRanges: ramRanges(c.e820),
    ramNodes: ramNodes(c.e820),
    levels: c.layout.paging,
    vmemmapStart: c.layout.vmemmapStart,
    pageOffset: c.layout.pageOffset,
    pse: c.core.pse,
    gbpages: c.core.gbpages,
    hostMemoryLimit: Number(c.core.hostMemoryLimit),
    eagerMemmap: c.core.eagerMemmap,
    debug: c.debug,
  });
  if (r < 0) {
    // the model's own room (init fails only for want of it), not a kernel condition
    const ram = ramRanges(c.e820).reduce((n, [s, e]) => n + BigInt(e - s), 0n) << 12n;
    throw new HostMemoryError(`cannot set up the core: ${formatSizeHuman(ram)} of System RAM is beyond this model's memory budget (hostMemoryLimit ${formatSizeHuman(c.core.hostMemoryLimit)}; the DRAM allocator holds RAM below 4 PiB, pfn 2^40)`);
  }
  return new Machine(core, c);
}
