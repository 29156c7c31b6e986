/**
 * The hot-path interface: what the host (src/kernel, src/nvdimm) may ask of the core.
 *
 * Two implementations sit behind it and must agree byte for byte:
 *   - src/core/wasm.ts  -> build/core.wasm, compiled from assembly/ (AssemblyScript)
 *   - src/core/ts/      -> the pure-TypeScript twin
 *
 * This file is the Wasm/TS boundary: units and semantics are fixed here, once.
 *   - pfns and page counts are `number` (pfns stay below 2^40, 52-bit physical addresses);
 *   - physical and virtual addresses, page-table entries and struct page words are `bigint`;
 *   - operations return 0 or a negative errno (-ENOMEM, -EFAULT), never throw for kernel
 *     conditions; only a broken core (a Wasm trap) throws `CoreTrap`.
 *
 * The core models x86-64 physical memory sparsely: a 4 KiB frame is backed (stored in host
 * memory) when first written; an unbacked frame reads as its fill pattern, or as zero. Fill
 * patterns let memmap initialisation of huge ranges cost O(extents), not O(pages): a pattern
 * describes "these frames hold struct pages of pfns P.. whose words are W (+ the page's own VA
 * for self-relative words)". docs/core.md fixes the semantics.
 *
 * The numbers below (errnos, Purpose, EventType, FaultKind, PopulateFlags, the altmap ids, ALTMAP_FIELDS)
 * are the core's ABI: assembly/abi.ts mirrors them and test/core/abi.test.ts checks the built module
 * against this file.
 */

/** The errnos the core returns (negative, as the kernel does). */
export const ENOMEM = -12;
export const EFAULT = -14;
export const EBUSY = -16;
export const EINVAL = -22;

/** Who a DRAM page was allocated for; `stats()` counts pages per purpose. */
export const enum Purpose {
  /** Page-table pages other than the direct map's: the root PGD, vmemmap tables. */
  PageTable = 0,
  /** Page-table pages of the direct (linear) map. */
  DirectMap = 1,
  /** DRAM holding struct pages: the boot memmap, map=mem memmaps, base-page fallbacks. */
  Memmap = 2,
  /** Small kernel objects (devres payloads such as the page_map). */
  Slab = 3,
  /** HugeTLB pages (the memory itself, not its memmap). */
  HugeTlb = 4,
}
export const PURPOSES = 5;

/** MAX_NUMNODES of Debian's x86-64 config (CONFIG_NODES_SHIFT=10): a RAM range's node is below it. */
export const MAX_NUMNODES = 1024;
/** allocPages flag: the allocation may come from ZONE_MOVABLE ranges (GFP_HIGHUSER_MOVABLE); without it they are skipped (GFP_KERNEL). */
export const ALLOC_MOVABLE = 1;

/** Events the core reports to the host; the host turns them into kernel messages. */
export const enum EventType {
  /** vmemmap_populate took the 4 KiB path: a = va of the PMD step, b = 1 when a DRAM block allocation failed, 0 when the PMD already held a PTE table. */
  Fallback = 1,
  /** vmemmap_populate without PSE was handed an altmap (-ENOMEM follows). */
  NoPseAltmap = 2,
  /** A page was handed to the page allocator that it does not own: a = pfn, b = order. */
  Bug = 3,
  /** (debug) vmem_altmap_alloc attempt: a = returned pfn or -1, b = alloc, c = align (after the update), d = the request in pfns. */
  AltmapAlloc = 4,
  /** (debug) a 2 MiB vmemmap leaf was installed: a = va, b = phys of the block. */
  Pmd = 5,
}

export interface CoreEvent {
  type: EventType;
  a: bigint;
  b: bigint;
  c: bigint;
  d: bigint;
}

/** Pfns the DRAM page allocator can hold RAM below: 2^40, 52-bit physical addresses (x86-64's MAXPHYADDR). */
export const DRAM_MAX_PFN = 2 ** 40;

