/**
 * memmap_on_memory's hot-add of 128 MiB memory blocks (mm/memory_hotplug.c create_altmaps_and_memory_blocks:
 * per block its own altmap, then arch_add_memory: init_memory_mapping, then vmemmap_populate from that
 * altmap), 512 blocks at once (docs/core.md "Memory blocks"). Each block's 2 MiB of vmemmap is one PMD leaf
 * that maps the block's own head, so the vmemmap PMD table of 512 blocks is one table pattern whose entries
 * lie 128 MiB apart, and the direct map's 64 PMD tables are run tables: a 2 PiB device is 32K chunks of a
 * few records, where block by block it is 2M backed direct-map tables.
 */
import { PURPOSE_DIRECT_MAP, PURPOSE_PAGE_TABLE } from './abi';
import { allocPagesRun } from './pagealloc';
import { PAT_HEADROOM, PAT_MAX } from './layout';
import { patCount } from './patterns';
import { entryAddr, findTable, kernelPhysicalMappingInit, LARGE_LEAF_BITS, NO_TABLE, popStatus, populateTo, setRunTable, TABLE_BITS } from './pgtable';
import { hostRoom, physRead64, physWrite64 } from './physmem';
import { cfgDebug, cfgPageOffset, cfgPse, cfgVmemmapStart, faultsArmed } from './state';

/** Pages of a 128 MiB block: its 32768 struct pages are 2 MiB of vmemmap, one PMD leaf. */
export const BLOCK_PAGES: u64 = 1 << 15;
/** Blocks a vmemmap PMD table maps (a chunk: 64 GiB of memory). */
const CHUNK_BLOCKS: u64 = 512;
/** Blocks a direct-map PMD table maps (1 GiB). */
const WINDOW_BLOCKS: u64 = 8;
const WINDOW_PAGES: u64 = BLOCK_PAGES * WINDOW_BLOCKS;

/**
 * The blocks of `count` from startPfn that addMemoryBlocks adds: as many whole chunks as may go at once, from
 * the first; 0 when the first block does not start one (the host adds those one by one).
 */
function chunkOk(pfn: u64): bool {
  if ((pfn & (BLOCK_PAGES * CHUNK_BLOCKS - 1)) != 0) return false;
  // no table yet under any of the chunk's PUD entries: each PMD table is fresh (blank) when populate allocates it
  const vmPud = findTable(cfgVmemmapStart + (pfn << 6), 30);
  if (vmPud != NO_TABLE && physRead64(entryAddr(vmPud, cfgVmemmapStart + (pfn << 6), 30)) != 0) return false;
  const dm0 = cfgPageOffset + (pfn << 12);
  const dmPud = findTable(dm0, 30);
  if (dmPud != NO_TABLE) {
    for (let w: u64 = 0; w < CHUNK_BLOCKS / WINDOW_BLOCKS; w++) if (physRead64(entryAddr(dmPud, dm0 + (w << 30), 30)) != 0) return false;
  }
  // the budget for the upper tables populate may back and the fix-ups of a failure; room for the patterns
  return hostRoom(8) && patCount + 256 <= PAT_MAX - PAT_HEADROOM;
}

/**
 * `count` blocks of 128 MiB from startPfn, each as one block's arch_add_memory with its own fresh altmap
 * { base = the block, free = memmapPages } does it (init_memory_mapping of the block, then vmemmap_populate
 * of its struct pages, whose one PMD leaf the altmap gives: the block's first 2 MiB), for whole chunks of
 * 512 blocks that start on a 64 GiB boundary with nothing mapped under their PUD entries yet, no fault
 * armed and no debug. The DRAM tables come in the order the single calls take them. Returns the blocks
 * added, each whole (0 when the first chunk cannot go at once: the host adds blocks one by one then); on a
 * failed table allocation the blocks before the failing one are added as the single calls would have, and
 * that one is left to the host, which meets the same failure. Each added block's altmap ends with alloc = 512.
 */
