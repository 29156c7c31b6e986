/**
 * The exports of build/core.wasm: few, batch-shaped, errno-returning. src/core/wasm.ts is their only
 * caller and turns them into the Core interface (src/core/core.ts).
 *
 * Units: pfns, page counts and byte lengths are f64 (exact below 2^53, no BigInt on hot paths);
 * physical/virtual addresses, entries and altmap fields are i64 (BigInt on the host). Results that do
 * not fit a number go to RES (layout.ts); events to EVENTS, counted in CTL. No export traps on any input.
 *
 * Besides the functions, the module exports the ABI (abi.ts) and the struct page constants (memmap.ts)
 * as globals, which test/core/abi.test.ts compares with src/core/core.ts and src/core/structPage.ts.
 */
import { EBUSY, EINVAL, ENOMEM, PURPOSE_PAGE_TABLE } from './abi';
import * as altmap from './altmap';
import * as bench from './bench';
import * as hotplug from './hotplug';
import * as hvo from './hvo';
import { CTL, EVENTS, IO, IO_SIZE, LOOKUP, RANGE_IO, RES, STATIC_END } from './layout';
import * as memmap from './memmap';
import * as pagealloc from './pagealloc';
import { patCount } from './patterns';
import { strCount } from './strides';
import * as pgtable from './pgtable';
import { backedFrames, physReadToIo, physWriteFromIo, physWritePrepare, setHostLimit } from './physmem';
import { poolInit } from './pool';
import * as state from './state';
import * as vmemmap from './vmemmap';

export * from './abi';
export { LIST_POISON2, NODES_PGSHIFT, PG_RESERVED, STRUCT_PAGE_SIZE, ZONES_PGSHIFT } from './memmap';

/** f64 from the host -> u64, two's complement for negatives, saturating (never traps). */
@inline
function u(x: f64): u64 {
  return <u64><i64>x;
}

let booted = false;
let initialised = false;

// ---- layout for the host ----
/** Make the fixed regions below LOOKUP addressable (the host writes IO before init). 0 or -ENOMEM. */
export function boot(): i32 {
  if (__heap_base > STATIC_END) return ENOMEM;
  if (!state.ensureMemory(<u64>LOOKUP)) return ENOMEM;
  booted = true;
  return 0;
}
export function addrCtl(): usize {
  return CTL;
}
export function addrRes(): usize {
  return RES;
}
export function addrIo(): usize {
  return IO;
}
export function ioSize(): usize {
  return IO_SIZE;
}
export function addrEvents(): usize {
  return EVENTS;
}

/** Before init: n RAM ranges (f64 pairs [start, end) in IO) become ranges first.. of the machine. 0 or -ENOMEM. */
export function stageRanges(first: i32, n: i32): i32 {
  if (initialised) return EBUSY;
  if (!booted && boot() < 0) return ENOMEM;
  if (first < 0 || n < 0 || <usize>n * RANGE_IO > IO_SIZE) return EINVAL;
  return pagealloc.dramStageRanges(<u32>first, <u32>n);
}

/** init: config + the nRanges RAM ranges staged by stageRanges. 0, -ENOMEM, or -EINVAL for a bad config. */
export function init(
  levels: i32,
  pse: i32,
  gbpages: i32,
  eager: i32,
  debug: i32,
  vmemmapStart: i64,
  pageOffset: i64,
  hostMemoryLimit: f64,
  nRanges: i32,
): i32 {
  if (initialised) return EBUSY;
  if (!booted && boot() < 0) return ENOMEM;
  if (levels != 4 && levels != 5) return EINVAL;
  if ((vmemmapStart & 4095) != 0) return EINVAL;
  state.setConfig(<u32>levels, pse != 0, gbpages != 0, eager != 0, debug != 0, <u64>vmemmapStart, <u64>pageOffset);
  setHostLimit(hostMemoryLimit >= 1.8446744073709552e19 ? ~(<u64>0) : <u64>hostMemoryLimit);
  if (nRanges < 0) return EINVAL;
  poolInit(pagealloc.dramStagedEnd(<u32>nRanges));
  if (pagealloc.dramInit(<u32>nRanges) < 0) return ENOMEM;
  initialised = true;
  const root = pagealloc.allocPages(0, PURPOSE_PAGE_TABLE);
  if (root < 0) return ENOMEM;
  pgtable.setRoot(<u64>root << 12);
  return 0;
}