/**
 * Whether the DRAM page allocator can track these RAM ranges (pfn pairs, as {@link CoreConfig.ramRanges}):
 * the non-empty ones (start < end) must be integers, sorted, disjoint and below {@link DRAM_MAX_PFN}; empty
 * ones are dropped. Both backends refuse the same machines (-ENOMEM from init). The allocator's own
 * tables grow with the ranges and the partly used GiB, not with the RAM (docs/core.md "DRAM page
 * allocator"); `nodeCount` (the highest node + 1, {@link CoreConfig.ramNodes}) must be at most MAX_NUMNODES.
 */
export function dramFits(ramRanges: ReadonlyArray<readonly [number, number]>, nodeCount = 1): boolean {
  if (nodeCount > MAX_NUMNODES) return false;
  let end = 0;
  for (const [s, e] of ramRanges) {
    if (!(e > s)) continue;
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < end || e > DRAM_MAX_PFN) return false;
    end = e;
  }
  return true;
}

/** memmapWriteEvery's arguments (both backends check them alike). */
export function writeEveryArgsOk(startPfn: number, endPfn: number, step: number, count: number): boolean {
  const int = (x: number) => Number.isInteger(x) && x >= 0 && x <= 2 ** 40;
  return int(startPfn) && int(endPfn) && int(step) && int(count) && startPfn <= endPfn && count >= 1 && count <= step;
}

/** allocPagesRun's arguments: an order 0..30, a count of 1..2^40 and a Purpose (both backends check them alike). */
export function allocRunArgsOk(order: number, count: number, purpose: number): boolean {
  return Number.isInteger(order) && order >= 0 && order <= 30 && Number.isInteger(count) && count >= 1 && count <= 2 ** 40 && Number.isInteger(purpose) && purpose >= 0 && purpose < PURPOSES;
}

/** The most distinct ranges the pgmap lookup holds (assembly/layout.ts LOOKUP_MAX), on both backends. */
export const LOOKUP_MAX = 2 ** 20;

/**
 * Whether the lookup can hold these entries: the ranges left once neighbours of one pgmap and altmap
 * that meet are merged (as assembly/altmap.ts lookupAppend merges them) are at most {@link LOOKUP_MAX}.
 */
export function lookupFits(entries: readonly LookupEntryInput[]): boolean {
  if (entries.length <= LOOKUP_MAX) return true;
  let n = 0;
  let end = -1;
  let altmapId = 0;
  let pgmapId = 0;
  for (const e of entries) {
    if (!(e.startPfn >= 0) || !(e.endPfn > e.startPfn)) continue;
    const merges = n > 0 && altmapId === e.altmapId && pgmapId === (e.pgmapId ?? -1) && end === e.startPfn;
    if (!merges && ++n > LOOKUP_MAX) return false;
    end = e.endPfn;
    altmapId = e.altmapId;
    pgmapId = e.pgmapId ?? -1;
  }
  return true;
}

/** Fault injection points (the kernel's fail_page_alloc, extended to the model's allocators). */
export const enum FaultKind {
  DramAlloc = 0,
  AltmapAlloc = 1,
  Backing = 2,
}
export const FAULT_KINDS = 3;

export interface CoreConfig {
  /** System RAM as pfn ranges [start, end), sorted, disjoint. The DRAM page allocator owns exactly these. */
  ramRanges: Array<[number, number]>;
  /** The NUMA node of each RAM range (integers below {@link MAX_NUMNODES}); default all 0. */
  ramNodes?: number[];
  /** Paging levels: 4 (PGD, PUD, PMD, PTE) or 5 (PGD, P4D, PUD, PMD, PTE). */
  levels: 4 | 5;
  /** VMEMMAP_START: struct page of pfn P lives at vmemmapStart + 64 * P. */
  vmemmapStart: bigint;
  /** PAGE_OFFSET: __va(phys) = pageOffset + phys. */
  pageOffset: bigint;
  /** The CPU has PSE (2 MiB pages). */
  pse: boolean;
  /** The CPU has 1 GiB pages (the direct map uses them where alignment allows). */
  gbpages: boolean;
  /** Host-memory budget for backed frames, in bytes; backing a frame past it fails with -ENOMEM. */
  hostMemoryLimit: number;
  /** Write struct pages out at once instead of as fill patterns (same results, more host memory). */
  eagerMemmap: boolean;
  /** Report debug events (AltmapAlloc, Pmd). */
  debug: boolean;
}

