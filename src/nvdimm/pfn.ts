/**
 * The pfn info-block arithmetic of the pmem "pfn" driver, per kernel era: where the data starts
 * (`dataoff`), how many pfns the device exposes, the start/end trims and the vmem_altmap handed to
 * devm_memremap_pages. Pure functions; nothing here touches the machine.
 *
 * Sources (semantics only): v4.5 `nd_pfn_init` / `nvdimm_namespace_attach_pfn` (the pre-image of
 * "libnvdimm, pmem: adjust for section collisions with 'System RAM'", 2016-03-03); v4.18
 * `drivers/nvdimm/pfn_devs.c` `nd_pfn_init` / `__nvdimm_setup_pfn` / `size_show`; v6.12
 * `nd_pfn_init` / `init_altmap_base` / `init_altmap_reserve`. See shared/spec/namespaces.md and
 * kernel.md §2.14.
 */

import { KernelError, invalid } from '../kernel/errno.ts';
import { PAGES_PER_SECTION as SPARSE_PAGES_PER_SECTION, SECTION_SIZE as SPARSE_SECTION_SIZE } from '../kernel/sparse.ts';

export type Era = 'v4.5-rc1' | 'v4.5' | 'v4.18' | 'v6';

export const ERAS: readonly Era[] = ['v4.5-rc1', 'v4.5', 'v4.18', 'v6'];

export type RegionIntersects = 'REGION_INTERSECTS' | 'REGION_DISJOINT' | 'REGION_MIXED';

export const PAGE_SIZE = 4096n;
export const SZ_8K = 8192n;
export const SZ_128K = 128n << 10n;
export const SZ_2M = 2n << 20n;
/** SECTION_SIZE (128 MiB on x86-64) and PAGES_PER_SECTION, as bigints for this file's arithmetic. */
export const SECTION_SIZE = SPARSE_SECTION_SIZE;
export const PAGES_PER_SECTION = BigInt(SPARSE_PAGES_PER_SECTION);
/** Sub-section (v5.3+): 2 MiB, 512 pfns; also memremap_compat_align() on x86. */
export const SUBSECTION_SIZE = SZ_2M;
export const PAGES_PER_SUBSECTION = SUBSECTION_SIZE / PAGE_SIZE;
/** The size of struct page the info block assumes (MAX_STRUCT_PAGE_SIZE in v6). */
export const STRUCT_PAGE_SIZE = 64n;
/** info_block_reserve(): the 4 KiB left alone plus the 4 KiB info block, in pfns. */
export const INFO_BLOCK_PFNS = SZ_8K / PAGE_SIZE;

export interface PfnLayoutParams {
  era: Era;
  /** Physical start of the namespace (nsio->res.start). */
  start: bigint;
  /** Size of the namespace (resource_size(&nsio->res)). */
  raw: bigint;
  mode: 'fsdax' | 'devdax';
  /** dev = PFN_MODE_PMEM (memmap on the device), mem = PFN_MODE_RAM (memmap in DRAM). */
  map: 'dev' | 'mem';
  /** nd_pfn->align (ndctl's --align). */
  align: bigint;
  /** region_intersects(start, size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE); DISJOINT if omitted. */
  regionIntersects?: (start: bigint, size: bigint) => RegionIntersects;
  /** dev_name of the namespace, for the messages that print it; default "namespace0.0". */
  ndns?: string;
  /** v6.5+ (nvdimm/pfn_dev: prevent the creation of zero-sized namespaces): offset + end_trunc >= size is refused; 6.1 refuses only offset >= size. */
  refuseZeroSize?: boolean;
}

export interface PfnAltmap {
  basePfn: number;
  reserve: number;
  free: number;
}

export interface PfnLayout {
  /** dataoff: bytes from start + startPad to the first data page. */
  offset: bigint;
  /** npfns as the info block records it. */
  npfns: number;
  startPad: bigint;
  endTrunc: bigint;
  /** What ndctl reports as the namespace size (the pfn/dax device's size). */
  size: bigint;
  /** The vmem_altmap for map=dev; null for map=mem. */
  altmap: PfnAltmap | null;
  /** First data pfn: (start + startPad + offset) >> PAGE_SHIFT. */
  dataPfn: number;
  /** dev_info/dev_err texts nd_pfn_init logs, without the "nd_pfn pfn0.0: " prefix. */
  messages: string[];
}

/**
 * init_altmap_base / init_altmap_reserve: base_pfn rounded down to the hotplug granule (a section, or a
 * sub-section on v5.3+), the gap added to the 8 KiB reserve; free = the pool up to dataoff.
 */
function pfnAltmap(start: bigint, offset: bigint, granulePfns: bigint): PfnAltmap {
  const startPfn = start / PAGE_SIZE;
  const basePfn = alignDown(startPfn, granulePfns);
  return {
    basePfn: toPfnNumber(basePfn),
    reserve: toPfnNumber(INFO_BLOCK_PFNS + startPfn - basePfn),
    free: toPfnNumber((offset - SZ_8K) / PAGE_SIZE),
  };
}