// ---- physical memory ----
/** len (<= IO size) bytes at phys into IO. */
export function readPhys(phys: i64, len: i32): void {
  if (len <= 0) return;
  physReadToIo(<u64>phys, <u32>min<i32>(len, <i32>IO_SIZE));
}
/** writePhys, part 1: budget for all frames of [phys, phys + len), then back them. 0 or -ENOMEM. */
export function writePhysPrepare(phys: i64, len: f64): i32 {
  return physWritePrepare(<u64>phys, u(len));
}
/** writePhys, part 2: len (<= IO size) bytes from IO to phys (prepared). */
export function writePhysChunk(phys: i64, len: i32): void {
  if (len <= 0) return;
  physWriteFromIo(<u64>phys, <u32>min<i32>(len, <i32>IO_SIZE));
}
/** Host-room failures so far (state.ts hostFailures). */
export function hostFailureCount(): f64 {
  return <f64>state.hostFailures;
}
export function backedBytes(): f64 {
  return <f64>(backedFrames << 12);
}
/** Diagnostic: strided fill patterns held (strides.ts; memmap_on_memory's blocks must keep this O(1)). */
export function strideCount(): i32 {
  return <i32>strCount;
}

/** Diagnostic: fill patterns held (sequential memmap runs must keep this O(1)). */
export function patternCount(): i32 {
  return <i32>patCount;
}

// ---- DRAM page allocator ----
export function allocPages(order: i32, purpose: i32, flags: i32): f64 {
  return <f64>pagealloc.allocPages(order, purpose, <u32>flags);
}
/** allocPagesRun: p, -1 (not one run; nothing changed) or -EINVAL. */
export function allocPagesRun(order: i32, count: f64, purpose: i32, flags: i32): f64 {
  if (!(count >= 1 && count <= 1.8446744073709552e19)) return EINVAL;
  return <f64>pagealloc.allocPagesRun(order, u(count), purpose, <u32>flags);
}
/** Hot-add RAM [startPfn, endPfn) of node nid (movable: ZONE_MOVABLE). 0, -EINVAL or -ENOMEM. */
export function dramAddRange(startPfn: f64, endPfn: f64, nid: i32, movable: i32): i32 {
  if (!(startPfn >= 0 && endPfn > startPfn && endPfn <= 1.8446744073709552e19) || nid < 0) return EINVAL;
  return pagealloc.dramAddRange(u(startPfn), u(endPfn), <u32>nid, <u32>movable);
}
/** Hot-remove exactly the range [startPfn, endPfn). 0, -EINVAL or -EBUSY. */
export function dramRemoveRange(startPfn: f64, endPfn: f64): i32 {
  if (!(startPfn >= 0 && endPfn > startPfn && endPfn <= 1.8446744073709552e19)) return EINVAL;
  return pagealloc.dramRemoveRange(u(startPfn), u(endPfn));
}
/** Hot-add count ranges [startPfn + i * stride, + nrPages) of node nid at once. 0, -EINVAL or -ENOMEM. */
export function dramAddRanges(startPfn: f64, nrPages: f64, count: f64, stride: f64, nid: i32, movable: i32): i32 {
  if (!(startPfn >= 0 && nrPages >= 1 && count >= 1 && stride >= nrPages && stride <= 1.8446744073709552e19 && startPfn <= 1.8446744073709552e19 && count <= 1.8446744073709552e19) || nid < 0) return EINVAL;
  return pagealloc.dramAddRanges(u(startPfn), u(nrPages), u(count), u(stride), <u32>nid, <u32>movable);
}
/** Hot-remove count ranges [startPfn + i * stride, + nrPages), each exactly as held. 0, -EINVAL or -EBUSY. */
export function dramRemoveRanges(startPfn: f64, nrPages: f64, count: f64, stride: f64): i32 {
  if (!(startPfn >= 0 && nrPages >= 1 && count >= 1 && stride >= nrPages && stride <= 1.8446744073709552e19 && startPfn <= 1.8446744073709552e19 && count <= 1.8446744073709552e19)) return EINVAL;
  return pagealloc.dramRemoveRanges(u(startPfn), u(nrPages), u(count), u(stride));
}
/** Bytes of host memory the DRAM allocator's tables hold. */
export function dramHostBytes(): f64 {
  return <f64>pagealloc.dramHostBytes();
}
export function freePages(pfn: f64, order: i32, purpose: i32): i32 {
  return pagealloc.freePages(u(pfn), order, purpose);
}
/** RES: f64 total, free, then pages in use for each purpose (PURPOSES of them). */
export function dramStats(): void {
  pagealloc.dramStatsToRes();
}
/** dramStats for node nid. */
export function dramNodeStats(nid: i32): void {
  pagealloc.dramNodeStatsToRes(<u32>max<i32>(nid, 0));
}
/** Node ids with a record (dramNodeStats answers for them). */
export function dramNodeCount(): i32 {
  return <i32>pagealloc.dramNodeCount();
}
/** The zonelist from now on: n node ids (u32) in IO. 0 or -EINVAL. */
export function setZonelist(n: i32): i32 {
  if (n < 0 || <usize>n * 4 > IO_SIZE) return EINVAL;
  return pagealloc.dramSetZonelist(<u32>n);
}