/** The five fields of struct vmem_altmap, as unsigned 64-bit values. */
export interface AltmapFields {
  basePfn: bigint;
  reserve: bigint;
  free: bigint;
  align: bigint;
  alloc: bigint;
}
export type AltmapField = keyof AltmapFields;
export const ALTMAP_FIELDS: readonly AltmapField[] = ['basePfn', 'reserve', 'free', 'align', 'alloc'];

/** One level of a page-table walk (pgd_offset, p4d_offset, ... pte_offset_kernel): which entry it read. */
export interface WalkLevel {
  /** The level of the table read. */
  level: 'pgd' | 'p4d' | 'pud' | 'pmd' | 'pte';
  /** The entry's index in the table (0..511), from the virtual address's bits for that level. */
  index: number;
  /** The raw 64-bit entry. */
  entry: bigint;
  /** Physical address of the table that holds the entry. */
  table: bigint;
}

/** A page-table walk of one virtual address, as the core reports it (mapped or not): every level it visited. */
export interface CoreWalk {
  /** The levels read, root first; the walk stops at a non-present entry or a leaf. */
  levels: WalkLevel[];
  /** True when the walk reached a present leaf. */
  mapped: boolean;
  /** The physical address the virtual address maps to; 0 when not mapped. */
  phys: bigint;
  /** Bytes the leaf maps: 4096, 2 MiB (PMD) or 1 GiB (PUD); 0 when not mapped. */
  pageSize: number;
}

export interface DramStats {
  totalPages: number;
  freePages: number;
  /** Pages in use, indexed by Purpose. */
  byPurpose: number[];
  /** The same per node id, 0 .. the highest node of a RAM range (a node id without RAM reads 0s). */
  byNode: Array<{ totalPages: number; freePages: number; byPurpose: number[] }>;
}

/** Bit flags of vmemmapPopulate. */
export const enum PopulateFlags {
  /** Populate with 4 KiB pages from the start (x86 without PSE, or a v6 sub-section piece). */
  BasePages = 1,
  /** Base pages may come from the altmap (v5.8+); otherwise they always come from DRAM. */
  BasePagesUseAltmap = 2,
}

/** vmemmapFree: consult the altmap lookup table (v4.5). */
export const LOOKUP_ALTMAP = -1;
/** vmemmapFree: explicitly no altmap (v4.16+ with map=mem). */
export const NO_ALTMAP = -2;

/** Inspection codes: what walkLeaf, pageToPfn, toVmemAltmap and the lookups return besides an address, pfn or id. */
/** Not mapped (a walk); no pgmap (a lookup). */
export const INSPECT_NONE = -1;
/** The virtual address is not canonical for the paging mode. */
export const INSPECT_NOT_CANONICAL = -2;
/** page_to_pfn: the address is outside the vmemmap. */
export const INSPECT_NOT_VMEMMAP = -3;
/** page_to_pfn: inside the vmemmap, but not the start of a 64-byte struct page. */
export const INSPECT_NOT_PAGE = -4;
/** walkMany's value for an address that is not mapped (all ones). */
export const UNMAPPED = 0xffffffffffffffffn;

/**
 * walkRes(): what the last walkLeaf read, as f64s (exact: physical addresses and entries' low bits stay
 * below 2^52): [0] levels read, [1] the leaf's size (0 when not mapped), [2] the root table's phys, then
 * for level i, [3 + 2i] the entry's bits 51..0 and [4 + 2i] its bits 63..52.
 */
