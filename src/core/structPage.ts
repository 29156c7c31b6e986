/**
 * struct page (64 bytes, v4.5 x86-64 production config) as both backends lay it out, and its decoding:
 * the one drawing of the layout. assembly/memmap.ts and src/core/ts/memmap.ts write it with these
 * constants (the Wasm core exports its copies, and test/core/abi.test.ts holds them to these).
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
}

/** Decode the 8 words of a struct page. */
export function decodeStructPage(pfn: number, vaddr: bigint, w: BigUint64Array): StructPage {
  const initialised = w[5] !== 0n;
  const zoneIdx = Number((w[0] >> ZONES_PGSHIFT) & 7n);
  return {
    pfn,
    vaddr,
    initialised,
    flags: w[0],
    zone: initialised ? (ZONES[zoneIdx] ?? null) : null,
    node: Number(w[0] >> NODES_PGSHIFT),
    reserved: ((w[0] >> PG_RESERVED) & 1n) === 1n,
    refcount: Number(BigInt.asIntN(32, w[3] >> 32n)),
    mapcount: Number(BigInt.asIntN(32, w[3] & 0xffffffffn)) + 1,
    pgmap: w[5] === LIST_POISON2 ? w[4] : null,
    words: Array.from(w),
  };
}
