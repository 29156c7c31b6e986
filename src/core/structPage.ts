/**
 * struct page (64 bytes, x86-64) per era, and its decoding: the one drawing of the layouts. The v4.5
 * layout (production config of the time) is also the core's own memmapInit/memmapSetPgmap op (the
 * Wasm core exports its copies of these constants; test/core/abi.test.ts holds them to these). The
 * 6.x layouts (Debian's config; include/linux/mm_types.h and page-flags.h of 6.1 and 6.12) are drawn
 * here only and reach the core as memmapWrite ops. v4.5:
 *
 *   word 0  flags: node << 58 | zone << 55 | PG_reserved (bit 10)   NODES_SHIFT 6, ZONES_SHIFT 3
 *   word 1  mapping
 *   word 2  index
 *   word 3  _mapcount (low 32 bits, -1 when unmapped) | _count (high 32 bits)
 *   word 4  lru.next  / pgmap (ZONE_DEVICE pages: the union member the F loop writes)
 *   word 5  lru.prev                 (LIST_POISON2 once the pgmap is set)
 *   word 6  private
 *   word 7  mem_cgroup
 */
export const STRUCT_PAGE_SIZE = 64;
export const NODES_PGSHIFT = 58n;
export const ZONES_PGSHIFT = 55n;
export const PG_RESERVED = 10n;
/** LIST_POISON2 = 0x200 + POISON_POINTER_DELTA (x86-64). */
export const LIST_POISON2 = 0xdead000000000200n;

/** Zones in v4.5 order (CONFIG_ZONE_DMA, DMA32, no HIGHMEM, MOVABLE, DEVICE). */
export const ZONES = ['DMA', 'DMA32', 'Normal', 'Movable', 'Device'] as const;
export type ZoneName = (typeof ZONES)[number];
export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_MOVABLE = 3;
export const ZONE_DEVICE = 4;

/**
 * A struct page layout (include/linux/mm_types.h, page-flags.h, page-flags-layout.h). 6.12 and 6.1 with
 * Debian's config (NODES_SHIFT 10, ZONES_SHIFT 3, LAST_CPUPID 21 bits in flags; fixtures sp-* on both):
 *
 *   word 0  flags: node << 54 | zone << 51 | lastcpupid 0x1fffff << 30 | PG_ bits
 *           (PG_reserved 13, PG_head 6 on 6.12; PG_reserved 12, PG_head 16 on 6.1);
 *           a folio's first tail keeps the order in its low byte (_flags_1, 6.12)
 *   word 1  lru.next / pgmap (ZONE_DEVICE) / compound_head (tails: head | 1)
 *   word 2  lru.prev / zone_device_data; first tail: _large_mapcount, _entire_mapcount (6.12) or
 *           _folio_dtor, _folio_order, _entire_mapcount (6.1)
 *   word 3  mapping (TAIL_MAPPING in tails); first tail: _nr_pages_mapped, _pincount (6.12) or
 *           _pincount, _folio_nr_pages (6.1)
 *   word 4  index; first tail: _folio_nr_pages (6.12)
 *   word 5  private
 *   word 6  _mapcount (low 32 bits, -1 when unmapped) | _refcount (high 32 bits)
 *   word 7  memcg_data
 */
export interface StructPageLayout {
  name: StructPageLayoutName;
  nodesPgShift: bigint;
  zonesPgShift: bigint;
  /** page_cpupid_reset_last's all-ones LAST_CPUPID field, in place (0: not in flags). */
  lastCpupid: bigint;
  pgReserved: bigint;
  pgHead: bigint;
  /** Word of lru.next (lru.prev follows). */
  lruWord: number;
  /** Word of _mapcount | _refcount. */
  countWord: number;
  /** Word of page->pgmap on ZONE_DEVICE pages. */
  pgmapWord: number;
  /** How a ZONE_DEVICE page's pgmap is told apart: v4.5's lru.prev poison, or 6.x's union member. */
  pgmapBy: 'poison' | 'union';
  /** The first tail's folio fields (null: no compound devmaps in this era). */
  folio: '6.1' | '6.12' | null;
}

export type StructPageLayoutName = 'v4.5' | 'v6.1' | 'v6.12';