export const WALK_RES_LEVELS = 0;
export const WALK_RES_SIZE = 1;
export const WALK_RES_ROOT = 2;
export const WALK_RES_ENTRIES = 3;

/** One pgmap lookup entry: pfns [startPfn, endPfn) resolve to the host's pgmap `pgmapId` (default -1) and its altmap `altmapId` (-1 for none). */
export interface LookupEntryInput {
  startPfn: number;
  endPfn: number;
  altmapId: number;
  pgmapId?: number;
}

export class CoreTrap extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoreTrap';
  }
}

export interface Core {
  readonly backend: 'wasm' | 'ts';

  /** Set up memory, the DRAM allocator over cfg.ramRanges and an empty root table (the first DRAM page, Purpose.PageTable). 0 or -ENOMEM. */
  init(cfg: CoreConfig): number;
  /** Free everything the core holds; the core is unusable afterwards. */
  dispose(): void;

  // ---- physical memory (assembly/physmem.ts) ----
  /** Bytes as the CPU would read them: backed frames, else fill patterns, else zero. */
  readPhys(phys: bigint, length: number): Uint8Array;
  /** Write bytes, backing frames as needed. 0 or -ENOMEM (budget; nothing written then). */
  writePhys(phys: bigint, data: Uint8Array): number;
  /** Bytes of host memory holding backed frames. */
  backedBytes(): number;
  /**
   * How many times the core ran out of host room so far: the budget, a Backing fault, the Wasm core's
   * linear memory or a full table. The host tells an -ENOMEM of the model's own from the kernel's by it.
   */
  hostFailures(): number;

  // ---- DRAM page allocator (assembly/pagealloc.ts) ----
  /**
   * The lowest-addressed free, naturally aligned block of 2^order pages inside one RAM range of the first
   * node of the zonelist that has one (setZonelist); pfn, or -ENOMEM. Its frames read as zero. Without
   * ALLOC_MOVABLE in `flags` (default 0) ZONE_MOVABLE ranges are skipped; with it a node's movable ranges
   * come first (its zonelist tries ZONE_MOVABLE before ZONE_NORMAL). -EINVAL for other flags.
   */
  allocPages(order: number, purpose: Purpose, flags?: number): number;
  /**
   * `count` allocPages(order, purpose, flags) calls at once, when they would return the contiguous blocks p,
   * p + 2^order, ..., p + (count - 1) * 2^order: takes them all and returns p. Otherwise -1 and nothing
   * changes (the caller loops), also while a fault is armed (each single call is then an attempt); -EINVAL
   * for an order outside 0..30, a count not an integer in 1..2^40, no purpose or bad flags. Its cost grows
   * with the GiB it spans.
   */
  allocPagesRun(order: number, count: number, purpose: Purpose, flags?: number): number;
  /**
   * Hot-add (add_memory + online_pages): RAM [startPfn, endPfn) of `node` joins the allocator, all free;
   * `movable` (ZONE_MOVABLE) serves only allocations with ALLOC_MOVABLE. The zonelist stays as set.
   * 0, or -EINVAL (an empty or invalid range, one overlapping a range the allocator holds, a bad node).
   */
  dramAddRange(startPfn: number, endPfn: number, node: number, movable: boolean): number;
  /** Hot-remove a range the allocator holds, exactly as added (or booted with): 0, -EINVAL (no such range), or -EBUSY when any page of it is in use (nothing changes). */
  dramRemoveRange(startPfn: number, endPfn: number): number;
  /**
   * `count` dramAddRange calls at once, in address order: [startPfn + i·stride, startPfn + i·stride + nrPages)
   * for i < count (a run of memory blocks onlined together; each stays a range of its own, so no allocation
   * spans two). All or nothing: 0, -EINVAL (bad arguments, nrPages > stride, or any range the allocator holds
   * inside [startPfn, last end)), -ENOMEM (host room). Cost: the ranges' records, one table move.
   */
  dramAddRanges(startPfn: number, nrPages: number, count: number, stride: number, node: number, movable: boolean): number;
  /** `count` dramRemoveRange calls at once, of ranges laid out as dramAddRanges adds them; all or nothing: 0, -EINVAL (not exactly those ranges), -EBUSY (a page of one in use). */
  dramRemoveRanges(startPfn: number, nrPages: number, count: number, stride: number): number;
  /** Bytes of host memory the DRAM allocator's own tables hold (not backed frames): grows with ranges and partly used GiB, not with RAM. */
  dramHostBytes(): number;
  /**
   * The zonelist every later DRAM allocation walks (allocPages and the core's own: page tables, vmemmap
   * blocks), until the next call: distinct node ids below the highest node + 1. After init: every node
   * id, ascending. 0, or -EINVAL (unchanged).
   */
  setZonelist(nodes: readonly number[]): number;
  /** Give a block back. 0, or -EFAULT (and a Bug event) when any page of it is not allocated DRAM; nothing changes then. Frees drop the frames' backing. */
  freePages(pfn: number, order: number, purpose: Purpose): number;
  dramStats(): DramStats;

