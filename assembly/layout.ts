/**
 * The linear-memory map of the core, drawn once. The core is the only owner of memory.grow: the host
 * creates the WebAssembly.Memory (tiny initial size, maximum 65536 pages) and never grows it. Regions
 * sit at fixed addresses and memory grows lazily to cover the highest byte actually used; pages that
 * are grown but never touched cost address space only, no resident memory. Nothing here ever reaches
 * 4 GiB: every growth goes through `ensureMemory` (state.ts), which fails (-> -ENOMEM), never traps.
 *
 *  address        region            size                          contents
 * ┌─────────────┬─────────────────┬────────────────────────────┬──────────────────────────────────────────┐
 * │ 0x0000_0000 │ (static data)   │ < 64 KiB                   │ AssemblyScript data segments (checked    │
 * │             │                 │                            │ against __heap_base at init)              │
 * │ 0x0001_0000 │ CTL             │ 4 KiB                      │ control block: event count, dropped      │
 * │             │                 │                            │ events, fault counters, memmap op words, │
 * │             │                 │                            │ DRAM pages by purpose, search hints      │
 * │ 0x0001_1000 │ RES             │ 4 KiB                      │ result block: walk, readPage, altmapRead, │
 * │             │                 │                            │ dramStats (host reads it)                │
 * │ 0x0001_2000 │ SCRATCH         │ 4 KiB                      │ one synthesised frame (partial reads);   │
 * │             │                 │                            │ walkMany's paging-structure cache        │
 * │ 0x0001_3000 │ LEAF_CACHE      │ 256 x 16 B                 │ frame-index leaf cache (key+1, leaf addr)│
 * │ 0x0001_4000 │ RADIX_ROOT      │ 4 KiB                      │ root node of the frame index             │
 * │ 0x0001_5000 │ SHARE_ROOT      │ 4 KiB                      │ root node of the share counts (shares.ts)│
 * │ 0x0002_0000 │ IO              │ 1 MiB                      │ host <-> core transfer: bytes of         │
 * │             │                 │                            │ readPhys/writePhys, RAM ranges, lookups  │
 * │ 0x0012_0000 │ ALTMAP_DIR      │ 1015808 x u32              │ pool slot + 1 of each chunk of the       │
 * │             │                 │                            │ struct vmem_altmap table (85 x 48 B a    │
 * │             │                 │                            │ 4 KiB slot: struct + in-use word), held  │
 * │             │                 │                            │ while an id in it is below the top        │
 * │ 0x0050_0000 │ NODE_COUNT      │ 2^20 x u16                 │ live entries per frame-index node, by    │
 * │             │                 │                            │ pool slot                                │
 * │ 0x0080_0000 │ LOOKUP          │ 2^20 x 24 B                │ altmap lookup: startPfn, endPfn, id      │
 * │ 0x0200_0000 │ EVENTS          │ 2^20 x 40 B                │ events of the current call (the host     │
 * │             │                 │                            │ drains them after every call)            │
 * │ 0x0480_0000 │ PATTERNS        │ 2^20 x 96 B                │ fill patterns, sorted by startPfn        │
 * │ 0x0A80_0000 │ STRIDES         │ 1024 x 120 B               │ strided fill patterns (strides.ts),      │
 * │             │                 │                            │ unsorted                                 │
 * │ 0x0A82_0000 │ DYN             │ set by init:               │                                          │
 * │             │  boot ranges    │   24 B per e820 RAM entry  │ start, end, node (staged by the host     │
 * │             │                 │                            │ before init)                             │
 * │             │  POOL           │   up to 4 GiB              │ 4 KiB slots: backed frames, frame-index  │
 * │             │                 │                            │ nodes (free list through word 0), and    │
 * │             │                 │                            │ the DRAM allocator's tables (below)      │
 * └─────────────┴─────────────────┴────────────────────────────┴──────────────────────────────────────────┘
 *
 * Frame index (physmem.ts): a 4-level radix tree over pfn bits 39..0 (10 bits a level, 1024 u32 entries =
 * one 4 KiB node; pool.ts treeLeaf). An entry holds pool slot + 1 (0 = absent); the leaf entry's slot is
 * the backed frame. Share counts (shares.ts): the same tree shape from SHARE_ROOT, whose leaves hold one
 * u32 count per pfn; nodes come from the pool and go back when they empty (NODE_COUNT counts live entries
 * of both trees).
 *
 * Records are @unmanaged classes next to their code (Range, Altmap, LookupEntry, Event, Pattern, Stride); each
 * file checks at compile time that its class fits the record size given here.
 *
 * DRAM allocator (pagealloc.ts), all in pool slots: the node table (MAX_NUMNODES x NODE_REC) and zonelist
 * (1024 x u32) from init; the range table (RANGE_REC a range, doubled when full); per range its chunk
 * records (8 B per 1 GiB: u32 free pages, u32 unit address; inside the range record for up to 2 GiB); per partly used GiB a unit of 9 contiguous
 * slots (32 KiB bitmap, 1 KiB of u16 free counts per 2 MiB), recycled through the allocator's own list.
 */

