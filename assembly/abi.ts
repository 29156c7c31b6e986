/**
 * The core's ABI: every value that crosses the Wasm/TS boundary as a number, mirrored from
 * src/core/core.ts (the one place it is defined). index.ts re-exports each constant as a Wasm global, and
 * test/core/abi.test.ts reads those globals from build/core.wasm and checks them, name for name, against
 * core.ts: a plain constant keeps its name (ENOMEM, NO_ALTMAP), an enum member becomes the enum's prefix
 * and the member in capitals (Purpose.PageTable -> PURPOSE_PAGE_TABLE, EventType.NoPseAltmap ->
 * EVENT_NO_PSE_ALTMAP), and ALTMAP_FIELDS[i] becomes ALTMAP_FIELD_<NAME> = i.
 *
 * Every assembly file takes these from here; none declares its own.
 */

// ---- errnos (core.ts ENOMEM ...): operations return 0 or one of these ----
export const ENOMEM: i32 = -12;
export const EFAULT: i32 = -14;
export const EBUSY: i32 = -16;
export const EINVAL: i32 = -22;

// ---- Purpose: who a DRAM page was allocated for (dramStats counts pages per purpose) ----
export const PURPOSE_PAGE_TABLE: i32 = 0;
export const PURPOSE_DIRECT_MAP: i32 = 1;
export const PURPOSE_MEMMAP: i32 = 2;
export const PURPOSE_SLAB: i32 = 3;
export const PURPOSE_HUGE_TLB: i32 = 4;
/** How many purposes there are (CTL_PURPOSE holds one counter each). */
export const PURPOSES: i32 = 5;

/** MAX_NUMNODES of Debian's x86-64 config (CONFIG_NODES_SHIFT=10): node ids are below it. */
export const MAX_NUMNODES: u32 = 1024;
/** allocPages flag: may come from ZONE_MOVABLE ranges (GFP_HIGHUSER_MOVABLE); without it they are skipped. */
export const ALLOC_MOVABLE: u32 = 1;

// ---- EventType: the type word of an event record (state.ts emit) ----
export const EVENT_FALLBACK: u32 = 1;
export const EVENT_NO_PSE_ALTMAP: u32 = 2;
export const EVENT_BUG: u32 = 3;
export const EVENT_ALTMAP_ALLOC: u32 = 4;
export const EVENT_PMD: u32 = 5;

// ---- FaultKind: fault injection points (setFault) ----
export const FAULT_DRAM_ALLOC: u32 = 0;
export const FAULT_ALTMAP_ALLOC: u32 = 1;
export const FAULT_BACKING: u32 = 2;
/** How many fault kinds there are (CTL_FAULTS holds one counter each). */
export const FAULT_KINDS: u32 = 3;

// ---- PopulateFlags: bit flags of vmemmapPopulate ----
export const POPULATE_BASE_PAGES: u32 = 1;
export const POPULATE_BASE_PAGES_USE_ALTMAP: u32 = 2;

// ---- altmap ids: vmemmapFree's altmapId besides an altmap's own id (>= 0) ----
/** Consult the lookup table (v4.5's free_pagetable). */
export const LOOKUP_ALTMAP: i32 = -1;
/** Explicitly no altmap (v4.16+ with map=mem). */
export const NO_ALTMAP: i32 = -2;

// ---- the fields of struct vmem_altmap, in core.ts ALTMAP_FIELDS order (altmapWrite's field, altmapRead's RES) ----
export const ALTMAP_FIELD_BASE_PFN: u32 = 0;
export const ALTMAP_FIELD_RESERVE: u32 = 1;
export const ALTMAP_FIELD_FREE: u32 = 2;
export const ALTMAP_FIELD_ALIGN: u32 = 3;
export const ALTMAP_FIELD_ALLOC: u32 = 4;
/** How many fields there are (ALTMAP_FIELDS.length). */
export const ALTMAP_FIELD_COUNT: u32 = 5;

// ---- inspection codes (core.ts INSPECT_*): what the inspection calls return besides an address, pfn or id ----
/** Not mapped (a walk), no pgmap (a lookup). */
export const INSPECT_NONE: i32 = -1;
/** The virtual address is not canonical for the paging mode. */
export const INSPECT_NOT_CANONICAL: i32 = -2;
/** page_to_pfn: the address is outside the vmemmap. */
export const INSPECT_NOT_VMEMMAP: i32 = -3;
/** page_to_pfn: the address is inside the vmemmap but not the start of a 64-byte struct page. */
export const INSPECT_NOT_PAGE: i32 = -4;

// ---- the f64 slots of walkLeaf's RES (core.ts WALK_RES_*; pgtable.ts walkLeafToRes) ----
export const WALK_RES_LEVELS: i32 = 0;
export const WALK_RES_SIZE: i32 = 1;
export const WALK_RES_ROOT: i32 = 2;
export const WALK_RES_ENTRIES: i32 = 3;