  // ---- page tables (assembly/pgtable.ts) ----
  /** init_memory_mapping: map [startPfn, endPfn) at pageOffset + phys, 1 GiB / 2 MiB / 4 KiB leaves by alignment; existing leaves are kept, existing tables descended. 0 or -ENOMEM. */
  directMapAdd(startPfn: number, endPfn: number): number;
  /** kernel_physical_mapping_remove: clear the leaves inside the range, free tables left empty (PTE, PMD, PUD; P4D on 5-level). */
  directMapRemove(startPfn: number, endPfn: number): number;
  /** Walk a canonical virtual address; reports every level visited. */
  walk(va: bigint): CoreWalk;
  /** Batch walk (benchmarks, bulk inspection): out[i] = physical address of pfns[i]'s struct page, or -1 when not mapped. */
  vmemmapTranslate(pfns: Float64Array, out: Float64Array): void;
  /** The lean walk: the physical address va (any u64) maps to, or INSPECT_NONE / INSPECT_NOT_CANONICAL (as bigints); the levels in walkRes(). */
  walkLeaf(va: bigint): bigint;
  /** The levels of the last walkLeaf (WALK_RES_*), valid until the next call into the core. */
  walkRes(): Float64Array;
  /** Batch walk: out[i] = the physical address vas[i] maps to, or UNMAPPED. The index of the first non-canonical address (UNMAPPED too), or -1. */
  walkMany(vas: BigUint64Array, out: BigUint64Array): number;

  // ---- inspection: pfn_to_page, page_to_pfn, the pgmap lookup (assembly/vmemmap.ts, altmap.ts) ----
  /** pfn_to_page: VMEMMAP_START + 64 * pfn, modulo 2^64. */
  pfnToPage(pfn: number): bigint;
  /** page_to_pfn: the pfn whose struct page starts at va (any u64), or INSPECT_NOT_VMEMMAP / INSPECT_NOT_PAGE. */
  pageToPfn(va: bigint): number;
  /** find_dev_pagemap's lookup: the pgmap id (setAltmapLookup's pgmapId) of the entry covering pfn, or INSPECT_NONE. */
  pgmapAt(pfn: number): number;
  /** to_vmem_altmap: page_to_pfn of va, then pgmapAt; or page_to_pfn's code. */
  toVmemAltmap(va: bigint): number;
  /** toVmemAltmap for each address into out; the index of the first address with a code below INSPECT_NONE, or -1. */
  toVmemAltmapMany(vas: BigUint64Array, out: Int32Array): number;
  /** The struct pages of pfns [startPfn, +count): words[8i..8i+7] (zero when unmapped) and mapped[i] (1 when its vmemmap is mapped). */
  readPages(startPfn: number, count: number, words: BigUint64Array, mapped: Uint8Array): void;