/** TAIL_MAPPING = 0x400 + POISON_POINTER_DELTA (x86-64). */
export const TAIL_MAPPING = 0xdead000000000400n;
/** _mapcount -1 (low half), _refcount 1 (high half): init_page_count + page_mapcount_reset. */
const COUNT_ONE = 0x1_ffffffffn;
/** _mapcount -1, _refcount 0: a compound page's tails (set_page_count(page, 0)). */
const COUNT_ZERO = 0xffffffffn;

const V6_12: StructPageLayout = {
  name: 'v6.12',
  nodesPgShift: 54n,
  zonesPgShift: 51n,
  lastCpupid: 0x1fffffn << 30n,
  pgReserved: 13n,
  pgHead: 6n,
  lruWord: 1,
  countWord: 6,
  pgmapWord: 1,
  pgmapBy: 'union',
  folio: '6.12',
};

export const STRUCT_PAGE_LAYOUTS: Record<StructPageLayoutName, StructPageLayout> = {
  'v4.5': { name: 'v4.5', nodesPgShift: NODES_PGSHIFT, zonesPgShift: ZONES_PGSHIFT, lastCpupid: 0n, pgReserved: PG_RESERVED, pgHead: 14n, lruWord: 4, countWord: 3, pgmapWord: 4, pgmapBy: 'poison', folio: null },
  'v6.12': V6_12,
  'v6.1': { ...V6_12, name: 'v6.1', pgReserved: 12n, pgHead: 16n, folio: '6.1' },
};

/** One memmap op (the core's memmapWrite): words, which are written, which are self-relative. */
export interface PageOp {
  words: bigint[];
  mask: number;
  self: number;
}

/** set_page_links + PG_reserved: page->flags of a page memmap init has set up. */
export function pageFlags(l: StructPageLayout, zone: number, nid: number): bigint {
  return (BigInt(nid) << l.nodesPgShift) | (BigInt(zone) << l.zonesPgShift) | l.lastCpupid | (1n << l.pgReserved);
}

/** __init_single_page + __SetPageReserved: flags, _refcount 1, _mapcount -1, lru pointing at itself. */
export function initPageOp(l: StructPageLayout, zone: number, nid: number): PageOp {
  const words = new Array<bigint>(8).fill(0n);
  words[0] = pageFlags(l, zone, nid);
  words[l.countWord] = COUNT_ONE;
  words[l.lruWord] = words[l.lruWord + 1] = BigInt(8 * l.lruWord);
  return { words, mask: 0xff, self: (1 << l.lruWord) | (1 << (l.lruWord + 1)) };
}

/** v4.5's for_each_device_pfn loop: page->pgmap, lru.prev = LIST_POISON2, the other words kept. */
export function setPgmapOp(l: StructPageLayout, pgmap: bigint): PageOp {
  const words = new Array<bigint>(8).fill(0n);
  words[l.pgmapWord] = pgmap;
  words[l.pgmapWord + 1] = LIST_POISON2;
  return { words, mask: (1 << l.pgmapWord) | (1 << (l.pgmapWord + 1)), self: 0 };
}

/** __init_zone_device_page (6.x): an initialised page whose lru.next is page->pgmap and lru.prev zone_device_data (NULL). */
export function zoneDevicePageOp(l: StructPageLayout, zone: number, nid: number, pgmap: bigint, head = false): PageOp {
  const words = new Array<bigint>(8).fill(0n);
  words[0] = pageFlags(l, zone, nid) | (head ? 1n << l.pgHead : 0n);
  words[l.countWord] = COUNT_ONE;
  words[l.pgmapWord] = pgmap;
  return { words, mask: 0xff, self: 0 };
}

/** memmap_init_compound's tails: __init_zone_device_page, prep_compound_tail (compound_head, TAIL_MAPPING), _refcount 0. */
export function compoundTailOp(l: StructPageLayout, zone: number, nid: number, headVaddr: bigint): PageOp {
  const words = new Array<bigint>(8).fill(0n);
  words[0] = pageFlags(l, zone, nid);
  words[1] = headVaddr | 1n;
  words[3] = TAIL_MAPPING;
  words[l.countWord] = COUNT_ZERO;
  return { words, mask: 0xff, self: 0 };
}