export function addMemoryBlocks(startPfn: u64, count: u64, memmapPages: u64): u64 {
  if (!cfgPse || cfgDebug || faultsArmed() || memmapPages < 512) return 0;
  let done: u64 = 0;
  while (count - done >= CHUNK_BLOCKS) {
    const pfn = startPfn + done * BLOCK_PAGES;
    if (!chunkOk(pfn)) break;
    const n = addChunk(pfn);
    done += n;
    if (n < CHUNK_BLOCKS) break;
  }
  return done;
}

/** n windows of 1 GiB from pfn wp, their PMD tables the n frames from `table`: one run pattern, else their entries; the windows mapped. */
function dmWindows(table: u64, wp: u64, n: u64): u64 {
  if (setRunTable(table, 21, wp << 12, LARGE_LEAF_BITS, n)) return n;
  for (let k: u64 = 0; k < n; k++) if (kernelPhysicalMappingInit(wp + k * WINDOW_PAGES, wp + (k + 1) * WINDOW_PAGES, 21) < 0) return k;
  return n;
}

/** One chunk of 512 blocks from pfn: the blocks added (512, or those before a failed table allocation). */
function addChunk(pfn: u64): u64 {
  let vm: u64 = 0;
  let windows: u64 = 0;
  // windows whose direct map is set, and the run of windows whose tables are consecutive frames, not yet set
  let done: u64 = 0;
  let runTable: u64 = 0;
  let runLen: u64 = 0;
  for (; windows < CHUNK_BLOCKS / WINDOW_BLOCKS; windows++) {
    const wp = pfn + windows * WINDOW_PAGES;
    // block 8w's init_memory_mapping: its PMD table (and any level above it) first
    const dm = populateTo(cfgPageOffset + (wp << 12), 21, PURPOSE_DIRECT_MAP);
    if (popStatus != 0) break;
    if (windows == 0) {
      // block 0's vmemmap_populate: the vmemmap's tables, after its direct map
      vm = populateTo(cfgVmemmapStart + (pfn << 6), 21, PURPOSE_PAGE_TABLE);
      if (popStatus != 0) {
        // block 0's direct map stays, as its arch_add_memory leaves it (its populate failed)
        kernelPhysicalMappingInit(pfn, pfn + BLOCK_PAGES, 21);
        return 0;
      }
    }
    if (runLen != 0 && dm == runTable + (runLen << 12)) {
      runLen++;
      continue;
    }
    if (runLen != 0) {
      const d = dmWindows(runTable, pfn + done * WINDOW_PAGES, runLen);
      done += d;
      if (d < runLen) {
        runLen = 0;
        break;
      }
    }
    runTable = dm;
    runLen = 1;
    if (windows == 0) {
      // windows 1..63 share window 0's PUD table (a 64 GiB chunk never crosses 512 GiB): their 63 PMD tables
      // as one allocPagesRun when the single populates would take one run, their entries stored at once
      const rest = CHUNK_BLOCKS / WINDOW_BLOCKS - 1;
      const first = allocPagesRun(0, rest, PURPOSE_DIRECT_MAP, 0);
      if (first < 0) continue;
      const pud = findTable(cfgPageOffset + (pfn << 12), 30);
      for (let w: u64 = 1; w <= rest; w++) physWrite64(entryAddr(pud, cfgPageOffset + ((pfn + w * WINDOW_PAGES) << 12), 30), ((<u64>first + w - 1) << 12) | TABLE_BITS);
      if (<u64>first << 12 == dm + 4096) runLen += rest;
      else {
        done += dmWindows(dm, pfn, 1);
        runTable = <u64>first << 12;
        runLen = rest;
      }
      windows = rest + 1;
      break;
    }
  }
  if (runLen != 0) done += dmWindows(runTable, pfn + done * WINDOW_PAGES, runLen);
  const blocks = done * WINDOW_BLOCKS;
  // entry i maps block i's head (its altmap's first 512 pages): 128 MiB apart
  if (blocks == CHUNK_BLOCKS && setRunTable(vm, 27, pfn << 12, LARGE_LEAF_BITS)) return blocks;
  for (let i: u64 = 0; i < blocks; i++) {
    if (!physWrite64(vm + (i << 3), ((pfn + i * BLOCK_PAGES) << 12) | LARGE_LEAF_BITS)) return i;
  }
  return blocks;
}