  // ---- vmem_altmap (assembly/altmap.ts) ----
  /** A new altmap with these fields; returns its id (>= 0) or -ENOMEM. */
  altmapCreate(f: AltmapFields): number;
  altmapRelease(id: number): void;
  altmapRead(id: number): AltmapFields;
  altmapWrite(id: number, field: AltmapField, value: bigint): void;
  /** vmem_altmap_alloc: natural alignment of the physical pfn; pfn, or -1 on failure (no state change). */
  altmapAlloc(id: number, nrPfns: number): number;
  /** `count` altmapAlloc(id, nrPfns) calls in one go (a batch, as vmemmap_populate drives it); how many succeeded before the first failure. */
  altmapAllocMany(id: number, nrPfns: number, count: number): number;
  /** vmem_altmap_free: alloc -= nrPfns, modulo 2^64. */
  altmapFree(id: number, nrPfns: number): void;
  /**
   * The pgmap lookup (pgmap_radix / pgmap_array): pfn ranges [start, end) whose struct pages resolve to a
   * pgmap (the host's id) and its altmap (free_pagetable's to_vmem_altmap on v4.5). Replaces the previous table:
   * 0, or -ENOMEM (the table unchanged) past {@link LOOKUP_MAX} ranges ({@link lookupFits}).
   */
  setAltmapLookup(entries: LookupEntryInput[]): number;

  // ---- memory hot-plug (assembly/hotplug.ts) ----
  /**
   * memmap_on_memory's hot-add of `count` 128 MiB blocks from startPfn: what each block's arch_add_memory
   * with its own fresh altmap { base_pfn = the block, free = memmapPages } does (directMapAdd of the block,
   * then vmemmapPopulate of its struct pages from that altmap: one PMD leaf, the block's first 2 MiB), for
   * whole chunks of 512 blocks on a 64 GiB boundary with nothing mapped under their PUD entries yet, no
   * fault armed, no debug, pse. Returns the blocks added, each whole, from the first: 0 when the first
   * chunk cannot go at once; fewer than asked when a table allocation failed (the failing block is left
   * to the single calls, which meet the same failure). Each added block's altmap would end with alloc =
   * 512, align = 0 (the host keeps those fields). -EINVAL for arguments that are not integers >= 0.
   */
  addMemoryBlocks(startPfn: number, count: number, memmapPages: number): number;