// ---- page tables ----
export function directMapAdd(startPfn: f64, endPfn: f64): i32 {
  return pgtable.initMemoryMapping(u(startPfn), u(endPfn));
}
export function directMapRemove(startPfn: f64, endPfn: f64): i32 {
  return pgtable.kernelPhysicalMappingRemove(u(startPfn), u(endPfn));
}
/** Walk into RES (layout in pgtable.ts walkToRes). */
export function walk(va: i64): void {
  pgtable.walkToRes(<u64>va);
}
/** Batch walk: n (<= IO size / 8) f64 pfns in IO become the phys of their struct pages, or -1. */
export function vmemmapTranslate(n: i32): void {
  if (n <= 0) return;
  memmap.translateIo(<u32>min<i32>(n, <i32>(IO_SIZE >> 3)));
}

// ---- inspection: the public API's hot path, one crossing per call or per batch ----
/** The lean walk: phys, INSPECT_NONE or INSPECT_NOT_CANONICAL; the levels in RES (pgtable.ts walkLeafToRes). */
export function walkLeaf(va: i64): i64 {
  return pgtable.walkLeafToRes(<u64>va);
}
/** Batch walk: n (<= IO size / 8) u64 addresses in IO become phys or all ones; the first non-canonical index, or -1. */
export function walkMany(n: i32): i32 {
  if (n <= 0) return -1;
  return pgtable.walkManyIo(<u32>min<i32>(n, <i32>(IO_SIZE >> 3)));
}
/** pfn_to_page */
export function pfnToPage(pfn: f64): i64 {
  return <i64>vmemmap.pfnToPage(u(pfn));
}
/** page_to_pfn: the pfn, INSPECT_NOT_VMEMMAP or INSPECT_NOT_PAGE. */
export function pageToPfn(va: i64): f64 {
  return <f64>vmemmap.pageToPfn(<u64>va);
}
/** find_dev_pagemap's lookup: the host's pgmap id covering pfn, or -1. */
export function pgmapAt(pfn: f64): i32 {
  if (!(pfn >= 0)) return -1;
  return altmap.lookupPgmap(u(pfn));
}
/** to_vmem_altmap: the pgmap id of the struct page at va, -1, or page_to_pfn's code. */
export function toVmemAltmap(va: i64): i32 {
  return vmemmap.toVmemAltmap(<u64>va);
}
/** n (<= IO size / 8) u64 struct page addresses in IO become i32 pgmap ids; the first bad index, or -1. */
export function toVmemAltmapMany(n: i32): i32 {
  if (n <= 0) return -1;
  return vmemmap.toVmemAltmapManyIo(<u32>min<i32>(n, <i32>(IO_SIZE >> 3)));
}
/** The struct pages of [startPfn, +n) into IO: 64 bytes each, then a mapped byte each (n <= IO size / 65). */
export function readPages(startPfn: f64, n: i32): void {
  if (n <= 0 || !(startPfn >= 0)) return;
  memmap.readPagesIo(u(startPfn), <u32>min<i32>(n, <i32>(IO_SIZE / 65)));
}