/** roundup(x, a) for a power-of-two a (the kernel's ALIGN). */
export function alignUp(x: bigint, a: bigint): bigint {
  return ((x + a - 1n) / a) * a;
}

/** rounddown(x, a) (the kernel's ALIGN_DOWN). */
export function alignDown(x: bigint, a: bigint): bigint {
  return (x / a) * a;
}

/** PHYS_SECTION_ALIGN_DOWN(). */
export function physSectionAlignDown(phys: bigint): bigint {
  return alignDown(phys, SECTION_SIZE);
}

/** PHYS_SECTION_ALIGN_UP(). */
export function physSectionAlignUp(phys: bigint): bigint {
  return alignUp(phys, SECTION_SIZE);
}

/** PFN_SECTION_ALIGN_UP(): a pfn count rounded up to whole sections. */
export function pfnSectionAlignUp(pfns: bigint): bigint {
  return alignUp(pfns, PAGES_PER_SECTION);
}

function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

function toPfnNumber(v: bigint): number {
  return Number(v);
}

/** The kernel's "%#llx"/"%#lx": 0x-prefixed hex, and a bare "0" for zero. */
export function hexAlt(v: bigint): string {
  return v === 0n ? '0' : `0x${v.toString(16)}`;
}

/** The kernel's "%pa" for a 64-bit phys_addr_t: 0x plus 16 zero-padded hex digits. */
export function physAddrPa(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

/** Models v4.5 `init_altmap_base()`/`init_altmap_reserve()` (after d9cbe09; v4.5-rc1 used the start pfn as is). */
function altmapV45(era: Era, start: bigint, offset: bigint): PfnAltmap {
  const startPfn = start / PAGE_SIZE;
  const basePfn = era === 'v4.5-rc1' ? startPfn : alignDown(startPfn, PAGES_PER_SECTION);
  return {
    basePfn: toPfnNumber(basePfn),
    reserve: toPfnNumber(INFO_BLOCK_PFNS + startPfn - basePfn),
    free: toPfnNumber((offset - SZ_8K) / PAGE_SIZE),
  };
}

/** Models v4.5 `nd_pfn_init()` + `nvdimm_namespace_attach_pfn()` (v4.5-rc1 and v4.5 profiles). */
function pfnLayoutV45(p: PfnLayoutParams, ndns: string): PfnLayout {
  if (p.mode === 'devdax') {
    invalid(`mode devdax is not available on ${p.era}: device-dax arrived in v4.7`);
  }
  const npfns0 = (p.raw - SZ_8K) / PAGE_SIZE;
  const offset = p.map === 'dev' ? alignUp(SZ_8K + STRUCT_PAGE_SIZE * npfns0, p.align) : alignUp(SZ_8K, p.align);
  // v4.5's nd_pfn_init has no capacity check (npfns would wrap); the next nd_pfn_validate says this.
  if (offset > p.raw) {
    throw new KernelError('EBUSY', `pfn array size exceeds capacity of ${ndns}`);
  }
  const npfns = (p.raw - offset) / PAGE_SIZE;
  return {
    offset,
    npfns: toPfnNumber(npfns),
    startPad: 0n,
    endTrunc: 0n,
    size: npfns * PAGE_SIZE,
    altmap: p.map === 'dev' ? altmapV45(p.era, p.start, offset) : null,
    dataPfn: toPfnNumber((p.start + offset) / PAGE_SIZE),
    messages: [],
  };
}

/** Models v4.18 `nd_pfn_init()` (section-collision trim, section-rounded npfns) and `__nvdimm_setup_pfn()`. */
function pfnLayoutV418(p: PfnLayoutParams, ndns: string): PfnLayout {
  const intersects = p.regionIntersects ?? (() => 'REGION_DISJOINT' as const);
  const messages: string[] = [];
  const res = p.start;
  const raw = p.raw;

  let startPad = 0n;
  let endTrunc = 0n;
  // Does the section-aligned start share a section with System RAM?
  if (intersects(physSectionAlignDown(res), raw) === 'REGION_MIXED') {
    startPad = physSectionAlignUp(res) - res;
  }
  // Does the section-aligned end?
  if (intersects(res, physSectionAlignUp(res + raw) - res) === 'REGION_MIXED') {
    endTrunc = res + raw - physSectionAlignDown(res + raw);
  }
  if (startPad + endTrunc > 0n) {
    messages.push(`${ndns} section collision, truncate ${startPad + endTrunc} bytes`);
  }

  const unableToAlign = (): never => {
    throw new KernelError('ENXIO', `${ndns} unable to satisfy requested alignment`);
  };
  const start = res + startPad;
  const labelReserve = p.mode === 'devdax' ? SZ_128K : 0n;
  // (size - start_pad - end_trunc - SZ_8K) is unsigned in the kernel: an underflow ends in the same -ENXIO.
  if (raw - startPad - endTrunc < SZ_8K) unableToAlign();
  const npfns0 = pfnSectionAlignUp((raw - startPad - endTrunc - SZ_8K) / PAGE_SIZE);
  const offset =
    p.map === 'dev'
      ? alignUp(start + SZ_8K + STRUCT_PAGE_SIZE * npfns0 + labelReserve, p.align > SZ_2M ? p.align : SZ_2M) - start
      : alignUp(start + SZ_8K + labelReserve, p.align) - start;
  if (offset + startPad + endTrunc >= raw) unableToAlign();

  const npfns = (raw - offset - startPad - endTrunc) / PAGE_SIZE;
  const altmap = p.map === 'dev' ? pfnAltmap(start, offset, PAGES_PER_SECTION) : null;
  return {
    offset,
    npfns: toPfnNumber(npfns),
    startPad,
    endTrunc,
    // size_show: resource_size - start_pad - end_trunc - dataoff
    size: raw - startPad - endTrunc - offset,
    altmap,
    dataPfn: toPfnNumber((start + offset) / PAGE_SIZE),
    messages,
  };
}

/** Models v6.12 `nd_pfn_init()` (sub-section era: compat alignment, end_trunc, no label reserve) and `__nvdimm_setup_pfn()`. */
function pfnLayoutV6(p: PfnLayoutParams, ndns: string): PfnLayout {
  const start = p.start;
  const raw = p.raw;
  if (start % SUBSECTION_SIZE !== 0n) {
    throw new KernelError('EINVAL', `${ndns}: start ${physAddrPa(start)} misaligned to ${hexAlt(SUBSECTION_SIZE)}`);
  }
  const unableToAlign = (): never => {
    throw new KernelError('ENXIO', `${ndns} unable to satisfy requested alignment`);
  };
  const npfns0 = (raw - SZ_8K) / PAGE_SIZE;
  const align = p.align > SUBSECTION_SIZE ? p.align : SUBSECTION_SIZE;
  const endTrunc = start + raw - alignDown(start + raw, align);
  // The kernel computes size - end_trunc unsigned; an end_trunc of the whole namespace leaves nothing.
  if (endTrunc >= raw) unableToAlign();
  const offset =
    p.map === 'dev'
      ? alignUp(start + SZ_8K + STRUCT_PAGE_SIZE * npfns0, align) - start
      : alignUp(start + SZ_8K, align) - start;
  if (offset >= raw - endTrunc && (p.refuseZeroSize ?? true)) unableToAlign();
  // 6.1: offset == size - end_trunc gives a zero-sized device (fixture a1G-offset-fsdax-dev-1G on 6.1.192);
  // beyond it the kernel's unsigned npfns would wrap, which no recording shows: refused here too
  if (offset >= raw || offset > raw - endTrunc) unableToAlign();

  const npfns = (raw - offset - endTrunc) / PAGE_SIZE;
  const altmap = p.map === 'dev' ? pfnAltmap(start, offset, PAGES_PER_SUBSECTION) : null;
  return {
    offset,
    npfns: toPfnNumber(npfns),
    startPad: 0n,
    endTrunc,
    size: npfns * PAGE_SIZE,
    altmap,
    dataPfn: toPfnNumber((start + offset) / PAGE_SIZE),
    messages: [],
  };
}

/** Models `nd_pfn_init()` + the altmap setup of the era: the layout a fresh info block describes. */
export function pfnLayout(p: PfnLayoutParams): PfnLayout {
  if (!ERAS.includes(p.era)) invalid(`unknown era '${String(p.era)}'`);
  if (p.mode !== 'fsdax' && p.mode !== 'devdax') invalid(`mode must be fsdax or devdax, not '${String(p.mode)}'`);
  if (p.map !== 'dev' && p.map !== 'mem') invalid(`map must be dev or mem, not '${String(p.map)}'`);
  if (p.start < 0n || p.start % PAGE_SIZE !== 0n) invalid(`namespace start ${hexAlt(p.start)} is not page aligned`);
  if (p.raw <= SZ_8K || p.raw % PAGE_SIZE !== 0n) {
    invalid(`namespace size ${p.raw} must be a page multiple larger than the 8 KiB info-block prefix`);
  }
  if (!isPowerOfTwo(p.align) || p.align < PAGE_SIZE) invalid(`align ${hexAlt(p.align)} must be a power of two >= 4096`);
  const ndns = p.ndns ?? 'namespace0.0';
  switch (p.era) {
    case 'v4.5-rc1':
    case 'v4.5':
      return pfnLayoutV45(p, ndns);
    case 'v4.18':
      return pfnLayoutV418(p, ndns);
    case 'v6':
      return pfnLayoutV6(p, ndns);
  }
}