/** The first tail after prep_compound_head: the folio's order, mapcounts and nr_pages over the tail. */
export function compoundFirstTailOp(l: StructPageLayout, zone: number, nid: number, headVaddr: bigint, order: number): PageOp {
  const op = compoundTailOp(l, zone, nid, headVaddr);
  const nr = 1n << BigInt(order);
  if (l.folio === '6.12') {
    op.words[0] |= BigInt(order); // folio_set_order: _flags_1's low byte
    op.words[2] = 0xffffffff_ffffffffn; // _large_mapcount, _entire_mapcount = -1
    op.words[3] = 0n; // _nr_pages_mapped, _pincount
    op.words[4] = nr; // _folio_nr_pages
  } else {
    op.words[2] = (0xffffffffn << 32n) | (BigInt(order) << 8n) | 1n; // _folio_dtor COMPOUND_PAGE_DTOR, _folio_order, _entire_mapcount -1
    op.words[3] = nr << 32n; // _pincount 0, _folio_nr_pages
  }
  return op;
}

/** A struct page (include/linux/mm_types.h), decoded from its 8 words as dump_page() would show it. */
export interface StructPage {
  /** The page frame number it describes. */
  pfn: number;
  /** Where the struct page lives: its vmemmap address. */
  vaddr: bigint;
  /** memmap_init_zone has run on it (lru.prev is no longer zero). */
  initialised: boolean;
  /** page->flags, the raw word 0 (node, zone, PG_ bits). */
  flags: bigint;
  /** page_zonenum(), by name; null before memmap init. */
  zone: ZoneName | null;
  /** page_to_nid(): the node bits of flags. */
  node: number;
  /** PageReserved(): PG_reserved is set. */
  reserved: boolean;
  /** page_ref_count(): _count (v4.5's name for _refcount). */
  refcount: number;
  /** page_mapcount(): _mapcount + 1, 0 when unmapped. */
  mapcount: number;
  /** The dev_pagemap back-pointer, when set (ZONE_DEVICE pages after devm_memremap_pages). */
  pgmap: bigint | null;
  /** The 8 raw 64-bit words, word 0 (flags) first. */
  words: bigint[];
  /** PageHead(): the head of a compound page. */
  head: boolean;
  /** compound_head() of a tail page (the head's vmemmap address); null for heads and other pages. */
  compoundHead: bigint | null;
}

/** decodeStructPage's scratch: the words, and the same bytes as u32 halves (w.buffer would move a small array off the heap). */
const HALVES_BUFFER = new ArrayBuffer(64);
const HALVES64 = new BigUint64Array(HALVES_BUFFER);
const HALVES = new Uint32Array(HALVES_BUFFER);

/** Decode the 8 words of a struct page laid out as `l` (v4.5's by default). */
export function decodeStructPage(pfn: number, vaddr: bigint, w: BigUint64Array, l: StructPageLayout = STRUCT_PAGE_LAYOUTS['v4.5']): StructPage {
  // the bit fields read as u32 halves (numbers) of a copy: only the words themselves become bigints
  HALVES64.set(w.length === 8 ? w : w.subarray(0, 8));
  const h = HALVES;
  const c = 2 * l.countWord;
  const countLo = h[c];
  const countHi = h[c + 1];
  // v4.5: memmap init leaves lru.prev non-zero; 6.x: page_mapcount_reset leaves _mapcount -1
  const initialised = l.pgmapBy === 'poison' ? (h[10] | h[11]) !== 0 : countLo === 0xffffffff;
  const flagsLo = h[0];
  const flagsHi = h[1];
  const zone = initialised ? (ZONES[(flagsHi >>> Number(l.zonesPgShift - 32n)) & 7] ?? null) : null;
  const words = [w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!];
  const p = l.pgmapWord;
  const link = words[p]!;
  const tail = l.pgmapBy === 'union' && (h[2 * p] & 1) === 1;
  let pgmap: bigint | null = null;
  if (l.pgmapBy === 'poison') {
    // lru.prev === LIST_POISON2
    if (h[10] === 0x200 && h[11] === 0xdead0000) pgmap = words[4]!;
  } else if (zone === 'Device' && !tail && (h[2 * p] | h[2 * p + 1]) !== 0 && link !== vaddr + BigInt(8 * l.lruWord)) pgmap = link;
  return {
    pfn,
    vaddr,
    initialised,
    flags: words[0]!,
    zone,
    node: flagsHi >>> Number(l.nodesPgShift - 32n),
    reserved: ((flagsLo >>> Number(l.pgReserved)) & 1) === 1,
    refcount: countHi | 0,
    mapcount: (countLo | 0) + 1,
    pgmap,
    words,
    head: l.folio !== null && ((flagsLo >>> Number(l.pgHead)) & 1) === 1,
    compoundHead: tail ? link - 1n : null,
  };
}