// ---- vmem_altmap ----
export function altmapCreate(base: i64, reserve: i64, free: i64, align: i64, alloc: i64): i32 {
  return altmap.altmapCreate(<u64>base, <u64>reserve, <u64>free, <u64>align, <u64>alloc);
}
export function altmapRelease(id: i32): void {
  altmap.altmapRelease(id);
}
/** RES: the fields as u64, in ALTMAP_FIELD order (base_pfn, reserve, free, align, alloc). */
export function altmapRead(id: i32): void {
  altmap.altmapReadToRes(id);
}
export function altmapWrite(id: i32, field: i32, value: i64): void {
  if (field < 0) return;
  altmap.altmapWrite(id, <u32>field, <u64>value);
}
/** pfn, or -1 on failure. */
export function altmapAllocPfns(id: i32, nrPfns: f64): f64 {
  const pfn = altmap.altmapAlloc(id, u(nrPfns));
  return pfn == altmap.ALTMAP_FAIL ? -1 : <f64>pfn;
}
/** `count` vmem_altmap_alloc(nrPfns) calls in a row; how many succeeded before the first failure. */
export function altmapAllocMany(id: i32, nrPfns: f64, count: f64): f64 {
  const n = u(nrPfns);
  const c = u(count);
  for (let i: u64 = 0; i < c; i++) if (altmap.altmapAlloc(id, n) == altmap.ALTMAP_FAIL) return <f64>i;
  return <f64>c;
}
export function altmapFree(id: i32, nrPfns: f64): void {
  altmap.altmapFree(id, u(nrPfns));
}
export function lookupReset(): void {
  altmap.lookupReset();
}
/** n entries (f64 quadruples startPfn, endPfn, altmap id, pgmap id) from IO. 0 or -ENOMEM. */
export function lookupAppend(n: i32): i32 {
  if (n <= 0) return 0;
  return altmap.lookupAppend(<u32>min<i32>(n, <i32>(IO_SIZE / altmap.LOOKUP_INPUT)));
}
export function lookupCommit(): void {
  altmap.lookupCommit();
}

// ---- memory hot-plug ----
/** memmap_on_memory's arch_add_memory of `count` 128 MiB blocks from startPfn, whole chunks at once: the blocks added (0 or more), or -EINVAL. */
export function addMemoryBlocks(startPfn: f64, count: f64, memmapPages: f64): f64 {
  if (!(startPfn >= 0 && startPfn <= 1.8446744073709552e19 && count >= 0 && count <= 1.8446744073709552e19 && memmapPages >= 0 && memmapPages <= 1.8446744073709552e19)) return EINVAL;
  return <f64>hotplug.addMemoryBlocks(u(startPfn), u(count), u(memmapPages));
}

// ---- vmemmap ----
export function vmemmapPopulate(startPfn: f64, nrPages: f64, altmapId: i32, flags: i32): i32 {
  return vmemmap.vmemmapPopulate(u(startPfn), u(nrPages), altmapId, <u32>flags);
}
/**
 * vmemmap_populate_compound_pages (v5.17+ compound devmaps): the whole span in one call, DRAM only.
 * 0, -ENOMEM, or -EINVAL for arguments outside the contract (docs/core.md; nothing changes then).
 */
export function vmemmapPopulateCompound(startPfn: f64, nrPages: f64, compoundPages: f64, rangeStartPfn: f64): i32 {
  const bad = vmemmap.compoundArgsBad(startPfn, nrPages, compoundPages, rangeStartPfn);
  if (bad < 0) return bad;
  return vmemmap.vmemmapPopulateCompound(u(startPfn), u(nrPages), u(compoundPages), u(rangeStartPfn));
}
/**
 * HVO (hugetlb_vmemmap_optimize_folio): remap the vmemmap of a HugeTLB page's struct pages onto its
 * first vmemmap page, read-only. Pages freed, -ENOMEM, -EINVAL (docs/core.md), or -EFAULT after a Bug.
 */