/** Frames at or above this pfn cannot be backed (the frame index covers pfn bits 39..0). */
export const MAX_FRAME: u64 = <u64>1 << 40;
export const MEMORY_LIMIT: u64 = <u64>1 << 32;

// ---- fixed regions ----
export const STATIC_END: usize = 0x0001_0000;

export const CTL: usize = 0x0001_0000;
export const CTL_EVENT_COUNT: usize = CTL + 0; // u32
export const CTL_EVENT_DROPPED: usize = CTL + 4; // u32
export const CTL_FAULTS: usize = CTL + 8; // FAULT_KINDS x u32, indexed by fault kind (abi.ts)
export const CTL_OP_WORDS: usize = CTL + 64; // 8 x u64: the words of the current memmap op (patterns.ts)
export const CTL_PURPOSE: usize = CTL + 128; // PURPOSES x i64: DRAM pages in use by purpose (abi.ts)
export const CTL_HINTS: usize = CTL + 256; // (unused: the hints are per node, in the node table)

export const RES: usize = 0x0001_1000;

export const SCRATCH: usize = 0x0001_2000;

export const LEAF_CACHE: usize = 0x0001_3000;
export const LEAF_CACHE_ENTRIES: usize = 256;

export const RADIX_ROOT: usize = 0x0001_4000;

/** Root node of the share-count tree (vmemmapPopulateCompound's reused pages). */
export const SHARE_ROOT: usize = 0x0001_5000;

export const IO: usize = 0x0002_0000;
export const IO_SIZE: usize = 0x0010_0000;

/** The DRAM allocator's range table (in pool slots): a record per RAM range (pagealloc.ts class Range). */
export const RANGE_REC: usize = 64;
/** Boot RAM ranges staged at DYN before init (pagealloc.ts class Staged): u64 start, end, node. */
export const STAGE_REC: usize = 24;
/** Pfns the DRAM allocator holds RAM below (core.ts DRAM_MAX_PFN): 52-bit physical addresses. */
export const DRAM_MAX_PFN: u64 = <u64>1 << 40;
/** Bytes per RAM range as the host stages it in IO: f64 start, end, node (pagealloc.ts RangeInput). */
export const RANGE_IO: usize = 24;
/** The node table (in pool slots, MAX_NUMNODES records): per node id, hints, pages and pages by purpose (pagealloc.ts). */
export const NODE_REC: usize = 576;

/** The altmap table grows by pool slots: ids are bounded by the pool (linear memory), not by a table size. */
export const ALTMAP_DIR: usize = 0x0012_0000;
export const ALTMAP_REC: usize = 48; // class Altmap (altmap.ts): struct vmem_altmap + in-use word
export const ALTMAP_PER_CHUNK: u32 = 4096 / <u32>ALTMAP_REC;
export const ALTMAP_DIR_MAX: u32 = (0x0050_0000 - <u32>ALTMAP_DIR) >> 2;

export const NODE_COUNT: usize = 0x0050_0000; // u16 per pool slot

export const LOOKUP: usize = 0x0080_0000;
export const LOOKUP_REC: usize = 24; // class LookupEntry (altmap.ts)
export const LOOKUP_MAX: u32 = 1 << 20;

export const EVENTS: usize = 0x0200_0000;
export const EVENT_REC: usize = 40; // class Event (state.ts); src/core/wasm.ts reads it
export const EVENT_MAX: u32 = 1 << 20;

export const PATTERNS: usize = 0x0480_0000;
export const PAT_REC: usize = 96; // class Pattern (patterns.ts)
export const PAT_MAX: u32 = 1 << 20;
/** Patterns kept free for frees (a discard may split one pattern in two); memmap ops stop short of them. */
export const PAT_HEADROOM: u32 = 4096;

export const STRIDES: usize = 0x0A80_0000;
export const STR_REC: usize = 120; // class Stride (strides.ts)
export const STR_MAX: u32 = 1024;
/** Records kept free for cuts (a cut may split one record in two); memmapWriteEvery stops short of them. */
export const STR_HEADROOM: u32 = 256;

export const DYN: usize = 0x0A82_0000;