  // ---- vmemmap (assembly/vmemmap.ts) ----
  /**
   * vmemmap_populate for the struct pages of pfns [startPfn, startPfn + nrPages): PMD steps,
   * tables from DRAM, 2 MiB blocks from the altmap (altmapId >= 0; no fallback) or DRAM (order 9;
   * on failure a Fallback event and 4 KiB pages), per `flags`. 0 or -ENOMEM (stops at the failing step).
   */
  vmemmapPopulate(startPfn: number, nrPages: number, altmapId: number, flags: number): number;
  /**
   * vmemmap_populate_compound_pages (v5.17+ compound devmaps, kernel.md §4.2) for the struct pages of
   * pfns [startPfn, startPfn + nrPages): compoundPages = pgmap_vmemmap_nr (a power of two > 2*64, e.g.
   * 512 or 262144); rangeStartPfn = the pgmap range's first pfn. 4 KiB PTEs only, pages and tables from
   * DRAM: per compound page a head and a tail vmemmap page, every further vmemmap page maps the tail page
   * (a section inside a compound page larger than 512 pfns reuses the previous section's tail page).
   * Reused pages are shared: vmemmapFree frees them with their last mapping. 0 or -ENOMEM (what was done
   * stays); -EINVAL for arguments outside that contract (docs/core.md; nothing changes then).
   */
  vmemmapPopulateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number;
  /**
   * vmemmap_free / remove_pagetable(direct=false) for the same span. `altmapId` LOOKUP_ALTMAP (-1):
   * every leaf goes back through the altmap lookup (v4.5's free_pagetable); NO_ALTMAP (-2) or an id:
   * the altmap is explicit (v4.16+): 2 MiB leaves go to that altmap (or DRAM), 4 KiB leaves to DRAM.
   * 0, or -EFAULT after a Bug event.
   */
  vmemmapFree(startPfn: number, nrPages: number, altmapId: number): number;
  /**
   * HVO (v5.14+, hugetlb_vmemmap_optimize_folio; kernel.md §4.2, T45): remap the vmemmap of a HugeTLB
   * page's struct pages [startPfn, startPfn + nrPages) so every vmemmap page after the first maps the
   * first (read-only), freeing their backing; PMD leaves in the way are split into PTE tables first.
   * Returns the number of vmemmap pages freed (7 for 2 MiB, 4095 for 1 GiB), or -ENOMEM (nothing
   * changes); -EINVAL for arguments outside the contract or an unmapped first vmemmap page; -EFAULT
   * after a Bug event (docs/core.md "vmemmapOptimizeHuge").
   */
  vmemmapOptimizeHuge(startPfn: number, nrPages: number): number;
  /**
   * Undo it (hugetlb_vmemmap_restore_folio): give each remapped vmemmap page a fresh DRAM page holding
   * a copy of what it showed, mapped read-write; the PTE tables stay split. Returns the pages allocated,
   * or -ENOMEM (nothing changes then); -EINVAL as for vmemmapOptimizeHuge.
   */
  vmemmapRestoreHuge(startPfn: number, nrPages: number): number;

  // ---- memmap (assembly/memmap.ts) ----
  /** memset of the struct pages of [startPfn, +nrPages) to zero (sparse_add_one_section). Pages with no vmemmap mapping are skipped. 0 or -ENOMEM. */
  memmapZero(startPfn: number, nrPages: number): number;
  /** memmap_init_zone: each page gets zone, node, PG_reserved, _count 1, _mapcount -1, lru pointing at itself. 0 or -ENOMEM. */
  memmapInit(startPfn: number, nrPages: number, zone: number, nid: number): number;
  /** The F loop after arch_add_memory: page->pgmap = pgmap, lru.prev = LIST_POISON2. 0 or -ENOMEM. */
  memmapSetPgmap(startPfn: number, nrPages: number, pgmap: bigint): number;
  /** Store an op the host drew (a later era's struct page layout, src/core/structPage.ts) into the struct pages of [startPfn, +nrPages). 0 or -ENOMEM. */
  memmapWrite(startPfn: number, nrPages: number, op: MemmapOp): number;
  /**
   * memmapWrite(pfn, min(count, endPfn - pfn), op) for pfn = startPfn, startPfn + step, ... below endPfn,
   * stopping at the first failure (memmap_init_zone_device's compound pages that share their vmemmap:
   * the head and first tail pages of each, in one call). 0, -ENOMEM, or -EINVAL (nothing changes) unless
   * all are integers with 1 <= count <= step and startPfn <= endPfn <= 2^40.
   */
  memmapWriteEvery(startPfn: number, endPfn: number, step: number, count: number, op: MemmapOp): number;
  /** The 8 words of pfn's struct page, or null when its vmemmap is not mapped. */
  readPage(pfn: number): BigUint64Array | null;

  // ---- events and faults ----
  /** Events since the last call, oldest first. */
  takeEvents(): CoreEvent[];
  /** Fail the nth next allocation of `kind` (1 = the very next); 0 disarms. */
  setFault(kind: FaultKind, nth: number): void;
}

/** One memmap op: the 8 words of a struct page, which of them it writes, and which hold an offset from the page's own vmemmap address (list heads pointing at themselves). */
export interface MemmapOp {
  words: readonly bigint[];
  /** Bit w: word w is written. */
  mask: number;
  /** Bit w: word w is words[w] + the struct page's vaddr. */
  self: number;
}