export function vmemmapOptimizeHuge(startPfn: f64, nrPages: f64): i32 {
  const bad = hvo.hugeArgsBad(startPfn, nrPages);
  if (bad < 0) return bad;
  return hvo.vmemmapOptimizeHuge(u(startPfn), u(nrPages));
}
/** HVO undone (hugetlb_vmemmap_restore_folio): pages allocated, -ENOMEM (nothing changes) or -EINVAL. */
export function vmemmapRestoreHuge(startPfn: f64, nrPages: f64): i32 {
  const bad = hvo.hugeArgsBad(startPfn, nrPages);
  if (bad < 0) return bad;
  return hvo.vmemmapRestoreHuge(u(startPfn), u(nrPages));
}
/** altmapId: LOOKUP_ALTMAP = through the lookup table (v4.5), NO_ALTMAP, or that altmap (>= 0; v4.16+). */
export function vmemmapFree(startPfn: f64, nrPages: f64, altmapId: i32): i32 {
  return vmemmap.vmemmapFree(u(startPfn), u(nrPages), altmapId);
}

// ---- memmap ----
export function memmapZero(startPfn: f64, nrPages: f64): i32 {
  return memmap.memmapZero(u(startPfn), u(nrPages));
}
export function memmapInit(startPfn: f64, nrPages: f64, zone: i32, nid: i32): i32 {
  return memmap.memmapInit(u(startPfn), u(nrPages), <u32>zone, <u32>nid);
}
/** The 8 op words in IO (u64 each), then the op's mask and self-relative words. */
export function memmapWrite(startPfn: f64, nrPages: f64, mask: i32, self: i32): i32 {
  memmap.memmapOpFromIo();
  return memmap.memmapWrite(u(startPfn), u(nrPages), <u32>mask, <u32>self);
}
/** memmapWrite every `step` pfns (the host checked the arguments); the op as memmapWrite's. */
export function memmapWriteEvery(startPfn: f64, endPfn: f64, step: f64, count: f64, mask: i32, self: i32): i32 {
  memmap.memmapOpFromIo();
  return memmap.memmapWriteEvery(u(startPfn), u(endPfn), u(step), u(count), <u32>mask, <u32>self);
}
export function memmapSetPgmap(startPfn: f64, nrPages: f64, pgmap: i64): i32 {
  return memmap.memmapSetPgmap(u(startPfn), u(nrPages), <u64>pgmap);
}
/** 1 with the 8 words in RES, or 0 when the vmemmap of pfn is not mapped. */
export function readPage(pfn: f64): i32 {
  return memmap.readPageToRes(u(pfn)) ? 1 : 0;
}

// ---- faults ----
export function setFault(kind: i32, nth: i32): void {
  state.setFault(<u32>kind, nth < 0 ? 0 : <u32>nth);
}

// ---- physical limits for the benchmarks (bench/), on a core that simulates nothing ----

/** memory.fill of `bytes` bytes: the bandwidth bound of struct page initialisation. 0, -EBUSY after init, -ENOMEM. */
export function benchFill(bytes: f64, value: i32): i32 {
  if (initialised) return EBUSY;
  return bench.benchFill(u(bytes), value);
}

/** Lay a random cycle of 8-byte links, one per 64-byte line, over `bytes` bytes. 0, -EBUSY after init, -ENOMEM. */
export function benchChaseSetup(bytes: f64, seed: i32): i32 {
  if (initialised) return EBUSY;
  return bench.benchChaseSetup(u(bytes), <u32>seed);
}

/** `walks` chains of `depth` dependent loads over the cycle: the latency bound of a page-table walk. */
export function benchChase(walks: f64, depth: i32): f64 {
  if (initialised) return -1;
  return bench.benchChase(u(walks), depth);
}
